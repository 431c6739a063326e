//! Starting a run: the row first, then the job (invariant 1). Every trigger — CLI, API, cron,
//! recovery — goes through here.
//!
//! The run row is the durable part: when the queue cannot be reached, the trigger still succeeds with
//! the run recorded and its dispatch pending, and the leader's recovery pass pushes the job once the queue
//! answers (`runs::lost_jobs`). So the CLI and the API give the same answer while Redis is down.

use std::time::Duration;

use crate::queue::{self, QueueError, SyncStorage};
use crate::runs::{self, NewRun, RunError};
use crate::settings::QueueSettings;

/// How long a trigger waits for the queue before it leaves the push to recovery.
const QUEUE_WITHIN: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// A trigger's answer: the run, and whether its job is in the queue yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dispatched {
    pub run_id: i64,
    /// False when the trigger coalesced into a run already queued (or already made for this tick).
    pub created: bool,
    /// Why the job is not in the queue yet, when it could not be pushed: the run is recorded and
    /// its job is pushed once the queue answers.
    pub pending: Option<String>,
}

/// Records the run (or finds the queued run it joins) and pushes its job on `queue`.
pub async fn dispatch(
    db: &sea_orm::DatabaseConnection,
    queue: &mut SyncStorage,
    new: &NewRun,
) -> Result<Dispatched, RunError> {
    let enqueued = runs::enqueue(db, new).await?;
    let pending = match enqueued.ring {
        true => ring(db, queue, enqueued.run_id).await,
        false => None,
    };
    Ok(Dispatched {
        run_id: enqueued.run_id,
        created: enqueued.created,
        pending,
    })
}

/// Like `dispatch`, connecting to the queue only once the run is recorded (one-shot commands), so a
/// queue that is down costs a bounded wait, never the run.
pub async fn dispatch_connecting(
    db: &sea_orm::DatabaseConnection,
    settings: &QueueSettings,
    heartbeat: Duration,
    new: &NewRun,
) -> Result<Dispatched, RunError> {
    let enqueued = runs::enqueue(db, new).await?;
    let pending = if enqueued.ring {
        match tokio::time::timeout(QUEUE_WITHIN, queue::storage(settings, heartbeat)).await {
            Ok(Ok(mut queue)) => ring(db, &mut queue, enqueued.run_id).await,
            Ok(Err(e)) => Some(unreachable(settings, &e.to_string())),
            Err(_) => Some(unreachable(settings, "no answer")),
        }
    } else {
        None
    };
    Ok(Dispatched {
        run_id: enqueued.run_id,
        created: enqueued.created,
        pending,
    })
}

/// Pushes the job of a recorded run; `Some(why)` when the queue did not take it in time.
async fn ring(
    db: &sea_orm::DatabaseConnection,
    queue: &mut SyncStorage,
    run_id: i64,
) -> Option<String> {
    match tokio::time::timeout(QUEUE_WITHIN, push(db, queue, run_id, None)).await {
        Ok(Ok(())) => None,
        Ok(Err(DispatchError::Run(e))) => Some(format!("recording the push failed: {e}")),
        Ok(Err(DispatchError::Queue(e))) => Some(e.to_string()),
        Err(_) => Some("the queue did not answer".into()),
    }
    .inspect(|why| tracing::warn!(run_id, reason = %why, "run recorded; its job is pushed once the queue answers"))
}

/// "queue host:port unreachable: why" — the address without any password.
fn unreachable(settings: &QueueSettings, why: &str) -> String {
    let place = url::Url::parse(&settings.url)
        .ok()
        .map(|u| {
            format!(
                "{}://{}:{}",
                u.scheme(),
                u.host_str().unwrap_or_default(),
                u.port().unwrap_or(6379)
            )
        })
        .unwrap_or_else(|| "the queue".into());
    format!("{place} unreachable: {why}")
}

/// Pushes a run's job, due after `delay`, and records the push: the one way a job enters the queue,
/// so the run row always knows when its last job is due (recovery's test for a lost one).
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
