//! A claim on a running run (invariant 1): the claim draws a fencing token and a lease on the
//! database's clock, and `fenced` is the one place every later write of the running run is checked
//! against it.

use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, FromQueryResult, Value};

use super::enqueue::{queued_wait, wait_sql};
use super::{RunError, is_unique_violation};
use crate::storage::entities::run;
use crate::storage::{Dialect, clock, statement};

/// A worker slot's hold on a running run: one claim. Every write of the running run is fenced on the
/// claim's token, so a slot whose lease was taken away (it stalled, the run was re-queued and claimed
/// again — by another worker or by another slot of the same one) commits nothing.
#[derive(Debug, Clone)]
pub struct Lease {
    pub run_id: i64,
    pub integration: String,
    /// The worker that holds it, for operators; fencing is the token's job.
    pub owner: String,
    /// New for every claim of the run (a counter on the run row).
    pub token: i64,
    pub duration: Duration,
}

/// What a fenced write does with the lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Hold {
    /// Extends it by its duration, on the database's clock: every write is also a renewal.
    Renew,
    /// Gives it up: the run leaves `running`.
    Release,
}

/// `UPDATE ferry_runs SET <set> …` of the running run `lease` holds, or `LeaseLost` (and nothing
/// written) when the claim is no longer current. The one place the fence lives: every write of a
/// running run goes through it. `set` is SQL with `?` for `values` (may be empty).
pub(super) async fn fenced(
    conn: &impl ConnectionTrait,
    lease: &Lease,
    set: &str,
    mut values: Vec<Value>,
    hold: Hold,
) -> Result<(), RunError> {
    let backend = conn.get_database_backend();
    let expiry = match hold {
        Hold::Renew => {
            values.push(clock::millis(lease.duration).into());
            clock::after(backend)
        }
        Hold::Release => "NULL",
    };
    let set = if set.is_empty() {
        String::new()
    } else {
        format!("{set}, ")
    };
    let text = format!(
        "UPDATE ferry_runs SET {set}lease_expires_at = {expiry} \
         WHERE id = ? AND lease_token = ? AND state = 'running'"
    );
    values.extend([lease.run_id.into(), lease.token.into()]);
    let done = conn.execute_raw(statement(backend, &text, values)).await?;
    if done.rows_affected() != 1 {
        return Err(RunError::LeaseLost(lease.run_id));
    }
    Ok(())
}

/// The outcome of trying to claim a run for a job.
#[derive(Debug)]
pub enum Claim {
    Claimed(Box<(Lease, run::Model)>),
    /// Another run of the same integration is running; this one stays queued, and the job is dropped:
    /// the running run's worker pushes it when that run ends (`next_queued`).
    Busy,
    /// Queued but waiting for its retry time, this long from now (the job came early): push it again
    /// for then.
    NotYet(Duration),
    /// Running elsewhere or finished: this job is a duplicate and is dropped.
    NotQueued,
}

/// queued → running, in one conditional UPDATE that draws the claim's fencing token and sets the
/// lease's expiry on the database's clock. Each claim is an attempt.
///
/// One round trip whatever the answer on Postgres: the UPDATE returns the claimed run, and when it
/// claims nothing the same statement reads how long the still-queued run has to wait (a job that came
/// early) or finds it not queued at all (a duplicate job, the common refusal). SQLite cannot put an
/// UPDATE in a `WITH`, so a refusal there costs a second read.
pub async fn claim(
    db: &DatabaseConnection,
    run_id: i64,
    owner: &str,
    lease_for: Duration,
) -> Result<Claim, RunError> {
    let backend = db.get_database_backend();
    let dialect = Dialect::from(backend);
    let now = clock::now(backend);
    let update = format!(
        "UPDATE ferry_runs SET state = 'running', lease_owner = ?, \
         lease_token = COALESCE(lease_token, 0) + 1, lease_expires_at = {expiry}, \
         started_at = COALESCE(started_at, {now}), attempt_started_at = {now}, \
         attempt = attempt + 1, retry_at = NULL \
         WHERE id = ? AND state = 'queued' AND (retry_at IS NULL OR retry_at <= {now}) \
         RETURNING *",
        expiry = clock::after(backend),
    );
    let mut values: Vec<Value> = vec![owner.into(), clock::millis(lease_for).into(), run_id.into()];
    let text = match dialect {
        Dialect::Postgres => {
            values.push(run_id.into());
            format!(
                "WITH claimed AS ({update}) \
                 SELECT *, NULL::float8 AS wait FROM claimed \
                 UNION ALL \
                 SELECT *, {wait} AS wait FROM ferry_runs \
                 WHERE id = ? AND state = 'queued' AND NOT EXISTS (SELECT 1 FROM claimed)",
                wait = wait_sql(backend),
            )
        }
        Dialect::Sqlite => format!("{update}, NULL AS wait"),
    };
    let row = match db.query_one_raw(statement(backend, &text, values)).await {
        Ok(row) => row,
        Err(e) if is_unique_violation(&e) => return Ok(Claim::Busy),
        Err(e) => return Err(e.into()),
    };
    let wait = match row {
        Some(row) => match row.try_get::<Option<f64>>("", "wait")? {
            None => {
                let model = run::Model::from_query_result(&row, "")?;
                let token = model
                    .lease_token
                    .ok_or(DbErr::RecordNotFound(format!("run {run_id}'s lease token")))?;
                let lease = Lease {
                    run_id,
                    integration: model.integration.clone(),
                    owner: owner.to_string(),
                    token,
                    duration: lease_for,
                };
                return Ok(Claim::Claimed(Box::new((lease, model))));
            }
            Some(millis) => Some(Duration::from_millis(millis.max(0.0).ceil() as u64)),
        },
        None if dialect == Dialect::Sqlite => queued_wait(db, run_id).await?,
        None => None,
    };
    Ok(match wait {
        Some(wait) if !wait.is_zero() => Claim::NotYet(wait),
        _ => Claim::NotQueued,
    })
}

/// Extends the lease while a long page is read; `LeaseLost` when it is no longer ours.
pub async fn renew(db: &DatabaseConnection, lease: &Lease) -> Result<(), RunError> {
    fenced(db, lease, "", Vec::new(), Hold::Renew).await
}
