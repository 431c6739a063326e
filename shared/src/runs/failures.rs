//! Failed records after the fact: listing a run's failures (`ferry errors`), the keys still open for
//! `ferry run --retry-failed`, and clearing a failure once its record was written.

use chrono::{DateTime, FixedOffset, Utc};
use sea_orm::{ConnectionTrait, DbErr, Value};
use serde::Serialize;

use crate::storage::statement;

/// One failed record as an operator sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordFailure {
    pub run_id: i64,
    pub integration: String,
    pub record_key: String,
    pub message: String,
    /// The source row as it was read.
    pub payload: serde_json::Value,
    /// The target columns mapped before the failure (column → value); empty for failures recorded
    /// before Ferry kept them.
    pub mapped: serde_json::Value,
    pub created_at: DateTime<FixedOffset>,
    /// When a later run wrote the record; `None` while it is still failing.
    pub resolved_at: Option<DateTime<FixedOffset>>,
}

/// The failed records of `run_id`, in the order they were recorded.
pub async fn run_failures(
    db: &impl ConnectionTrait,
    run_id: i64,
) -> Result<Vec<RecordFailure>, DbErr> {
    first_run_failures(db, run_id, i64::MAX).await
}

/// The first `limit` failed records of `run_id` (a page that shows some reads no more).
pub async fn first_run_failures(
    db: &impl ConnectionTrait,
    run_id: i64,
    limit: i64,
) -> Result<Vec<RecordFailure>, DbErr> {
    let rows = db
        .query_all_raw(statement(
            db.get_database_backend(),
            "SELECT run_id, integration, record_key, message, payload, created_at, resolved_at, mapped \
             FROM ferry_run_errors WHERE run_id = ? ORDER BY id LIMIT ?",
            [run_id.into(), limit.into()],
        ))
        .await?;
    rows.iter()
        .map(|r| {
            let payload: String = r.try_get_by_index(4)?;
            Ok(RecordFailure {
                run_id: r.try_get_by_index(0)?,
                integration: r.try_get_by_index(1)?,
                record_key: r.try_get_by_index(2)?,
                message: r.try_get_by_index(3)?,
                // A record that could not be decoded keeps the text the service sent.
                payload: serde_json::from_str(&payload)
                    .unwrap_or_else(|_| serde_json::Value::String(payload.clone())),
                created_at: r.try_get_by_index(5)?,
                resolved_at: r.try_get_by_index(6)?,
                mapped: r
                    .try_get_by_index::<Option<String>>(7)?
                    .and_then(|m| serde_json::from_str(&m).ok())
                    .unwrap_or_else(|| serde_json::Value::Object(Default::default())),
            })
        })
        .collect()
}

/// Keys of `integration`'s records that failed and were not written since, with the payload of the
/// latest failure (whose key fields re-read the record from the source): the first `limit` keys after
/// `after` in key order. `--retry-failed` pages through them with the last key it got, so a million
/// open failures cost a page of memory; a record that fails again during the replay gets its new
/// failure under a key already passed, so the paging ends.
pub async fn open_failures(
    db: &impl ConnectionTrait,
    integration: &str,
    after: &str,
    limit: u64,
) -> Result<Vec<(String, String)>, DbErr> {
    let rows = db
        .query_all_raw(statement(
            db.get_database_backend(),
            "SELECT e.record_key, e.payload FROM ferry_run_errors e \
             WHERE e.integration = ? AND e.resolved_at IS NULL AND e.record_key > ? \
             AND e.id = (SELECT max(l.id) FROM ferry_run_errors l WHERE l.integration = e.integration \
             AND l.record_key = e.record_key AND l.resolved_at IS NULL) ORDER BY e.record_key LIMIT ?",
            [integration.into(), after.into(), (limit as i64).into()],
        ))
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get_by_index(0)?, r.try_get_by_index(1)?)))
        .collect()
}

/// Whether `integration` has failures that a written record would clear (checked once per run so runs
/// without failures pay nothing per page).
pub async fn has_open_failures(
    db: &impl ConnectionTrait,
    integration: &str,
) -> Result<bool, DbErr> {
    let row = db
        .query_one_raw(statement(
            db.get_database_backend(),
            "SELECT EXISTS (SELECT 1 FROM ferry_run_errors WHERE integration = ? AND resolved_at IS NULL)",
            [integration.into()],
        ))
        .await?;
    Ok(match row {
        Some(row) => row.try_get_by_index(0)?,
        None => false,
    })
}

/// Marks the open failures of `keys` resolved: those records were just written.
pub async fn resolve_failures(
    txn: &impl ConnectionTrait,
    integration: &str,
    keys: &[String],
) -> Result<(), DbErr> {
    let now = Utc::now().fixed_offset();
    for chunk in keys.chunks(10_000) {
        let marks = vec!["?"; chunk.len()].join(", ");
        let mut values: Vec<Value> = vec![now.into(), integration.into()];
        values.extend(chunk.iter().map(|k| Value::from(k.clone())));
        txn.execute_raw(statement(
            txn.get_database_backend(),
            &format!(
                "UPDATE ferry_run_errors SET resolved_at = ? WHERE integration = ? \
                 AND resolved_at IS NULL AND record_key IN ({marks})"
            ),
            values,
        ))
        .await?;
    }
    Ok(())
}

/// `(key, payload)` of the open failures of `integration` among `keys`: what a page about to record
/// failures compares with, so a failure already open for the same payload is not logged twice.
pub(super) async fn open_payloads<'a>(
    db: &impl ConnectionTrait,
    integration: &str,
    keys: impl Iterator<Item = &'a str>,
) -> Result<std::collections::HashSet<(String, String)>, DbErr> {
    let keys: Vec<&str> = keys.collect();
    let mut open = std::collections::HashSet::new();
    for chunk in keys.chunks(10_000) {
        let marks = vec!["?"; chunk.len()].join(", ");
        let mut values: Vec<Value> = vec![integration.into()];
        values.extend(chunk.iter().map(|k| Value::from(k.to_string())));
        let rows = db
            .query_all_raw(statement(
                db.get_database_backend(),
                &format!(
                    "SELECT record_key, payload FROM ferry_run_errors WHERE integration = ? \
                     AND resolved_at IS NULL AND record_key IN ({marks})"
                ),
                values,
            ))
            .await?;
        for row in rows {
            open.insert((row.try_get_by_index(0)?, row.try_get_by_index(1)?));
        }
    }
    Ok(open)
}
