//! Cancelling a run. A queued run ends at once; a running one is asked to stop, and its worker ends it
//! `cancelled` at the next page boundary, keeping everything committed so far (the checkpoint stays
//! with the last committed page). A finished run cannot be cancelled.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};

use super::lease::{Hold, Lease, fenced};
use super::{RunError, RunState, counters};
use crate::storage::entities::run;
use crate::storage::{clock, statement};
use sea_orm::EntityTrait;

/// What `cancel` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancelled {
    /// The run was queued: it is `cancelled` now.
    Now,
    /// The run is running: it ends `cancelled` after the page in hand.
    AtNextPage,
}

/// Why a run could not be cancelled.
#[derive(Debug, thiserror::Error)]
pub enum CancelError {
    #[error("run {0} does not exist")]
    Unknown(i64),
    #[error("run {run_id} already ended {state}; there is nothing to cancel")]
    Finished { run_id: i64, state: String },
    #[error(transparent)]
    Run(#[from] RunError),
}

impl From<DbErr> for CancelError {
    fn from(e: DbErr) -> CancelError {
        CancelError::Run(e.into())
    }
}

/// Cancels run `run_id` on behalf of `by` (recorded on the run: "api", "cli:alice").
pub async fn cancel(
    db: &DatabaseConnection,
    run_id: i64,
    by: &str,
) -> Result<Cancelled, CancelError> {
    let txn = crate::storage::begin_write(db).await?;
    let backend = txn.get_database_backend();
    let queued = txn
        .execute_raw(statement(
            backend,
            &format!(
                "UPDATE ferry_runs SET state = 'cancelled', finished_at = {now}, error = ?, \
                 retry_at = NULL WHERE id = ? AND state = 'queued'",
                now = clock::now(backend)
            ),
            [format!("cancelled by {by}").into(), run_id.into()],
        ))
        .await?;
    if queued.rows_affected() == 1 {
        if let Some(run) = run::Entity::find_by_id(run_id).one(&txn).await? {
            counters::count_finished(&txn, &run).await?;
        }
        txn.commit().await?;
        return Ok(Cancelled::Now);
    }
    let running = txn
        .execute_raw(statement(
            backend,
            "UPDATE ferry_runs SET cancel_requested_by = ? WHERE id = ? AND state = 'running'",
            [by.into(), run_id.into()],
        ))
        .await?;
    if running.rows_affected() == 1 {
        txn.commit().await?;
        return Ok(Cancelled::AtNextPage);
    }
    txn.rollback().await?;
    match run::Entity::find_by_id(run_id).one(db).await? {
        None => Err(CancelError::Unknown(run_id)),
        Some(run) => Err(CancelError::Finished {
            run_id,
            state: run.state,
        }),
    }
}

/// Who asked the running run `lease` holds to stop, if anyone: its worker checks between pages.
pub async fn cancel_requested(
    db: &impl ConnectionTrait,
    lease: &Lease,
) -> Result<Option<String>, RunError> {
    let row = db
        .query_one_raw(statement(
            db.get_database_backend(),
            "SELECT cancel_requested_by FROM ferry_runs WHERE id = ? AND lease_token = ?",
            [lease.run_id.into(), lease.token.into()],
        ))
        .await?;
    match row {
        Some(row) => Ok(row.try_get_by_index(0)?),
        None => Err(RunError::LeaseLost(lease.run_id)),
    }
}

/// running → cancelled, keeping what was committed, counted for metrics, in one transaction.
pub async fn end_cancelled(
    db: &DatabaseConnection,
    lease: &Lease,
    by: &str,
) -> Result<run::Model, RunError> {
    let txn = crate::storage::begin_write(db).await?;
    let backend = txn.get_database_backend();
    fenced(
        &txn,
        lease,
        &format!(
            "state = '{}', finished_at = {now}, error = ?, retry_at = NULL, lease_owner = NULL",
            RunState::Cancelled.as_str(),
            now = clock::now(backend)
        ),
        vec![format!("cancelled by {by}").into()],
        Hold::Release,
    )
    .await?;
    let ended = run::Entity::find_by_id(lease.run_id)
        .one(&txn)
        .await?
        .ok_or(DbErr::RecordNotFound(format!("run {}", lease.run_id)))?;
    counters::count_finished(&txn, &ended).await?;
    txn.commit().await?;
    Ok(ended)
}
