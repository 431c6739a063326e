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

/// Jobs pushed at once by `dispatch_ticks`: Redis pipelines them over one connection.
const PUSHES_IN_FLIGHT: usize = 64;

/// What `dispatch_ticks` did with a batch of cron ticks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DispatchedTicks {
    /// New runs, by integration, with their run ids.
    pub created: Vec<runs::RecordedTick>,
    /// Runs recorded whose job did not go out: recovery pushes them once the queue answers.
    pub pending: usize,
}

/// `dispatch` for many cron ticks at once (a fleet's minute): the runs are recorded in a few
/// statements (`runs::enqueue_ticks`), and only then their jobs pushed, many in flight at once, and
/// the pushes recorded in one statement — invariant 1 as in `push`. A tick that joined a queued run, was
/// recorded before, or whose integration is not enabled creates no run and pushes nothing. After an
/// error the caller may retry every tick of the batch: one recorded already is not recorded again, and
/// its run, if its push went unrecorded, is pushed by recovery (`runs::lost_jobs`).
pub async fn dispatch_ticks(
    db: &sea_orm::DatabaseConnection,
    queue: &SyncStorage,
    ticks: &[(String, chrono::DateTime<chrono::Utc>)],
) -> Result<DispatchedTicks, RunError> {
    let created = runs::enqueue_ticks(db, ticks).await?;
    let mut outcomes = Vec::with_capacity(created.len());
    for chunk in created.chunks(PUSHES_IN_FLIGHT) {
        let mut pushes = Vec::with_capacity(chunk.len());
        for tick in chunk {
            pushes.push(push_now(queue.clone(), tick.run_id));
        }
        outcomes.extend(futures::future::join_all(pushes).await);
    }
    let pushed: Vec<i64> = outcomes
        .iter()
        .filter(|(_, pushed)| *pushed)
        .map(|(id, _)| *id)
        .collect();
    let pending = outcomes.len() - pushed.len();
    if pending > 0 {
        tracing::warn!(
            pending,
            "ticks recorded; their jobs are pushed once the queue answers"
        );
    }
    runs::mark_all_pushed(db, &pushed).await?;
    Ok(DispatchedTicks { created, pending })
}

/// Pushes a new run's job and says whether the queue took it in time (`dispatch_ticks`).
async fn push_now(mut queue: SyncStorage, run_id: i64) -> (i64, bool) {
    let pushed = tokio::time::timeout(QUEUE_WITHIN, queue::push(&mut queue, run_id, None)).await;
    (run_id, matches!(pushed, Ok(Ok(()))))
}
