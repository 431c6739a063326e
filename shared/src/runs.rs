//! Runs and their state machine: queued → running → succeeded | partial | failed | cancelled.
//!
//! Every transition is one conditional UPDATE, so the database decides races: a worker *claims* a
//! queued run (invariant 1), writes only while it holds the lease, and finishes only its own run.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, SqlErr, Statement, Value,
};
use serde::Serialize;

use crate::checkpoint::Checkpoint;
use crate::definitions::latest_integration;
use crate::storage::entities::{checkpoint, run};
use crate::target::PageCounts;

/// Where a run is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    Queued,
    Running,
    Succeeded,
    /// Finished, but some records failed (see `ferry_run_errors`).
    Partial,
    Failed,
    Cancelled,
}

impl RunState {
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Queued => "queued",
            RunState::Running => "running",
            RunState::Succeeded => "succeeded",
            RunState::Partial => "partial",
            RunState::Failed => "failed",
            RunState::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<RunState> {
        [
            RunState::Queued,
            RunState::Running,
            RunState::Succeeded,
            RunState::Partial,
            RunState::Failed,
            RunState::Cancelled,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }

    pub fn is_final(self) -> bool {
        !matches!(self, RunState::Queued | RunState::Running)
    }
}

impl fmt::Display for RunState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a run reads: only what changed since the checkpoint, or everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Incremental,
    Full,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Incremental => "incremental",
            Mode::Full => "full",
        }
    }
}

/// Who asked for a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Manual,
    Schedule,
    Api,
}

impl Trigger {
    fn as_str(self) -> &'static str {
        match self {
            Trigger::Manual => "manual",
            Trigger::Schedule => "schedule",
            Trigger::Api => "api",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("database error: {0}")]
    Database(#[from] DbErr),
    #[error("no integration named {0:?} has been applied")]
    UnknownIntegration(String),
    #[error("run {0} is no longer ours: its lease expired and another worker took it over")]
    LeaseLost(i64),
    #[error("stored definition is unreadable: {0}")]
    Definition(String),
}

/// A worker's hold on a running run. Every write checks it, so a worker that lost its lease (it stalled
/// and another took over) cannot write.
#[derive(Debug, Clone)]
pub struct Lease {
    pub run_id: i64,
    pub integration: String,
    pub owner: String,
    pub duration: Duration,
}

impl Lease {
    fn expires_at(&self) -> DateTime<FixedOffset> {
        (Utc::now() + self.duration).fixed_offset()
    }
}

/// The answer to "enqueue a run".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Enqueued {
    pub run_id: i64,
    /// False when the trigger coalesced into a run already queued (or already made for this tick).
    pub created: bool,
}

/// Records a queued run of the integration's current version. A run already queued for the integration
/// absorbs the trigger (invariant 3); a tick already enqueued is not enqueued again (invariant 4).
pub async fn enqueue(
    db: &DatabaseConnection,
    integration: &str,
    mode: Mode,
    trigger: Trigger,
    scheduled_for: Option<DateTime<FixedOffset>>,
) -> Result<Enqueued, RunError> {
    let (version, _) = latest_integration(db, integration)
        .await
        .map_err(|e| RunError::Definition(e.to_string()))?
        .ok_or_else(|| RunError::UnknownIntegration(integration.to_string()))?;
    // A conflicting queued run can be claimed between our insert and our read; a few tries settle it.
    for _ in 0..5 {
        let checkpoint_before = checkpoint::Entity::find_by_id(integration.to_string())
            .one(db)
            .await?
            .map(|c| c.value);
        let backend = db.get_database_backend();
        let insert = Statement::from_sql_and_values(
            backend,
            sql(
                backend,
                "INSERT INTO ferry_runs (integration, definition_version, mode, trigger, state, \
                 attempt, scheduled_for, queued_at, rows_read, inserted, updated, unchanged, deleted, \
                 failed, checkpoint_before) \
                 VALUES (?, ?, ?, ?, 'queued', 0, ?, ?, 0, 0, 0, 0, 0, 0, ?) RETURNING id",
            ),
            [
                integration.into(),
                version.into(),
                mode.as_str().into(),
                trigger.as_str().into(),
                scheduled_for.into(),
                Utc::now().fixed_offset().into(),
                checkpoint_before.into(),
            ],
        );
        match db.query_one_raw(insert).await {
            Ok(Some(row)) => {
                return Ok(Enqueued {
                    run_id: row.try_get_by_index(0)?,
                    created: true,
                });
            }
            Ok(None) => return Err(RunError::Database(DbErr::RecordNotInserted)),
            Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                let mut absorbing =
                    Condition::any().add(run::Column::State.eq(RunState::Queued.as_str()));
                if let Some(at) = scheduled_for {
                    absorbing = absorbing.add(run::Column::ScheduledFor.eq(at));
                }
                let existing = run::Entity::find()
                    .filter(run::Column::Integration.eq(integration))
                    .filter(absorbing)
                    .order_by_desc(run::Column::Id)
                    .one(db)
                    .await?;
                if let Some(run) = existing {
                    return Ok(Enqueued {
                        run_id: run.id,
                        created: false,
                    });
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(RunError::Database(DbErr::RecordNotInserted))
}

/// The outcome of trying to claim a run for a job.
#[derive(Debug)]
pub enum Claim {
    Claimed(Box<(Lease, run::Model)>),
    /// Another run of the same integration is running; this one stays queued.
    Busy,
    /// Already running elsewhere or finished: the job is a duplicate and is dropped.
    NotQueued,
}

/// queued → running, in one conditional UPDATE.
pub async fn claim(
    db: &DatabaseConnection,
    run_id: i64,
    owner: &str,
    lease_for: Duration,
) -> Result<Claim, RunError> {
    let now = Utc::now().fixed_offset();
    let backend = db.get_database_backend();
    let update = Statement::from_sql_and_values(
        backend,
        sql(
            backend,
            "UPDATE ferry_runs SET state = 'running', lease_owner = ?, lease_expires_at = ?, \
             started_at = COALESCE(started_at, ?), attempt = attempt + 1 \
             WHERE id = ? AND state = 'queued'",
        ),
        [
            owner.into(),
            (Utc::now() + lease_for).fixed_offset().into(),
            now.into(),
            run_id.into(),
        ],
    );
    match db.execute_raw(update).await {
        Ok(done) if done.rows_affected() == 1 => {
            let model = run::Entity::find_by_id(run_id)
                .one(db)
                .await?
                .ok_or(DbErr::RecordNotFound(format!("run {run_id}")))?;
            let lease = Lease {
                run_id,
                integration: model.integration.clone(),
                owner: owner.to_string(),
                duration: lease_for,
            };
            Ok(Claim::Claimed(Box::new((lease, model))))
        }
        Ok(_) => Ok(Claim::NotQueued),
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            Ok(Claim::Busy)
        }
        Err(e) => Err(e.into()),
    }
}

/// Adds a page's counts to the run and renews its lease, inside the page's transaction.
pub async fn add_progress(
    txn: &impl ConnectionTrait,
    lease: &Lease,
    rows_read: u64,
    counts: PageCounts,
    checkpoint: Option<&Checkpoint>,
) -> Result<(), RunError> {
    let backend = txn.get_database_backend();
    let update = Statement::from_sql_and_values(
        backend,
        sql(
            backend,
            "UPDATE ferry_runs SET rows_read = rows_read + ?, inserted = inserted + ?, \
             updated = updated + ?, unchanged = unchanged + ?, failed = failed + ?, \
             checkpoint_after = COALESCE(?, checkpoint_after), lease_expires_at = ? \
             WHERE id = ? AND lease_owner = ? AND state = 'running'",
        ),
        [
            (rows_read as i64).into(),
            (counts.inserted as i64).into(),
            (counts.updated as i64).into(),
            (counts.unchanged as i64).into(),
            (counts.failed as i64).into(),
            checkpoint.map(Checkpoint::to_json).into(),
            lease.expires_at().into(),
            lease.run_id.into(),
            lease.owner.clone().into(),
        ],
    );
    if txn.execute_raw(update).await?.rows_affected() != 1 {
        return Err(RunError::LeaseLost(lease.run_id));
    }
    Ok(())
}

/// Extends the lease while a long page is read; `LeaseLost` when it is no longer ours.
pub async fn renew(db: &DatabaseConnection, lease: &Lease) -> Result<(), RunError> {
    let backend = db.get_database_backend();
    let update = Statement::from_sql_and_values(
        backend,
        sql(
            backend,
            "UPDATE ferry_runs SET lease_expires_at = ? \
             WHERE id = ? AND lease_owner = ? AND state = 'running'",
        ),
        [
            lease.expires_at().into(),
            lease.run_id.into(),
            lease.owner.clone().into(),
        ],
    );
    if db.execute_raw(update).await?.rows_affected() != 1 {
        return Err(RunError::LeaseLost(lease.run_id));
    }
    Ok(())
}

/// Stores the records of a page that could not be written, with their payloads.
pub async fn record_failures(
    txn: &impl ConnectionTrait,
    lease: &Lease,
    failures: &[(String, String, String)],
) -> Result<(), RunError> {
    if failures.is_empty() {
        return Ok(());
    }
    let backend = txn.get_database_backend();
    let now = Utc::now().fixed_offset();
    let mut values: Vec<Value> = Vec::with_capacity(failures.len() * 6);
    let mut tuples = Vec::with_capacity(failures.len());
    for (key, message, payload) in failures {
        tuples.push("(?, ?, ?, ?, ?, ?)");
        values.extend([
            lease.run_id.into(),
            lease.integration.clone().into(),
            key.clone().into(),
            message.clone().into(),
            payload.clone().into(),
            now.into(),
        ]);
    }
    let statement = format!(
        "INSERT INTO ferry_run_errors (run_id, integration, record_key, message, payload, created_at) \
         VALUES {}",
        tuples.join(", ")
    );
    txn.execute_raw(Statement::from_sql_and_values(
        backend,
        sql(backend, &statement),
        values,
    ))
    .await?;
    Ok(())
}

/// How a run ended, as the worker saw it.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Completed: `succeeded`, or `partial` when some records failed.
    Completed,
    Failed(String),
}

/// running → final state, releasing the lease. Only the lease holder can finish a run.
pub async fn finish(
    db: &DatabaseConnection,
    lease: &Lease,
    outcome: Outcome,
) -> Result<(), RunError> {
    let backend = db.get_database_backend();
    let (state, error): (&str, Option<String>) = match outcome {
        Outcome::Completed => (
            "CASE WHEN failed > 0 THEN 'partial' ELSE 'succeeded' END",
            None,
        ),
        Outcome::Failed(message) => ("'failed'", Some(message)),
    };
    let update = Statement::from_sql_and_values(
        backend,
        sql(
            backend,
            &format!(
                "UPDATE ferry_runs SET state = {state}, finished_at = ?, error = ?, \
                 lease_owner = NULL, lease_expires_at = NULL \
                 WHERE id = ? AND lease_owner = ? AND state = 'running'"
            ),
        ),
        [
            Utc::now().fixed_offset().into(),
            error.into(),
            lease.run_id.into(),
            lease.owner.clone().into(),
        ],
    );
    if db.execute_raw(update).await?.rows_affected() != 1 {
        return Err(RunError::LeaseLost(lease.run_id));
    }
    Ok(())
}

pub async fn get(db: &DatabaseConnection, run_id: i64) -> Result<Option<run::Model>, RunError> {
    Ok(run::Entity::find_by_id(run_id).one(db).await?)
}

/// Recent runs, newest first.
pub async fn list(
    db: &DatabaseConnection,
    integration: Option<&str>,
    limit: u64,
) -> Result<Vec<run::Model>, RunError> {
    let mut query = run::Entity::find()
        .order_by_desc(run::Column::Id)
        .limit(limit);
    if let Some(name) = integration {
        query = query.filter(run::Column::Integration.eq(name));
    }
    Ok(query.all(db).await?)
}

/// A run as operators and scripts see it (`ferry run --json`, `ferry runs --json`, the API).
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub run_id: i64,
    pub integration: String,
    pub status: String,
    pub mode: String,
    pub trigger: String,
    pub definition_version: i32,
    pub attempt: i32,
    pub inserted: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub deleted: i64,
    pub failed: i64,
    pub rows_read: i64,
    pub duration_ms: Option<i64>,
    pub queued_at: DateTime<FixedOffset>,
    pub started_at: Option<DateTime<FixedOffset>>,
    pub finished_at: Option<DateTime<FixedOffset>>,
    pub checkpoint_before: Option<serde_json::Value>,
    pub checkpoint_after: Option<serde_json::Value>,
    pub error: Option<String>,
}

impl From<run::Model> for RunSummary {
    fn from(run: run::Model) -> RunSummary {
        let json = |text: Option<String>| text.and_then(|t| serde_json::from_str(&t).ok());
        RunSummary {
            run_id: run.id,
            duration_ms: match (run.started_at, run.finished_at) {
                (Some(start), Some(end)) => Some((end - start).num_milliseconds()),
                _ => None,
            },
            integration: run.integration,
            status: run.state,
            mode: run.mode,
            trigger: run.trigger,
            definition_version: run.definition_version,
            attempt: run.attempt,
            inserted: run.inserted,
            updated: run.updated,
            unchanged: run.unchanged,
            deleted: run.deleted,
            failed: run.failed,
            rows_read: run.rows_read,
            queued_at: run.queued_at,
            started_at: run.started_at,
            finished_at: run.finished_at,
            checkpoint_before: json(run.checkpoint_before),
            checkpoint_after: json(run.checkpoint_after),
            error: run.error,
        }
    }
}

/// Writes `?` placeholders as the backend wants them (`$1, $2, …` on Postgres).
fn sql(backend: sea_orm::DbBackend, text: &str) -> String {
    if backend != sea_orm::DbBackend::Postgres {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut n = 0;
    for c in text.chars() {
        if c == '?' {
            n += 1;
            out.push_str(&format!("${n}"));
        } else {
            out.push(c);
        }
    }
    out
}
