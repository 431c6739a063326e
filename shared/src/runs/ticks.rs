//! Recording many cron ticks at once: the leader of a fleet finds thousands of integrations due in the
//! same second, and one statement per chunk records them all (one round trip instead of four per tick).
//!
//! The rules are those of `enqueue` for a schedule trigger, spelled in SQL: the run pins the
//! integration's current version, a tick of an integration that is not enabled is not recorded, a tick
//! already recorded is not recorded again (invariant 4, the unique index on (integration,
//! scheduled_for)), and a tick meeting a queued run of its integration joins it (invariant 3, the
//! partial unique index): both conflicts leave the row out (`ON CONFLICT DO NOTHING`), and a tick that
//! joins a queued run rings nothing, as `enqueue` does for a schedule trigger.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, Value};

use super::{Mode, RunError, Trigger};
use crate::storage::{clock, statement};

/// Ticks per statement: two parameters each, well under every engine's limit on parameters.
const CHUNK: usize = 500;

/// A tick recorded as a new queued run, whose job is still to be pushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedTick {
    pub integration: String,
    pub run_id: i64,
}

/// Records the incremental run of each `(integration, scheduled_for)` tick that starts a new run, and
/// returns those runs. Ticks left out joined a queued run, were recorded before, or belong to an
/// integration that is unknown, disabled or deleted. Each integration appears at most once in `ticks`.
pub async fn enqueue_ticks(
    db: &DatabaseConnection,
    ticks: &[(String, DateTime<Utc>)],
) -> Result<Vec<RecordedTick>, RunError> {
    let backend = db.get_database_backend();
    let mut recorded = Vec::with_capacity(ticks.len());
    for chunk in ticks.chunks(CHUNK) {
        let rows = vec!["(?, ?)"; chunk.len()].join(", ");
        // VALUES names its columns column1, column2 on PostgreSQL and SQLite alike.
        let sql = format!(
            "INSERT INTO ferry_runs (integration, definition_version, mode, trigger, state, attempt, \
             scheduled_for, queued_at, rows_read, inserted, updated, unchanged, deleted, failed) \
             SELECT t.column1, \
             (SELECT max(i.version) FROM ferry_integrations i WHERE i.name = t.column1), \
             ?, ?, 'queued', 0, t.column2, {now}, 0, 0, 0, 0, 0, 0 \
             FROM (VALUES {rows}) AS t \
             WHERE EXISTS (SELECT 1 FROM ferry_integrations i WHERE i.name = t.column1) \
             AND NOT EXISTS (SELECT 1 FROM ferry_integration_lifecycle l \
             WHERE l.name = t.column1 AND l.state <> 'enabled') \
             ON CONFLICT DO NOTHING RETURNING id, integration",
            now = clock::now(backend),
        );
        let mut values: Vec<Value> = vec![
            Mode::Incremental.as_str().into(),
            Trigger::Schedule.as_str().into(),
        ];
        // The mode and trigger come first in the text (the SELECT list precedes VALUES).
        for (integration, at) in chunk {
            values.push(integration.clone().into());
            values.push(at.fixed_offset().into());
        }
        for row in db.query_all_raw(statement(backend, &sql, values)).await? {
            recorded.push(RecordedTick {
                run_id: row.try_get_by_index(0)?,
                integration: row.try_get_by_index(1)?,
            });
        }
    }
    Ok(recorded)
}

/// Records that the jobs of `run_ids` were pushed just now (`enqueue::mark_pushed` for many).
pub async fn mark_all_pushed(db: &DatabaseConnection, run_ids: &[i64]) -> Result<(), RunError> {
    let backend = db.get_database_backend();
    for chunk in run_ids.chunks(CHUNK) {
        let ids = vec!["?"; chunk.len()].join(", ");
        let sql = format!(
            "UPDATE ferry_runs SET pushed_at = {now} WHERE id IN ({ids})",
            now = clock::now(backend),
        );
        let values = chunk.iter().map(|id| Value::from(*id));
        db.execute_raw(statement(backend, &sql, values)).await?;
    }
    Ok(())
}
