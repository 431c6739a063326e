//! A run from claim to end: execute the import, then finish it, schedule a retry from the checkpoint,
//! or hand it back when the worker stops; finally report status back to a workflow's callback.

use std::time::Duration;

use sea_orm::DatabaseConnection;
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::error::SyncError;
use super::import::import;
use super::retry::backoff;
use crate::queue::SyncStorage;
use crate::runs::{self, Claim, HandedBack, Lease, Outcome, RunError, RunSummary};
use crate::secrets::Credentials;
use crate::settings::{RetrySettings, WorkerSettings};
use crate::sync::MetadataCache;

/// What a worker needs to execute runs; built once per process.
#[derive(Debug, Clone)]
pub struct SyncContext {
    pub db: DatabaseConnection,
    pub http: reqwest::Client,
    pub settings: WorkerSettings,
    pub retry: RetrySettings,
    /// For pushing the job of a run handed back or retried later.
    pub queue: SyncStorage,
    /// Cancelled when the worker is asked to stop: runs end after the page in hand.
    pub stopping: CancellationToken,
    /// Key for callback signatures (`api.callback_secret`); never the API token.
    pub callback_secret: Option<SecretString>,
    /// Stored client secrets and sign-ins, and the master key to open them.
    pub credentials: Credentials,
    /// `$metadata` per connection, for the drift check every run starts with.
    pub metadata: MetadataCache,
    /// How long a record may stay parked (`lookups.max_defer_hours`).
    pub max_defer: std::time::Duration,
    /// Every connection's request budget, shared with the other workers (`budget/`).
    pub budgets: crate::budget::Budgets,
}

/// Claims and executes run `run_id` as `owner`. Returns the claim's outcome: a duplicate job, or a run
/// of a busy integration, does nothing.
pub async fn execute(ctx: &SyncContext, run_id: i64, owner: &str) -> Result<Claim, RunError> {
    let mut laps = super::laps::Laps::start();
    let claim = runs::claim(&ctx.db, run_id, owner, ctx.settings.lease()).await?;
    laps.lap("claim");
    let Claim::Claimed(claimed) = &claim else {
        return Ok(claim);
    };
    let (lease, run) = &**claimed;
    let renewer = spawn_renewer(ctx.db.clone(), lease.clone());
    let result = match import(ctx, lease, run, true).await {
        // A first load by plain insert met a key already there: its last page rolled back, and it
        // goes on from its checkpoint by upsert, in the same attempt.
        Err(SyncError::KeyTaken) => {
            info!(
                run_id = lease.run_id,
                integration = %lease.integration,
                "a key was already in the target; writing by upsert"
            );
            import(ctx, lease, run, false).await
        }
        other => other,
    };
    drop(renewer);
    laps.lap("import");
    if settle(ctx, lease, run.attempt, result).await? == Settled::Ended {
        laps.lap("settle");
        // A run of the integration that waited behind this one had its job dropped: ring for it.
        if let Some((next, wait)) = runs::next_queued(&ctx.db, &lease.integration).await? {
            push(ctx, next, (!wait.is_zero()).then_some(wait)).await;
        }
        laps.lap("next_queued");
    }
    laps.log(run_id, "run phases");
    Ok(claim)
}

/// Where `settle` left the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Settled {
    /// Finished (or superseded): the integration is free.
    Ended,
    /// Queued again with its job pushed, or taken over by another claim: nothing more to do here.
    Elsewhere,
}

/// Turns the import's result into the run's next state.
async fn settle(
    ctx: &SyncContext,
    lease: &Lease,
    attempt: i32,
    result: Result<(), SyncError>,
) -> Result<Settled, RunError> {
    let error = match result {
        Ok(()) => {
            finish(ctx, lease, Outcome::Completed).await?;
            return Ok(Settled::Ended);
        }
        Err(SyncError::Run(RunError::LeaseLost(id))) => {
            warn!(run_id = id, "lease lost; another worker owns the run now");
            return Ok(Settled::Elsewhere);
        }
        Err(error) => error,
    };
    if let SyncError::Cancelled(by) = &error {
        info!(run_id = lease.run_id, by = %by, "run cancelled at a page boundary");
        let ended = runs::end_cancelled(&ctx.db, lease, by).await?;
        report(ctx, ended).await;
        return Ok(Settled::Ended);
    }
    if matches!(error, SyncError::Stopped) {
        info!(
            run_id = lease.run_id,
            "worker stopping; run handed back at its checkpoint"
        );
        return handed_back(ctx, lease, None, None).await;
    }
    if error.is_retriable() && attempt < ctx.retry.max_attempts {
        let wait = backoff(&ctx.retry, attempt, error.retry_after());
        warn!(run_id = lease.run_id, attempt, error = %error, wait_ms = wait.as_millis() as u64, "retrying run");
        let message = format!("attempt {attempt}: {error}");
        return handed_back(ctx, lease, Some(wait), Some(message)).await;
    }
    warn!(run_id = lease.run_id, attempt, error = %error, "run failed");
    let message = if error.is_retriable() {
        format!("{error} (gave up after {attempt} attempts)")
    } else {
        error.to_string()
    };
    finish(ctx, lease, Outcome::Failed(message)).await?;
    Ok(Settled::Ended)
}

/// Hands the run back to the queue, due after `retry_in`, and pushes its job.
async fn handed_back(
    ctx: &SyncContext,
    lease: &Lease,
    retry_in: Option<Duration>,
    error: Option<String>,
) -> Result<Settled, RunError> {
    match runs::hand_back(&ctx.db, lease, retry_in, error).await? {
        HandedBack::Requeued => {
            push(ctx, lease.run_id, retry_in).await;
            Ok(Settled::Elsewhere)
        }
        HandedBack::Superseded(_) => Ok(Settled::Ended),
    }
}

async fn finish(ctx: &SyncContext, lease: &Lease, outcome: Outcome) -> Result<(), RunError> {
    let finished = runs::finish(&ctx.db, lease, outcome).await?;
    report(ctx, finished).await;
    Ok(())
}

/// Reports a run that ended to the workflows that asked for it (each trigger's callback).
async fn report(ctx: &SyncContext, finished: crate::storage::entities::run::Model) {
    let summary = RunSummary::from(finished);
    crate::callback::deliver(&ctx.db, &ctx.http, &summary, ctx.callback_secret.as_ref()).await;
}

/// Pushes a run's job; if the push fails recovery re-pushes it, since the row says `queued`.
pub async fn push(ctx: &SyncContext, run_id: i64, delay: Option<Duration>) {
    let mut queue = ctx.queue.clone();
    if let Err(e) = crate::dispatch::push(&ctx.db, &mut queue, run_id, delay).await {
        warn!(run_id, error = %e, "push failed; recovery will re-push");
    }
}

/// The lease renewer, aborted when dropped: also when the run's future panics or is dropped unfinished
/// (a worker rebuilt after losing Redis). A run nobody executes must stop being renewed, so its lease
/// expires and recovery gives it to another worker instead of it staying `running` for ever.
struct Renewer(tokio::task::JoinHandle<()>);

impl Drop for Renewer {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Keeps the lease alive while a page is read or written, so a slow source does not look like a dead
/// worker.
fn spawn_renewer(db: DatabaseConnection, lease: Lease) -> Renewer {
    Renewer(tokio::spawn(async move {
        let every = (lease.duration / 3).max(Duration::from_millis(100));
        loop {
            tokio::time::sleep(every).await;
            if let Err(e) = runs::renew(&db, &lease).await {
                warn!(run_id = lease.run_id, error = %e, "lease renewal failed");
                if matches!(e, RunError::LeaseLost(_)) {
                    return;
                }
            }
        }
    }))
}
