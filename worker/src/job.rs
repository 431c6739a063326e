//! The sync job handler: claim the run named by the job and execute it. Run-level outcomes live in the
//! database, so the handler reports success to apalis whenever it handled the job, and apalis' own retries
//! never multiply attempts.

use std::sync::Arc;

use apalis::prelude::*;
use ferry_shared::queue::SyncJob;
use ferry_shared::runs::Claim;
use ferry_shared::sync::{SyncContext, execute, push};
use tracing::{Instrument, error, info, info_span, warn};

#[derive(Debug)]
pub(crate) struct WorkerState {
    pub sync: SyncContext,
    /// This worker's lease owner name.
    pub owner: String,
}

/// Runs the job on a task of its own. A panic there fails one run, not the worker (a panicked run's
/// lease is no longer renewed; it expires and the run is recovered). And when apalis drops this future
/// because its backend failed (Redis restarted), the run in hand still finishes and settles: that needs
/// only the database, so a Redis restart costs no attempt.
pub(crate) async fn sync(job: SyncJob, state: Data<Arc<WorkerState>>) -> Result<(), BoxDynError> {
    let span = info_span!("job", run_id = job.run_id, worker = %state.owner);
    match tokio::spawn(handle(job, state).instrument(span)).await {
        Ok(result) => result,
        Err(e) => {
            error!(run_id = job.run_id, error = %e, "run panicked");
            Ok(())
        }
    }
}

async fn handle(job: SyncJob, state: Data<Arc<WorkerState>>) -> Result<(), BoxDynError> {
    {
        match execute(&state.sync, job.run_id, &state.owner).await {
            Ok(Claim::Claimed(..)) => info!("run finished"),
            Ok(Claim::NotQueued) => info!("run is not queued (duplicate job); dropped"),
            Ok(Claim::NotYet(wait)) => {
                info!(
                    wait_ms = wait.as_millis() as u64,
                    "run not due yet; job pushed for its retry time"
                );
                push(&state.sync, job.run_id, Some(wait)).await;
            }
            Ok(Claim::Busy) => {
                info!("integration busy; job dropped, the running run's worker rings when it ends");
            }
            Err(e) => warn!(error = %e, "run could not be executed"),
        }
        Ok(())
    }
}
