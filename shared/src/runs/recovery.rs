//! What the reconciler does with runs the queue lost: re-push jobs of runs that stayed queued, and take
//! back runs whose worker died (its lease expired). Duplicated jobs are harmless (invariant 1).

use chrono::{DateTime, FixedOffset, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter};

use super::{RunError, counters};
use crate::storage::entities::run;
use crate::storage::statement;

/// What `recover_expired` did with one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovered {
    /// Queued again; push its job.
    Requeued(i64),
    /// Out of attempts (or another run is already queued): failed.
    Failed(i64),
}

/// Runs still `running` after their lease expired: their worker is gone. Each goes back to `queued`
/// (resuming from its checkpoint) unless it used up its attempts.
pub async fn recover_expired(
    db: &DatabaseConnection,
    max_attempts: i32,
) -> Result<Vec<Recovered>, RunError> {
    let now = Utc::now().fixed_offset();
    let expired = run::Entity::find()
        .filter(run::Column::State.eq("running"))
        .filter(run::Column::LeaseExpiresAt.lt(now))
        .all(db)
        .await?;
    let mut recovered = Vec::new();
    for run in expired {
        if run.attempt < max_attempts {
            let requeue = statement(
                db.get_database_backend(),
                "UPDATE ferry_runs SET state = 'queued', lease_owner = NULL, lease_expires_at = NULL, \
                 error = ? WHERE id = ? AND state = 'running' AND lease_expires_at < ?",
                [
                    format!("worker lost during attempt {}", run.attempt).into(),
                    run.id.into(),
                    now.into(),
                ],
            );
            match db.execute_raw(requeue).await {
                Ok(done) if done.rows_affected() == 1 => {
                    recovered.push(Recovered::Requeued(run.id));
                    continue;
                }
                Ok(_) => continue,
                Err(e) if e.sql_err().is_none() => return Err(e.into()),
                // Another run is queued for the integration: it continues from the checkpoint.
                Err(_) => {}
            }
        }
        let reason = if run.attempt < max_attempts {
            "worker lost; a queued run continues from the checkpoint".to_string()
        } else {
            format!(
                "worker lost during attempt {} of {max_attempts}",
                run.attempt
            )
        };
        if fail_expired(db, run.id, now, &reason).await? {
            recovered.push(Recovered::Failed(run.id));
        }
    }
    Ok(recovered)
}

async fn fail_expired(
    db: &DatabaseConnection,
    run_id: i64,
    now: DateTime<FixedOffset>,
    reason: &str,
) -> Result<bool, RunError> {
    let txn = crate::storage::begin_write(db).await?;
    let done = txn
        .execute_raw(statement(
            txn.get_database_backend(),
            "UPDATE ferry_runs SET state = 'failed', error = ?, finished_at = ?, lease_owner = NULL, \
             lease_expires_at = NULL WHERE id = ? AND state = 'running' AND lease_expires_at < ?",
            [reason.into(), now.into(), run_id.into(), now.into()],
        ))
        .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    if let Some(run) = run::Entity::find_by_id(run_id).one(&txn).await? {
        counters::count_finished(&txn, &run).await?;
    }
    txn.commit().await?;
    Ok(true)
}

/// Queued runs that are due but whose job was last pushed more than `older_than` ago (or never): their
/// job may be lost (Redis restarted empty, a push failed).
pub async fn lost_jobs(
    db: &impl ConnectionTrait,
    older_than: std::time::Duration,
) -> Result<Vec<i64>, RunError> {
    let now = Utc::now();
    let cutoff = (now - older_than).fixed_offset();
    let rows = db
        .query_all_raw(statement(
            db.get_database_backend(),
            "SELECT id FROM ferry_runs WHERE state = 'queued' \
             AND (retry_at IS NULL OR retry_at <= ?) AND COALESCE(pushed_at, queued_at) < ? \
             ORDER BY id",
            [now.fixed_offset().into(), cutoff.into()],
        ))
        .await?;
    Ok(rows
        .iter()
        .filter_map(|r| r.try_get_by_index::<i64>(0).ok())
        .collect())
}

/// Retention: deletes the history of finished runs older than `older_than`, but nothing still owed.
/// A failure stays until a later write resolves it, because it is the only record of a row missing
/// from the target and what `--retry-failed` replays; so an old run keeps its open failures, and the
/// run itself stays while it owns one — or while a record it parked (`ferry_deferred`) still waits
/// for its lookup. Resolved failures of old runs go, and so do old runs that owe nothing. Returns how
/// many runs were deleted.
pub async fn prune(
    db: &impl ConnectionTrait,
    older_than: std::time::Duration,
) -> Result<u64, RunError> {
    let cutoff = (Utc::now() - older_than).fixed_offset();
    let backend = db.get_database_backend();
    db.execute_raw(statement(
        backend,
        "DELETE FROM ferry_run_errors WHERE resolved_at IS NOT NULL AND run_id IN \
         (SELECT id FROM ferry_runs WHERE state NOT IN ('queued', 'running') AND finished_at < ?)",
        [cutoff.into()],
    ))
    .await?;
    let done = db
        .execute_raw(statement(
            backend,
            "DELETE FROM ferry_runs WHERE state NOT IN ('queued', 'running') AND finished_at < ? \
             AND NOT EXISTS (SELECT 1 FROM ferry_run_errors e WHERE e.run_id = ferry_runs.id) \
             AND NOT EXISTS (SELECT 1 FROM ferry_deferred d WHERE d.run_id = ferry_runs.id)",
            [cutoff.into()],
        ))
        .await?;
    Ok(done.rows_affected())
}
