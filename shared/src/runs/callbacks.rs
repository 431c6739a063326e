//! A run's callbacks (`ferry_run_callbacks`): one row per trigger that asked for one, so a trigger that
//! joins a queued run keeps its own URL and every caller hears when the run ends. The run's
//! `callback_status` is the summary of its callbacks, written only here.

use chrono::Utc;
use sea_orm::{ConnectionTrait, DatabaseConnection};

use super::RunError;
use crate::storage::{Dialect, statement};

/// A callback still to be delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callback {
    pub id: i64,
    pub url: String,
}

/// What a callback's delivery came to: `delivered`, or `failed: <why>`.
pub const DELIVERED: &str = "delivered";
const PENDING: &str = "pending";

/// Adds `url` to the callbacks of run `run_id` while the run has not ended; false when it already
/// had (then a new run is needed to carry it). Race-free against the run's end: on Postgres the run
/// row is share-locked by the insert, so the worker's final UPDATE waits for it to commit and then
/// finds the callback; SQLite has one writer at a time.
pub async fn register(db: &DatabaseConnection, run_id: i64, url: &str) -> Result<bool, RunError> {
    let backend = db.get_database_backend();
    let lock = Dialect::from(backend).share_lock();
    let added = db
        .execute_raw(statement(
            backend,
            &format!(
                "INSERT INTO ferry_run_callbacks (run_id, url, status, created_at) \
                 SELECT id, ?, ?, ? FROM ferry_runs \
                 WHERE id = ? AND state IN ('queued', 'running'){lock}"
            ),
            [
                url.into(),
                PENDING.into(),
                Utc::now().fixed_offset().into(),
                run_id.into(),
            ],
        ))
        .await?;
    if added.rows_affected() == 0 {
        return Ok(false);
    }
    settle(db, run_id).await?;
    Ok(true)
}

/// The callbacks of run `run_id` not yet delivered, oldest first.
pub async fn pending(db: &DatabaseConnection, run_id: i64) -> Result<Vec<Callback>, RunError> {
    let rows = db
        .query_all_raw(statement(
            db.get_database_backend(),
            "SELECT id, url FROM ferry_run_callbacks WHERE run_id = ? AND status = ? ORDER BY id",
            [run_id.into(), PENDING.into()],
        ))
        .await?;
    rows.into_iter()
        .map(|row| {
            Ok(Callback {
                id: row.try_get_by_index(0)?,
                url: row.try_get_by_index(1)?,
            })
        })
        .collect()
}

/// Records how one delivery went. Deliveries run at the same time, so the run's summary is written
/// once they all have ([`settle`]): two summaries written side by side would each miss the other's
/// outcome, and the one committed last would win.
pub async fn record(
    db: &DatabaseConnection,
    callback: &Callback,
    outcome: &str,
) -> Result<(), RunError> {
    db.execute_raw(statement(
        db.get_database_backend(),
        "UPDATE ferry_run_callbacks SET status = ? WHERE id = ?",
        [outcome.into(), callback.id.into()],
    ))
    .await?;
    Ok(())
}

/// Writes the run's `callback_status` from its callbacks: when one is added, and once every delivery
/// is recorded.
pub async fn settle(db: &DatabaseConnection, run_id: i64) -> Result<(), RunError> {
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(statement(
            backend,
            "SELECT status FROM ferry_run_callbacks WHERE run_id = ? ORDER BY id",
            [run_id.into()],
        ))
        .await?;
    let statuses = rows
        .into_iter()
        .map(|row| row.try_get_by_index::<String>(0))
        .collect::<Result<Vec<_>, _>>()?;
    db.execute_raw(statement(
        backend,
        "UPDATE ferry_runs SET callback_status = ? WHERE id = ?",
        [summarise(&statuses).into(), run_id.into()],
    ))
    .await?;
    Ok(())
}

/// One status for a run's callbacks: the callback's own when there is one; with several, `pending`
/// while any is, `delivered` when all were, else how many failed and the first reason.
fn summarise(statuses: &[String]) -> Option<String> {
    match statuses {
        [] => None,
        [only] => Some(only.clone()),
        _ if statuses.iter().any(|s| s == PENDING) => Some(PENDING.into()),
        _ => {
            let failed: Vec<&String> = statuses.iter().filter(|s| *s != DELIVERED).collect();
            Some(match failed.first() {
                None => DELIVERED.into(),
                Some(first) => format!(
                    "failed: {} of {} callbacks ({})",
                    failed.len(),
                    statuses.len(),
                    first.trim_start_matches("failed: ")
                ),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::summarise;

    fn of(statuses: &[&str]) -> Option<String> {
        summarise(&statuses.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn a_runs_callback_status_sums_up_its_callbacks() {
        assert_eq!(of(&[]), None);
        assert_eq!(
            of(&["failed: HTTP 500"]).as_deref(),
            Some("failed: HTTP 500")
        );
        assert_eq!(of(&["delivered", "pending"]).as_deref(), Some("pending"));
        assert_eq!(
            of(&["delivered", "delivered"]).as_deref(),
            Some("delivered")
        );
        assert_eq!(
            of(&["delivered", "failed: HTTP 404", "failed: timed out"]).as_deref(),
            Some("failed: 2 of 3 callbacks (HTTP 404)")
        );
    }
}
