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
use crate::storage::entities::run;
use crate::storage::{clock, statement};
use crate::target::PageCounts;

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
    /// The run needs a job pushed now: it is new, or the trigger made a waiting retry due. A trigger
    /// that only joins a queued run pushes nothing, so a run has one live job however often it is
    /// asked for.
    pub ring: bool,
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
        let insert = statement(
            backend,
            &format!(
                "INSERT INTO ferry_runs (integration, definition_version, mode, trigger, state, \
                 attempt, scheduled_for, queued_at, rows_read, inserted, updated, unchanged, deleted, \
                 failed) VALUES (?, ?, ?, ?, 'queued', 0, ?, {now}, 0, 0, 0, 0, 0, 0) RETURNING id",
                now = clock::now(backend)
            ),
            [
                new.integration.clone().into(),
                version.into(),
                new.mode.as_str().into(),
                new.trigger.as_str().into(),
                new.scheduled_for.into(),
            ],
        );
        match db.query_one_raw(insert).await {
            Ok(Some(row)) => {
                return Ok(Enqueued {
                    run_id: row.try_get_by_index(0)?,
                    created: true,
                    ring: true,
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
                    let ring = new.trigger != Trigger::Schedule
                        && existing.retry_at.is_some()
                        && make_due(db, existing.id).await?;
                    return Ok(Enqueued {
                        run_id: existing.id,
                        created: false,
                        ring,
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

/// Makes a waiting retry due now; true when it was still waiting.
async fn make_due(db: &DatabaseConnection, run_id: i64) -> Result<bool, RunError> {
    let done = db
        .execute_raw(statement(
            db.get_database_backend(),
            "UPDATE ferry_runs SET retry_at = NULL \
             WHERE id = ? AND state = 'queued' AND retry_at IS NOT NULL",
            [run_id.into()],
        ))
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Records that a job of the run was pushed, due after `delay`: every push is recorded, so the
/// reconciler re-pushes only a run whose last job is long overdue (invariant 1: one live job per
/// queued run).
pub async fn mark_pushed(
    db: &DatabaseConnection,
    run_id: i64,
    delay: Option<Duration>,
) -> Result<(), RunError> {
    let backend = db.get_database_backend();
    db.execute_raw(statement(
        backend,
        &format!(
            "UPDATE ferry_runs SET pushed_at = {due} WHERE id = ?",
            due = clock::after(backend)
        ),
        [
            clock::millis(delay.unwrap_or_default()).into(),
            run_id.into(),
        ],
    ))
    .await?;
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
pub async fn claim(
    db: &DatabaseConnection,
    run_id: i64,
    owner: &str,
    lease_for: Duration,
) -> Result<Claim, RunError> {
    let backend = db.get_database_backend();
    let now = clock::now(backend);
    let update = statement(
        backend,
        &format!(
            "UPDATE ferry_runs SET state = 'running', lease_owner = ?, \
             lease_token = COALESCE(lease_token, 0) + 1, lease_expires_at = {expiry}, \
             started_at = COALESCE(started_at, {now}), attempt = attempt + 1, retry_at = NULL \
             WHERE id = ? AND state = 'queued' AND (retry_at IS NULL OR retry_at <= {now}) \
             RETURNING lease_token",
            expiry = clock::after(backend),
        ),
        [owner.into(), clock::millis(lease_for).into(), run_id.into()],
    );
    match db.query_one_raw(update).await {
        Ok(Some(row)) => {
            let token: i64 = row.try_get_by_index(0)?;
            let model = run::Entity::find_by_id(run_id)
                .one(db)
                .await?
                .ok_or(DbErr::RecordNotFound(format!("run {run_id}")))?;
            let lease = Lease {
                run_id,
                integration: model.integration.clone(),
                owner: owner.to_string(),
                token,
                duration: lease_for,
            };
            Ok(Claim::Claimed(Box::new((lease, model))))
        }
        Ok(None) => Ok(match queued_wait(db, run_id).await? {
            Some(wait) if !wait.is_zero() => Claim::NotYet(wait),
            _ => Claim::NotQueued,
        }),
        Err(e) if is_unique_violation(&e) => Ok(Claim::Busy),
        Err(e) => Err(e.into()),
    }
}

/// For a queued run, how long until it is due (zero when it is); `None` when it is not queued.
async fn queued_wait(db: &impl ConnectionTrait, run_id: i64) -> Result<Option<Duration>, RunError> {
    let backend = db.get_database_backend();
    let row = db
        .query_one_raw(statement(
            backend,
            &format!(
                "SELECT {} FROM ferry_runs WHERE id = ? AND state = 'queued'",
                clock::millis_until(backend, "COALESCE(retry_at, queued_at)")
            ),
            [run_id.into()],
        ))
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let millis: f64 = row.try_get_by_index(0)?;
    Ok(Some(Duration::from_millis(millis.max(0.0).ceil() as u64)))
}

/// The queued run of `integration` and how long until it is due, if there is one: what a worker
/// whose run of the integration just ended pushes next.
pub async fn next_queued(
    db: &impl ConnectionTrait,
    integration: &str,
) -> Result<Option<(i64, Duration)>, RunError> {
    let Some(run_id) = queued_run(db, integration).await? else {
        return Ok(None);
    };
    Ok(queued_wait(db, run_id).await?.map(|wait| (run_id, wait)))
}

/// Adds a page's counts to the run and renews its lease, inside the page's transaction.
pub async fn add_progress(
    txn: &impl ConnectionTrait,
    lease: &Lease,
    rows_read: u64,
    counts: PageCounts,
    checkpoint: Option<&Checkpoint>,
) -> Result<(), RunError> {
    fenced(
        txn,
        lease,
        "rows_read = rows_read + ?, inserted = inserted + ?, updated = updated + ?, \
         unchanged = unchanged + ?, failed = failed + ?, skipped = skipped + ?, \
         deferred = deferred + ?, collapsed = collapsed + ?, \
         checkpoint_after = COALESCE(?, checkpoint_after)",
        vec![
            (rows_read as i64).into(),
            (counts.inserted as i64).into(),
            (counts.updated as i64).into(),
            (counts.unchanged as i64).into(),
            (counts.failed as i64).into(),
            (counts.skipped as i64).into(),
            (counts.deferred as i64).into(),
            (counts.collapsed as i64).into(),
            checkpoint.map(Checkpoint::to_json).into(),
        ],
        Hold::Renew,
    )
    .await
}

/// Adds a reconcile's deletes and the keys it read, inside its transaction.
pub async fn add_deleted(
    txn: &impl ConnectionTrait,
    lease: &Lease,
    rows_read: u64,
    deleted: u64,
) -> Result<(), RunError> {
    fenced(
        txn,
        lease,
        "deleted = deleted + ?, rows_read = rows_read + ?",
        vec![(deleted as i64).into(), (rows_read as i64).into()],
        Hold::Renew,
    )
    .await
}

/// What a run starts from, recorded once it knows: the connection version it executes, the
/// checkpoint it reads from (`None`: from the start) and, when it reads everything although it was
/// asked for an incremental run, `Mode::Full` and why. A later attempt that resumes after committed
/// pages keeps the first attempt's `checkpoint_before`.
pub async fn record_start(
    db: &impl ConnectionTrait,
    lease: &Lease,
    connection_version: i32,
    checkpoint_before: Option<&str>,
    full_because: Option<&str>,
) -> Result<(), RunError> {
    let mut set = "connection_version = ?, checkpoint_before = CASE WHEN checkpoint_after IS NULL \
                   THEN ? ELSE checkpoint_before END"
        .to_string();
    let mut values: Vec<Value> = vec![
        connection_version.into(),
        checkpoint_before.map(str::to_string).into(),
    ];
    if let Some(reason) = full_because {
        set.push_str(", mode = ?, reason = ?");
        values.extend([Mode::Full.as_str().into(), reason.to_string().into()]);
    }
    fenced(db, lease, &set, values, Hold::Renew).await
}

/// Extends the lease while a long page is read; `LeaseLost` when it is no longer ours.
pub async fn renew(db: &DatabaseConnection, lease: &Lease) -> Result<(), RunError> {
    fenced(db, lease, "", Vec::new(), Hold::Renew).await
}

/// Stores the records of a page that could not be written, with their payloads and the values mapped
/// before each failure: `(key, message, payload, mapped)`. With `known_once`, a record whose failure
/// is already open with the same payload (the overlap window or a full re-read met it again,
/// unchanged) is not logged again, so an unchanged bad record does not leave every run `partial`;
/// a retry of failed records asked for them, so it logs each outcome. Returns how many were logged.
pub async fn record_failures(
    txn: &impl ConnectionTrait,
    lease: &Lease,
    failures: &[(String, String, String, String)],
    known_once: bool,
) -> Result<u64, RunError> {
    if failures.is_empty() {
        return Ok(0);
    }
    let open = if known_once {
        super::failures::open_payloads(
            txn,
            &lease.integration,
            failures.iter().map(|(key, ..)| key.as_str()),
        )
        .await?
    } else {
        Default::default()
    };
    let new: Vec<_> = failures
        .iter()
        .filter(|(key, _, payload, _)| !open.contains(&(key.clone(), payload.clone())))
        .collect();
    if new.is_empty() {
        return Ok(0);
    }
    let now = Utc::now().fixed_offset();
    let mut values: Vec<Value> = Vec::with_capacity(new.len() * 7);
    let mut tuples = Vec::with_capacity(new.len());
    for (key, message, payload, mapped) in &new {
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
    Ok(new.len() as u64)
}

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
        Ok(()) => Ok(HandedBack::Requeued),
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

async fn queued_run(db: &impl ConnectionTrait, integration: &str) -> Result<Option<i64>, RunError> {
    Ok(run::Entity::find()
        .filter(run::Column::Integration.eq(integration))
        .filter(run::Column::State.eq(RunState::Queued.as_str()))
        .one(db)
        .await?
        .map(|r| r.id))
}
