//! Runs and their state machine: queued → running → succeeded | partial | failed | cancelled |
//! interrupted.
//!
//! Every transition is one conditional UPDATE, so the database decides races: a worker *claims* a
//! queued run (invariant 1), writes only while it holds the lease, and finishes only its own run.

pub mod attempts;
pub mod callbacks;
mod cancel;
mod counters;
mod enqueue;
mod failures;
mod finish;
mod lease;
mod progress;
mod recovery;
mod ticks;

pub use attempts::{Attempt, attempts};
pub use cancel::{CancelError, Cancelled, cancel, cancel_requested, end_cancelled};
pub use counters::{DURATION_BUCKETS, count_finished, label};
pub use enqueue::{Enqueued, NewRun, enqueue, mark_pushed, next_queued};
pub use failures::{
    RecordFailure, first_run_failures, has_open_failures, open_failures, resolve_failures,
    run_failures,
};
pub use finish::{HandedBack, Outcome, finish, hand_back};
pub use lease::{Claim, Lease, claim, renew};
pub use progress::{
    add_export_progress, add_progress, add_reconciled, add_waits, record_direction,
    record_failures, record_full_because, record_start,
};
pub use recovery::{Recovered, lost_jobs, prune, recover_expired};
pub use ticks::{RecordedTick, enqueue_ticks, mark_all_pushed};

use std::fmt;

use chrono::{DateTime, FixedOffset};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::Serialize;

use crate::storage::entities::run;

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
    /// Ended before it finished, but nothing was given up: its work goes on in the queued run of the
    /// same integration, from the checkpoint (a lost worker, or a retry, met a run already queued).
    /// Not a failure: alerts and the dead count leave it out.
    Interrupted,
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
            RunState::Interrupted => "interrupted",
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
            RunState::Interrupted,
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
    /// Only the records whose failure is still open, re-read from the source by key.
    #[serde(rename = "retry_failed")]
    RetryFailed,
    /// Only the source's key set, to delete the target rows whose key vanished.
    Reconcile,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Incremental => "incremental",
            Mode::Full => "full",
            Mode::RetryFailed => "retry_failed",
            Mode::Reconcile => "reconcile",
        }
    }

    /// Whether a queued run of this mode does everything a trigger of `requested` asks for, so the
    /// trigger can join it: the same mode, or a full run standing in for an incremental one.
    pub fn covers(self, requested: Mode) -> bool {
        self == requested || (self == Mode::Full && requested == Mode::Incremental)
    }

    /// The mode stored on a run row; anything unknown reads as incremental.
    pub fn parse(text: &str) -> Mode {
        match text {
            "full" => Mode::Full,
            "retry_failed" => Mode::RetryFailed,
            "reconcile" => Mode::Reconcile,
            _ => Mode::Incremental,
        }
    }
}

/// Who asked for a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Manual,
    Schedule,
    Api,
    /// The web console's Run (or replay) button.
    Console,
    /// An integration this one looks up succeeded while records of this one were parked.
    Lookup,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Manual => "manual",
            Trigger::Schedule => "schedule",
            Trigger::Api => "api",
            Trigger::Console => "console",
            Trigger::Lookup => "lookup",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("database error: {0}")]
    Database(#[from] DbErr),
    #[error("no integration named {0:?} has been applied")]
    UnknownIntegration(String),
    /// The integration is disabled (`ferry disable`): not scheduled, and every trigger is refused.
    #[error("{integration} is disabled ({since}); `ferry enable {integration}` lets it run again")]
    Disabled { integration: String, since: String },
    /// The integration was deleted (`ferry delete`); applying its definition again brings it back.
    #[error("{integration} was deleted ({since}); `ferry apply` its definition to bring it back")]
    Deleted { integration: String, since: String },
    #[error("run {0} is no longer ours: its lease expired and another worker took it over")]
    LeaseLost(i64),
    #[error("stored definition is unreadable: {0}")]
    Definition(String),
    #[error(
        "{integration} already has a queued {queued} run (run {run_id}); a {requested} run can be \
         started once that one has begun"
    )]
    ModeConflict {
        integration: String,
        run_id: i64,
        queued: &'static str,
        requested: &'static str,
    },
}

/// A write refused by one of the partial unique indexes that keep one queued and one running run per
/// integration (invariant 3).
fn is_unique_violation(e: &DbErr) -> bool {
    matches!(
        e.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
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
    /// Why the run read what it read, when that differs from what was asked ("the filter changed").
    pub reason: Option<String>,
    pub trigger: String,
    pub definition_version: i32,
    /// The version of the connection definition the run executed (once it started).
    pub connection_version: Option<i32>,
    pub attempt: i32,
    pub inserted: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub deleted: i64,
    pub failed: i64,
    /// Records parked by a `defer` lookup; retried on later runs.
    pub deferred: i64,
    /// Records a `skip` lookup left out.
    pub skipped: i64,
    /// Rows that mapped to a target key another row of the same page also mapped to: the last one of
    /// them was written. Any makes the run `partial`.
    pub collapsed: i64,
    /// Rows folded onto a target row another row of the same page also maps to, as the definition's
    /// `target.key` intends (the last is written).
    pub folded: i64,
    pub rows_read: i64,
    /// Pages committed, each with its checkpoint.
    pub pages: i64,
    pub duration_ms: Option<i64>,
    pub queued_at: DateTime<FixedOffset>,
    pub started_at: Option<DateTime<FixedOffset>>,
    pub finished_at: Option<DateTime<FixedOffset>>,
    pub checkpoint_before: Option<serde_json::Value>,
    pub checkpoint_after: Option<serde_json::Value>,
    pub error: Option<String>,
    /// When a retrying run is due again.
    pub retry_at: Option<DateTime<FixedOffset>>,
    pub callback_status: Option<String>,
    /// Requests repeated because the source was busy (429/502/503), over the run's attempts.
    pub requests_retried: i64,
    /// Milliseconds spent waiting before those repeats.
    pub retry_wait_ms: i64,
    /// The last busy answer that was repeated.
    pub last_retried_error: Option<String>,
    /// What the run wrote to the remote system, for an integration that exports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export: Option<ExportCounts>,
}

/// A run's outbound counts: records the remote system got created, updated and deleted, those that
/// needed no write, those it refused (each a failed record with the payload sent), and conflicts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ExportCounts {
    pub inserted: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub deleted: i64,
    pub failed: i64,
    pub conflicts: i64,
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
            reason: run.reason,
            trigger: run.trigger,
            definition_version: run.definition_version,
            connection_version: run.connection_version,
            attempt: run.attempt,
            inserted: run.inserted,
            updated: run.updated,
            unchanged: run.unchanged,
            deleted: run.deleted,
            failed: run.failed,
            deferred: run.deferred,
            skipped: run.skipped,
            collapsed: run.collapsed,
            folded: run.folded,
            rows_read: run.rows_read,
            pages: run.pages,
            queued_at: run.queued_at,
            started_at: run.started_at,
            finished_at: run.finished_at,
            checkpoint_before: json(run.checkpoint_before),
            checkpoint_after: json(run.checkpoint_after),
            error: run.error,
            retry_at: run.retry_at,
            callback_status: run.callback_status,
            requests_retried: run.requests_retried,
            retry_wait_ms: run.retry_wait_ms,
            last_retried_error: run.last_retried_error,
            export: run.direction.is_some().then_some(ExportCounts {
                inserted: run.export_inserted,
                updated: run.export_updated,
                unchanged: run.export_unchanged,
                deleted: run.export_deleted,
                failed: run.export_failed,
                conflicts: run.export_conflicts,
            }),
        }
    }
}
