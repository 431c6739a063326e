//! What recovery does with runs the queue lost: re-push jobs of runs that stayed queued, and take
//! back runs whose worker died (its lease expired). Duplicated jobs are harmless (invariant 1).

use chrono::Utc;
use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait, SqlErr};
use tracing::warn;

use super::{RunError, RunState, counters};
use crate::storage::entities::run;
use crate::storage::{clock, statement};

/// What `recover_expired` did with one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovered {
    /// Queued again; push its job.
    Requeued(i64),
    /// Out of attempts: failed.
    Failed(i64),
    /// Another run of the integration is queued and continues from the checkpoint: interrupted.
    Interrupted(i64),
}

/// Runs still `running` after their lease expired (on the database's clock): their worker is gone.
/// Each goes back to `queued` (resuming from its checkpoint) unless it used up its attempts. A run
/// whose row cannot be had now (a frozen worker's transaction holds its lock until `lock_timeout`)
/// is left for the next pass and does not hold up the others.
pub async fn recover_expired(
    db: &DatabaseConnection,
    max_attempts: i32,
) -> Result<Vec<Recovered>, RunError> {
    let backend = db.get_database_backend();
    let now = clock::now(backend);
    let expired = db
        .query_all_raw(statement(
            backend,
            &format!(
                "SELECT id, attempt FROM ferry_runs WHERE state = 'running' \
                 AND lease_expires_at < {now} ORDER BY id"
            ),
            [],
        ))
        .await?;
    let mut recovered = Vec::new();
    for row in expired {
        let run_id: i64 = row.try_get_by_index(0)?;
        let attempt: i32 = row.try_get_by_index(1)?;
        match recover_one(db, run_id, attempt, max_attempts).await {
            Ok(Some(done)) => recovered.push(done),
            Ok(None) => {}
            Err(e) => warn!(run_id, error = %e, "expired run not recovered this pass"),
        }
    }
    Ok(recovered)
}

async fn recover_one(
    db: &DatabaseConnection,
    run_id: i64,
    attempt: i32,
    max_attempts: i32,
) -> Result<Option<Recovered>, RunError> {
    let backend = db.get_database_backend();
    let now = clock::now(backend);
    if attempt < max_attempts {
        let requeue = statement(
            backend,
            &format!(
                "UPDATE ferry_runs SET state = 'queued', lease_owner = NULL, lease_expires_at = NULL, \
                 error = ? WHERE id = ? AND state = 'running' AND lease_expires_at < {now}"
            ),
            [
                format!("worker lost during attempt {attempt}").into(),
                run_id.into(),
            ],
        );
        match db.execute_raw(requeue).await {
            Ok(done) if done.rows_affected() == 1 => {
                // History only: a failure to note it is logged, the run is requeued either way.
                let why = format!("worker lost during attempt {attempt}");
                if let Err(e) =
                    super::attempts::record(db, run_id, "lease expired", Some(&why)).await
                {
                    tracing::warn!(run_id, error = %e, "attempt not recorded");
                }
                return Ok(Some(Recovered::Requeued(run_id)));
            }
            Ok(_) => return Ok(None),
            Err(e) if !matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                return Err(e.into());
            }
            // Another run is queued for the integration: it continues from the checkpoint.
            Err(_) => {}
        }
    }
    // Out of attempts, the work is given up: failed. Otherwise a queued run of the integration takes it
    // over from the checkpoint: interrupted, not failed.
    let (state, reason, recovered) = if attempt < max_attempts {
        (
            RunState::Interrupted,
            "worker lost; a queued run continues from the checkpoint".to_string(),
            Recovered::Interrupted(run_id),
        )
    } else {
        (
            RunState::Failed,
            format!("worker lost during attempt {attempt} of {max_attempts}"),
            Recovered::Failed(run_id),
        )
    };
    Ok(end_expired(db, run_id, state, &reason)
        .await?
        .then_some(recovered))
}

/// Ends an expired run as `state` with `reason`, counted for metrics; false when it was no longer
/// expired (its worker renewed in time, or another pass ended it).
async fn end_expired(
    db: &DatabaseConnection,
    run_id: i64,
    state: RunState,
    reason: &str,
) -> Result<bool, RunError> {
    let txn = crate::storage::begin_write(db).await?;
    let backend = txn.get_database_backend();
    let now = clock::now(backend);
    let done = txn
        .execute_raw(statement(
            backend,
            &format!(
                "UPDATE ferry_runs SET state = ?, error = ?, finished_at = {now}, \
                 lease_owner = NULL, lease_expires_at = NULL \
                 WHERE id = ? AND state = 'running' AND lease_expires_at < {now}"
            ),
            [state.as_str().into(), reason.into(), run_id.into()],
        ))
        .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    if let Some(run) = run::Entity::find_by_id(run_id).one(&txn).await? {
        counters::count_finished(&txn, &run).await?;
    }
    super::attempts::record(&txn, run_id, state.as_str(), Some(reason)).await?;
    txn.commit().await?;
    Ok(true)
}

/// Queued runs whose job may be lost (Redis restarted empty, a push failed): due, their last job was
/// due more than `older_than` ago (or none was pushed), and no run of their integration holds a live
/// lease — that run's worker pushes the queued one when it ends. So a run waiting behind a long one
/// gets no job at all until it can start, and never more than one.
pub async fn lost_jobs(
    db: &impl ConnectionTrait,
    older_than: std::time::Duration,
) -> Result<Vec<i64>, RunError> {
    let backend = db.get_database_backend();
    let now = clock::now(backend);
    let rows = db
        .query_all_raw(statement(
            backend,
            &format!(
                "SELECT q.id FROM ferry_runs q WHERE q.state = 'queued' \
                 AND (q.retry_at IS NULL OR q.retry_at <= {now}) \
                 AND COALESCE(q.pushed_at, q.queued_at) < {cutoff} \
                 AND NOT EXISTS (SELECT 1 FROM ferry_runs r WHERE r.integration = q.integration \
                 AND r.state = 'running' AND r.lease_expires_at >= {now}) \
                 ORDER BY q.id",
                cutoff = clock::after(backend)
            ),
            [(-clock::millis(older_than)).into()],
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
    // A pruned run's history goes with it.
    db.execute_raw(statement(
        backend,
        "DELETE FROM ferry_run_attempts WHERE NOT EXISTS \
         (SELECT 1 FROM ferry_runs r WHERE r.id = ferry_run_attempts.run_id)",
        [],
    ))
    .await?;
    // An idempotency key stands for its run: with the run gone, a reused key is a new trigger, never
    // an answer naming a deleted run.
    db.execute_raw(statement(
        backend,
        "DELETE FROM ferry_idempotency_keys WHERE NOT EXISTS \
         (SELECT 1 FROM ferry_runs r WHERE r.id = ferry_idempotency_keys.run_id)",
        [],
    ))
    .await?;
    Ok(done.rows_affected())
}
