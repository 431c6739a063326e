//! Starting a run: the row first, then the job (invariant 1). Every trigger — CLI, API, cron,
//! reconciler — goes through here.

use crate::queue::{self, QueueError, SyncStorage};
use crate::runs::{self, Enqueued, NewRun, RunError, Trigger};

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
    // A run joined by a person or a workflow may have been a waiting retry made due now: ring again.
    if enqueued.created || new.trigger != Trigger::Schedule {
        push(db, queue, enqueued.run_id).await?;
    }
    Ok(enqueued)
}

/// Pushes a run's job now and notes when.
pub async fn push(
    db: &sea_orm::DatabaseConnection,
    queue: &mut SyncStorage,
    run_id: i64,
) -> Result<(), DispatchError> {
    queue::push(queue, run_id, None).await?;
    runs::mark_pushed(db, run_id).await?;
    Ok(())
}
