//! The run state machine's transitions. Each is one conditional statement, so the database decides every
//! race: the claim (invariant 1), the lease that fences every write, and the partial unique indexes that
//! keep one queued and one running run per integration (invariant 3).

use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    QueryOrder, SqlErr, Value,
};

use super::{Mode, RunError, RunState, Trigger, callbacks, counters};
use crate::checkpoint::Checkpoint;
use crate::definitions::latest_integration;
use crate::storage::entities::{checkpoint, run};
use crate::storage::statement;
use crate::target::PageCounts;

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

/// A request for a run.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub integration: String,
    pub mode: Mode,
    pub trigger: Trigger,
    /// The cron tick this run is for; unique per integration.
    pub scheduled_for: Option<DateTime<FixedOffset>>,
    /// Where to POST the summary when the run ends; kept per trigger (`callbacks`), also when the
    /// trigger joins a queued run.
    pub callback_url: Option<String>,
}

impl NewRun {
    pub fn manual(integration: &str, mode: Mode) -> NewRun {
        NewRun {
            integration: integration.to_string(),
            mode,
            trigger: Trigger::Manual,
            scheduled_for: None,
            callback_url: None,
        }
    }
}

/// The answer to "enqueue a run".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Enqueued {
    pub run_id: i64,
    /// False when the trigger coalesced into a run already queued (or already made for this tick).
    pub created: bool,
}

fn is_unique_violation(e: &DbErr) -> bool {
    matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// Records a queued run of the integration's current version. A run already queued for the integration
/// absorbs the trigger (invariant 3) — and a waiting retry is made due now, since someone asked for a
/// run; a tick already enqueued is not enqueued again (invariant 4). The trigger's callback is added
/// to the run's callbacks, whether the run is new or joined.
pub async fn enqueue(db: &DatabaseConnection, new: &NewRun) -> Result<Enqueued, RunError> {
    for _ in 0..5 {
        let enqueued = enqueue_run(db, new).await?;
        match &new.callback_url {
            // The run ended between the trigger and the callback: a new run carries it.
            Some(url) if !callbacks::register(db, enqueued.run_id, url).await? => continue,
            _ => return Ok(enqueued),
        }
    }
    Err(RunError::Database(DbErr::RecordNotInserted))
}

async fn enqueue_run(db: &DatabaseConnection, new: &NewRun) -> Result<Enqueued, RunError> {
    let (version, _) = latest_integration(db, &new.integration)
        .await
        .map_err(|e| RunError::Definition(e.to_string()))?
        .ok_or_else(|| RunError::UnknownIntegration(new.integration.clone()))?;
    let backend = db.get_database_backend();
    // A conflicting queued run can be claimed between our insert and our read; a few tries settle it.
    for _ in 0..5 {
        let checkpoint_before = checkpoint::Entity::find_by_id(new.integration.clone())
            .one(db)
            .await?
            .map(|c| c.value);
        let insert = statement(
            backend,
            "INSERT INTO ferry_runs (integration, definition_version, mode, trigger, state, attempt, \
             scheduled_for, queued_at, rows_read, inserted, updated, unchanged, deleted, failed, \
             checkpoint_before) \
             VALUES (?, ?, ?, ?, 'queued', 0, ?, ?, 0, 0, 0, 0, 0, 0, ?) RETURNING id",
            [
                new.integration.clone().into(),
                version.into(),
                new.mode.as_str().into(),
                new.trigger.as_str().into(),
                new.scheduled_for.into(),
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
            Err(e) if is_unique_violation(&e) => {
                let mut absorbing =
                    Condition::any().add(run::Column::State.eq(RunState::Queued.as_str()));
                if let Some(at) = new.scheduled_for {
                    absorbing = absorbing.add(run::Column::ScheduledFor.eq(at));
                }
                let existing = run::Entity::find()
                    .filter(run::Column::Integration.eq(&new.integration))
                    .filter(absorbing)
                    .order_by_desc(run::Column::Id)
                    .one(db)
                    .await?;
                if let Some(existing) = existing {
                    join_mode(db, &existing, new.mode).await?;
                    if new.trigger != Trigger::Schedule && existing.retry_at.is_some() {
                        make_due(db, existing.id).await?;
                    }
                    return Ok(Enqueued {
                        run_id: existing.id,
                        created: false,
                    });
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(RunError::Database(DbErr::RecordNotInserted))
}

/// A trigger joins a queued run only when that run does what the trigger asks (Invariant 3 keeps one
/// queued run per integration). A full run asked for while an incremental one waits upgrades it — a full
/// run does everything the incremental one would; any other mismatch (a reconcile or a retry of failed
/// records behind an incremental run) is refused with the queued run's id rather than silently
/// answered with a run that will not do it.
async fn join_mode(
    db: &DatabaseConnection,
    existing: &run::Model,
    requested: Mode,
) -> Result<(), RunError> {
    let queued = Mode::parse(&existing.mode);
    if queued.covers(requested) {
        return Ok(());
    }
    if requested == Mode::Full && queued == Mode::Incremental {
        let upgraded = db
            .execute_raw(statement(
                db.get_database_backend(),
                "UPDATE ferry_runs SET mode = ? WHERE id = ? AND state = 'queued' AND mode = ?",
                [
                    Mode::Full.as_str().into(),
                    existing.id.into(),
                    Mode::Incremental.as_str().into(),
                ],
            ))
            .await?;
        if upgraded.rows_affected() == 1 {
            return Ok(());
        }
    }
    Err(RunError::ModeConflict {
        integration: existing.integration.clone(),
        run_id: existing.id,
        queued: queued.as_str(),
        requested: requested.as_str(),
    })
}

async fn make_due(db: &DatabaseConnection, run_id: i64) -> Result<(), RunError> {
    db.execute_raw(statement(
        db.get_database_backend(),
        "UPDATE ferry_runs SET retry_at = NULL WHERE id = ? AND state = 'queued'",
        [run_id.into()],
    ))
    .await?;
    Ok(())
}

/// Notes that a run's job was pushed now, so the reconciler leaves it alone for a while.
pub async fn mark_pushed(db: &DatabaseConnection, run_id: i64) -> Result<(), RunError> {
    db.execute_raw(statement(
        db.get_database_backend(),
        "UPDATE ferry_runs SET pushed_at = ? WHERE id = ?",
        [Utc::now().fixed_offset().into(), run_id.into()],
    ))
    .await?;
    Ok(())
}

/// The outcome of trying to claim a run for a job.
#[derive(Debug)]
pub enum Claim {
    Claimed(Box<(Lease, run::Model)>),
    /// Another run of the same integration is running; this one stays queued.
    Busy,
    /// Queued but waiting for its retry time (the job came early): push it again for then.
    NotYet(DateTime<FixedOffset>),
    /// Running elsewhere or finished: this job is a duplicate and is dropped.
    NotQueued,
}

/// queued → running, in one conditional UPDATE. Each claim is an attempt.
pub async fn claim(
    db: &DatabaseConnection,
    run_id: i64,
    owner: &str,
    lease_for: Duration,
) -> Result<Claim, RunError> {
    let now = Utc::now().fixed_offset();
    let update = statement(
        db.get_database_backend(),
        "UPDATE ferry_runs SET state = 'running', lease_owner = ?, lease_expires_at = ?, \
         started_at = COALESCE(started_at, ?), attempt = attempt + 1, retry_at = NULL \
         WHERE id = ? AND state = 'queued' AND (retry_at IS NULL OR retry_at <= ?)",
        [
            owner.into(),
            (Utc::now() + lease_for).fixed_offset().into(),
            now.into(),
            run_id.into(),
            now.into(),
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
        Ok(_) => {
            let current = run::Entity::find_by_id(run_id).one(db).await?;
            Ok(match current {
                Some(run) if run.state == RunState::Queued.as_str() => match run.retry_at {
                    Some(at) if at > now => Claim::NotYet(at),
                    _ => Claim::NotQueued,
                },
                _ => Claim::NotQueued,
            })
        }
        Err(e) if is_unique_violation(&e) => Ok(Claim::Busy),
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
    let update = statement(
        txn.get_database_backend(),
        "UPDATE ferry_runs SET rows_read = rows_read + ?, inserted = inserted + ?, \
         updated = updated + ?, unchanged = unchanged + ?, failed = failed + ?, \
         checkpoint_after = COALESCE(?, checkpoint_after), lease_expires_at = ? \
         WHERE id = ? AND lease_owner = ? AND state = 'running'",
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
    let update = statement(
        db.get_database_backend(),
        "UPDATE ferry_runs SET lease_expires_at = ? \
         WHERE id = ? AND lease_owner = ? AND state = 'running'",
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

/// Stores the records of a page that could not be written, with their payloads and the values mapped
/// before each failure: `(key, message, payload, mapped)`.
pub async fn record_failures(
    txn: &impl ConnectionTrait,
    lease: &Lease,
    failures: &[(String, String, String, String)],
) -> Result<(), RunError> {
    if failures.is_empty() {
        return Ok(());
    }
    let now = Utc::now().fixed_offset();
    let mut values: Vec<Value> = Vec::with_capacity(failures.len() * 7);
    let mut tuples = Vec::with_capacity(failures.len());
    for (key, message, payload, mapped) in failures {
        tuples.push("(?, ?, ?, ?, ?, ?, ?)");
        values.extend([
            lease.run_id.into(),
            lease.integration.clone().into(),
            key.clone().into(),
            message.clone().into(),
            payload.clone().into(),
            mapped.clone().into(),
            now.into(),
        ]);
    }
    let text = format!(
        "INSERT INTO ferry_run_errors \
         (run_id, integration, record_key, message, payload, mapped, created_at) VALUES {}",
        tuples.join(", ")
    );
    txn.execute_raw(statement(txn.get_database_backend(), &text, values))
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

/// running → final state, releasing the lease and counting the run for metrics, in one transaction.
/// Only the lease holder can finish a run.
pub async fn finish(
    db: &DatabaseConnection,
    lease: &Lease,
    outcome: Outcome,
) -> Result<run::Model, RunError> {
    let (state, error): (&str, Option<String>) = match outcome {
        Outcome::Completed => (
            "CASE WHEN failed > 0 THEN 'partial' ELSE 'succeeded' END",
            None,
        ),
        Outcome::Failed(message) => ("'failed'", Some(message)),
    };
    let txn = crate::storage::begin_write(db).await?;
    let update = statement(
        txn.get_database_backend(),
        &format!(
            "UPDATE ferry_runs SET state = {state}, finished_at = ?, error = ?, retry_at = NULL, \
             lease_owner = NULL, lease_expires_at = NULL \
             WHERE id = ? AND lease_owner = ? AND state = 'running'"
        ),
        [
            Utc::now().fixed_offset().into(),
            error.into(),
            lease.run_id.into(),
            lease.owner.clone().into(),
        ],
    );
    if txn.execute_raw(update).await?.rows_affected() != 1 {
        return Err(RunError::LeaseLost(lease.run_id));
    }
    let finished = run::Entity::find_by_id(lease.run_id)
        .one(&txn)
        .await?
        .ok_or(DbErr::RecordNotFound(format!("run {}", lease.run_id)))?;
    counters::count_finished(&txn, &finished).await?;
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

/// running → queued, keeping the checkpoint: for a retriable failure (`retry_at` = when, `error` = why;
/// the attempt counts) or a graceful shutdown (`error` = None; the attempt is given back).
pub async fn hand_back(
    db: &DatabaseConnection,
    lease: &Lease,
    retry_at: Option<DateTime<FixedOffset>>,
    error: Option<String>,
) -> Result<HandedBack, RunError> {
    let attempt_change = if error.is_none() { " - 1" } else { "" };
    let update = statement(
        db.get_database_backend(),
        &format!(
            "UPDATE ferry_runs SET state = 'queued', retry_at = ?, error = COALESCE(?, error), \
             lease_owner = NULL, lease_expires_at = NULL, attempt = attempt{attempt_change} \
             WHERE id = ? AND lease_owner = ? AND state = 'running'"
        ),
        [
            retry_at.into(),
            error.clone().into(),
            lease.run_id.into(),
            lease.owner.clone().into(),
        ],
    );
    match db.execute_raw(update).await {
        Ok(done) if done.rows_affected() == 1 => Ok(HandedBack::Requeued),
        Ok(_) => Err(RunError::LeaseLost(lease.run_id)),
        Err(e) if is_unique_violation(&e) => {
            let queued = queued_run(db, &lease.integration)
                .await?
                .unwrap_or_default();
            let why = error.unwrap_or_else(|| "worker stopped".into());
            finish(
                db,
                lease,
                Outcome::Failed(format!(
                    "{why}; queued run {queued} continues from the checkpoint"
                )),
            )
            .await?;
            Ok(HandedBack::Superseded(queued))
        }
        Err(e) => Err(e.into()),
    }
}

async fn queued_run(db: &impl ConnectionTrait, integration: &str) -> Result<Option<i64>, RunError> {
    Ok(run::Entity::find()
        .filter(run::Column::Integration.eq(integration))
        .filter(run::Column::State.eq(RunState::Queued.as_str()))
        .one(db)
        .await?
        .map(|r| r.id))
}
