//! The leader's safety net (invariant 1's other half): runs whose worker died go back to the queue,
//! queued runs whose job was lost get it pushed again, and old history is pruned in the database and in
//! the queue (apalis never prunes its finished jobs).

use std::time::Duration;

use ferry_shared::dispatch;
use ferry_shared::queue::{self, SyncStorage};
use ferry_shared::runs::{self, Recovered};
use ferry_shared::settings::Settings;
use sea_orm::DatabaseConnection;
use tracing::{info, warn};

/// One recovery pass.
pub async fn recover(
    db: &DatabaseConnection,
    queue: &mut SyncStorage,
    settings: &Settings,
) -> anyhow::Result<()> {
    for recovered in runs::recover_expired(db, settings.retry.max_attempts).await? {
        match recovered {
            Recovered::Requeued(run_id) => {
                info!(run_id, "worker lost; run re-queued at its checkpoint");
                dispatch::push(db, queue, run_id, None).await?;
            }
            Recovered::Failed(run_id) => warn!(run_id, "worker lost; run failed"),
            Recovered::Interrupted(run_id) => {
                info!(
                    run_id,
                    "worker lost; the queued run of its integration continues"
                )
            }
        }
    }
    for run_id in runs::lost_jobs(db, settings.scheduler.requeue_after()).await? {
        info!(run_id, "queued run's job re-pushed");
        dispatch::push(db, queue, run_id, None).await?;
    }
    Ok(())
}

/// Deletes history past its retention: finished runs that owe nothing in the database, abandoned key
/// scans, finished jobs in the queue.
pub async fn prune(
    db: &DatabaseConnection,
    queue: &mut SyncStorage,
    settings: &Settings,
) -> anyhow::Result<()> {
    let days = Duration::from_secs(settings.retention.runs_days * 86_400);
    let pruned = runs::prune(db, days).await?;
    if pruned > 0 {
        info!(pruned, "old runs deleted");
    }
    let swept = ferry_shared::sink::key_scan::sweep(db).await?;
    if swept > 0 {
        info!(
            swept,
            "key scans abandoned by a crashed reconcile or preview deleted"
        );
    }
    let jobs = Duration::from_secs(settings.retention.jobs_hours * 3_600);
    queue::prune(queue, jobs).await?;
    Ok(())
}
