//! How a running run ends: finished (succeeded, partial, failed, interrupted) or handed back to the
//! queue, each one fenced write.

use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, Value};

use super::enqueue::queued_run;
use super::lease::{Hold, Lease, fenced};
use super::{RunError, counters, is_unique_violation};
use crate::storage::clock;
use crate::storage::entities::run;

/// How a run ended, as the worker saw it.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Completed: `succeeded`, or `partial` when some records failed.
    Completed,
    Failed(String),
    /// Its work goes on in another (queued) run: `interrupted`, with why.
    Interrupted(String),
}

/// The reason a completed run whose rows collapsed is `partial`, in SQL.
/// (No `?` in it: `statement` takes every `?` for a parameter.)
const COLLAPSED: &str = "CASE WHEN collapsed > 0 THEN collapsed || ' rows mapped to a target key that \
    another row of the same page also mapped to; the last of each was written: check that source.key \
    is the entity''s key and that no transform folds target.key values together' ELSE NULL END";

/// running → final state, releasing the lease and counting the run for metrics, in one transaction.
/// Only the lease holder can finish a run.
pub async fn finish(
    db: &DatabaseConnection,
    lease: &Lease,
    outcome: Outcome,
) -> Result<run::Model, RunError> {
    // A completed run is `partial` when records failed or rows collapsed onto one target key; the
    // latter is said in `error`, since no failed record shows it.
    let (state, error, message): (&str, &str, Option<String>) = match outcome {
        Outcome::Completed => (
            "CASE WHEN failed > 0 OR collapsed > 0 THEN 'partial' ELSE 'succeeded' END",
            COLLAPSED,
            None,
        ),
        Outcome::Failed(message) => ("'failed'", "?", Some(message)),
        Outcome::Interrupted(message) => ("'interrupted'", "?", Some(message)),
    };
    let txn = crate::storage::begin_write(db).await?;
    let backend = txn.get_database_backend();
    fenced(
        &txn,
        lease,
        &format!(
            "state = {state}, finished_at = {now}, error = {error}, retry_at = NULL, \
             lease_owner = NULL",
            now = clock::now(backend)
        ),
        message.into_iter().map(Value::from).collect(),
        Hold::Release,
    )
    .await?;
    let finished = run::Entity::find_by_id(lease.run_id)
        .one(&txn)
        .await?
        .ok_or(DbErr::RecordNotFound(format!("run {}", lease.run_id)))?;
    counters::count_finished(&txn, &finished).await?;
    super::attempts::record(
        &txn,
        lease.run_id,
        &finished.state,
        finished.error.as_deref(),
    )
    .await?;
    txn.commit().await?;
    Ok(finished)
}

/// What became of a run handed back to the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandedBack {
    /// Queued again (due at the retry time, if any): its job must be pushed.
    Requeued,
    /// Another queued run of the integration exists and continues from the checkpoint; this one ended.
    Superseded(i64),
}

/// running → queued, keeping the checkpoint: for a retriable failure (due again after `retry_in`, on
/// the database's clock; `error` = why; the attempt counts) or a graceful shutdown (`error` = None;
/// the attempt is given back).
pub async fn hand_back(
    db: &DatabaseConnection,
    lease: &Lease,
    retry_in: Option<Duration>,
    error: Option<String>,
) -> Result<HandedBack, RunError> {
    let attempt_change = if error.is_none() { " - 1" } else { "" };
    let backend = db.get_database_backend();
    let handed = fenced(
        db,
        lease,
        &format!(
            "state = 'queued', retry_at = {due}, error = COALESCE(?, error), lease_owner = NULL, \
             attempt = attempt{attempt_change}",
            due = match retry_in {
                Some(_) => clock::after(backend),
                None => "NULL",
            }
        ),
        retry_in
            .map(|wait| Value::from(clock::millis(wait)))
            .into_iter()
            .chain([Value::from(error.clone())])
            .collect(),
        Hold::Release,
    )
    .await;
    match handed {
        Ok(()) => {
            let outcome = if error.is_some() {
                "retrying"
            } else {
                "handed back"
            };
            // History only: the run row is the truth, so a failure to note it is logged, not fatal.
            if let Err(e) =
                super::attempts::record(db, lease.run_id, outcome, error.as_deref()).await
            {
                tracing::warn!(run_id = lease.run_id, error = %e, "attempt not recorded");
            }
            Ok(HandedBack::Requeued)
        }
        Err(RunError::Database(e)) if is_unique_violation(&e) => {
            let queued = queued_run(db, &lease.integration)
                .await?
                .unwrap_or_default();
            let why = error.unwrap_or_else(|| "worker stopped".into());
            finish(
                db,
                lease,
                Outcome::Interrupted(format!(
                    "{why}; queued run {queued} continues from the checkpoint"
                )),
            )
            .await?;
            Ok(HandedBack::Superseded(queued))
        }
        Err(e) => Err(e),
    }
}
