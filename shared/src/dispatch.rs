//! Starting a run: the row first, then the job (invariant 1). Every trigger — CLI, API, cron,
//! reconciler — goes through here.

use crate::queue::{self, QueueError, SyncStorage};
use crate::runs::{self, Enqueued, NewRun, RunError};

#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// Records the run (or finds the queued run it joins) and pushes its job. A job lost here is re-pushed
/// by the reconciler, since the run row says it is still queued.
pub async fn dispatch(
    db: &sea_orm::DatabaseConnection,
    queue: &mut SyncStorage,
    new: &NewRun,
) -> Result<Enqueued, DispatchError> {
    let enqueued = runs::enqueue(db, new).await?;
    if enqueued.ring {
        push(db, queue, enqueued.run_id, None).await?;
    }
    Ok(enqueued)
}

/// Pushes a run's job, due after `delay`, and records the push: the one way a job enters the queue,
/// so the run row always knows when its last job is due (the reconciler's test for a lost one).
pub async fn push(
    db: &sea_orm::DatabaseConnection,
    queue: &mut SyncStorage,
    run_id: i64,
    delay: Option<std::time::Duration>,
) -> Result<(), DispatchError> {
    queue::push(queue, run_id, delay).await?;
    runs::mark_pushed(db, run_id, delay).await?;
    Ok(())
}
