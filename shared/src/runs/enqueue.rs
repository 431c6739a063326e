//! Recording runs and their pushes: a trigger becomes a queued run (or joins the one queued,
//! invariant 3), and every push of its job is recorded so recovery knows a lost one.

use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    QueryOrder,
};

use super::{Mode, RunError, RunState, Trigger, callbacks, is_unique_violation};
use crate::definitions::latest_integration;
use crate::definitions::lifecycle::{self, State};
use crate::storage::entities::run;
use crate::storage::{clock, statement};

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
    /// For a run a lookup wakes: the integrations whose runs led to it, first first. A run never wakes
    /// an integration in its own chain (`sync::dependents`), so two integrations that defer on each
    /// other cannot wake each other for ever.
    pub woken_by: Vec<String>,
}

impl NewRun {
    pub fn manual(integration: &str, mode: Mode) -> NewRun {
        NewRun {
            integration: integration.to_string(),
            mode,
            trigger: Trigger::Manual,
            scheduled_for: None,
            callback_url: None,
            woken_by: Vec::new(),
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
    refuse_unless_enabled(db, &new.integration).await?;
    let backend = db.get_database_backend();
    // A conflicting queued run can be claimed between our insert and our read; a few tries settle it.
    for _ in 0..5 {
        let insert = statement(
            backend,
            &format!(
                "INSERT INTO ferry_runs (integration, definition_version, mode, trigger, state, \
                 attempt, scheduled_for, queued_at, rows_read, inserted, updated, unchanged, deleted, \
                 failed, woken_by) VALUES (?, ?, ?, ?, 'queued', 0, ?, {now}, 0, 0, 0, 0, 0, 0, ?) \
                 RETURNING id",
                now = clock::now(backend)
            ),
            [
                new.integration.clone().into(),
                version.into(),
                new.mode.as_str().into(),
                new.trigger.as_str().into(),
                new.scheduled_for.into(),
                (!new.woken_by.is_empty())
                    .then(|| serde_json::to_string(&new.woken_by).unwrap_or_default())
                    .into(),
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

/// The one place a trigger of a disabled or deleted integration is refused (`definitions::lifecycle`):
/// every trigger — CLI, API, cron, a lookup's dependents — becomes a run here.
async fn refuse_unless_enabled(db: &DatabaseConnection, integration: &str) -> Result<(), RunError> {
    let standing = lifecycle::standing(db, integration).await?;
    let (integration, since) = (integration.to_string(), standing.when());
    match standing.state {
        State::Enabled => Ok(()),
        State::Disabled => Err(RunError::Disabled { integration, since }),
        State::Deleted => Err(RunError::Deleted { integration, since }),
    }
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
/// recovery re-pushes only a run whose last job is long overdue (invariant 1: one live job per
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

/// SQL for how long a queued run has left to wait, in milliseconds (negative once due): until its
/// retry time, or its queued time. `queued_wait` and the claim's refusal both read it.
pub(super) fn wait_sql(backend: sea_orm::DbBackend) -> String {
    clock::millis_until(backend, "COALESCE(retry_at, queued_at)")
}

/// For a queued run, how long until it is due (zero when it is); `None` when it is not queued.
pub(super) async fn queued_wait(
    db: &impl ConnectionTrait,
    run_id: i64,
) -> Result<Option<Duration>, RunError> {
    let backend = db.get_database_backend();
    let row = db
        .query_one_raw(statement(
            backend,
            &format!(
                "SELECT {} FROM ferry_runs WHERE id = ? AND state = 'queued'",
                wait_sql(backend)
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

pub(super) async fn queued_run(
    db: &impl ConnectionTrait,
    integration: &str,
) -> Result<Option<i64>, RunError> {
    Ok(run::Entity::find()
        .filter(run::Column::Integration.eq(integration))
        .filter(run::Column::State.eq(RunState::Queued.as_str()))
        .one(db)
        .await?
        .map(|r| r.id))
}
