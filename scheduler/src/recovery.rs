//! The leader's safety net (invariant 1's other half): runs whose worker died go back to the queue,
//! queued runs whose job was lost get it pushed again, and old history is pruned in the database and in
//! Redis (apalis never prunes its done set).

use std::time::Duration;

use ferry_shared::dispatch;
use ferry_shared::queue::SyncStorage;
use ferry_shared::runs::{self, Recovered};
use ferry_shared::settings::Settings;
use redis::AsyncCommands;
use sea_orm::DatabaseConnection;
use tracing::{info, warn};

/// How many done-set members one prune pass looks at, so a huge backlog cannot stall the leader.
const PRUNE_BATCH: isize = 5_000;

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
/// scans, finished jobs in Redis.
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
    let queue = match queue {
        SyncStorage::Redis(queue) => queue,
        SyncStorage::Sqlite(queue) => {
            let pruned = ferry_shared::queue::sqlite::prune(queue, jobs).await?;
            if pruned > 0 {
                info!(pruned, "old jobs pruned in the SQLite queue");
            }
            return Ok(());
        }
    };
    use apalis_core::backend::Vacuum;
    let vacuumed = queue.vacuum_before(jobs).await?;
    let config = queue.get_config().clone();
    let conn = queue.get_connection();
    // Members of the done set whose data `vacuum_before` removed are gone for good.
    let done: Vec<String> = conn
        .srandmember_multiple(config.done_jobs_set(), PRUNE_BATCH)
        .await?;
    let mut gone = Vec::new();
    for id in done {
        let exists: bool = conn.hexists(config.job_data_hash(), &id).await?;
        if !exists {
            gone.push(id);
        }
    }
    if !gone.is_empty() {
        let _: () = conn.srem(config.done_jobs_set(), &gone).await?;
    }
    if vacuumed > 0 || !gone.is_empty() {
        info!(
            vacuumed,
            done_pruned = gone.len(),
            "old jobs pruned in Redis"
        );
    }
    Ok(())
}
