//! A run: one execution of an integration, from queued to a final state (see `crate::runs`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ferry_runs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub integration: String,
    pub definition_version: i32,
    pub mode: String,
    pub trigger: String,
    pub state: String,
    pub attempt: i32,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<DateTimeWithTimeZone>,
    pub scheduled_for: Option<DateTimeWithTimeZone>,
    pub queued_at: DateTimeWithTimeZone,
    pub started_at: Option<DateTimeWithTimeZone>,
    pub finished_at: Option<DateTimeWithTimeZone>,
    pub rows_read: i64,
    pub inserted: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub deleted: i64,
    pub failed: i64,
    /// Records parked because a `defer` lookup did not resolve yet.
    pub deferred: i64,
    pub checkpoint_before: Option<String>,
    pub checkpoint_after: Option<String>,
    pub error: Option<String>,
    pub retry_at: Option<DateTimeWithTimeZone>,
    pub pushed_at: Option<DateTimeWithTimeZone>,
    pub callback_url: Option<String>,
    pub callback_status: Option<String>,
    /// The fencing token of the current claim (see `crate::runs::Lease`).
    pub lease_token: Option<i64>,
    /// Why the run reads what it reads when that differs from its mode ("filter changed").
    pub reason: Option<String>,
    /// The version of the connection definition the run executed.
    pub connection_version: Option<i32>,
    /// Who asked the running run to stop (it ends `cancelled` at its next page boundary).
    pub cancel_requested_by: Option<String>,
    /// Records a `skip` lookup left out.
    pub skipped: i64,
    /// Rows of a page whose target key another row of the same page also had (the last was written).
    pub collapsed: i64,
    /// The same where the definition folds records on purpose (a non-key `target.key`).
    pub folded: i64,
    /// Requests repeated because the source was busy (429/502/503), over the run's attempts.
    pub requests_retried: i64,
    /// Milliseconds spent waiting before those repeats (backoff or the server's Retry-After).
    pub retry_wait_ms: i64,
    /// The last busy answer that was repeated.
    pub last_retried_error: Option<String>,
    /// The integrations whose runs woke this one through a lookup, first first, as a JSON array.
    pub woken_by: Option<String>,
    /// `export` or `bidirectional` for a run that writes to the remote system; `None` for an import.
    pub direction: Option<String>,
    /// Pages committed (each with its checkpoint).
    pub pages: i64,
    /// When the current (or last) attempt was claimed.
    pub attempt_started_at: Option<DateTimeWithTimeZone>,
    /// Records created, updated, found unchanged, deleted, refused and in conflict on the remote side.
    pub export_inserted: i64,
    pub export_updated: i64,
    pub export_unchanged: i64,
    pub export_deleted: i64,
    pub export_failed: i64,
    pub export_conflicts: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
