//! Parked records: rows whose `defer` lookup did not resolve. They are stored with their payload and
//! replayed at the start of every later run; a record that is written or fails on its own leaves the
//! parking. Parking happens in the page's transaction, so it is exactly as durable as the page.

use chrono::Utc;
use sea_orm::{ConnectionTrait, DbErr, Value};

use crate::runs::Lease;
use crate::storage::{clock, statement};

/// A parked record as read back for replay.
#[derive(Debug, Clone)]
pub struct ParkedRecord {
    pub record_key: String,
    pub payload: String,
    /// First parked more than `max_defer` ago: a run fails it instead of replaying it.
    pub overdue: bool,
}

/// Removes `unpark` keys and parks `deferred` `(key, reason, payload)` (the run counts them with the
/// page's other counts).
pub async fn park_and_unpark(
    txn: &impl ConnectionTrait,
    lease: &Lease,
    unpark: &[String],
    deferred: &[(String, String, String)],
) -> Result<(), DbErr> {
    let backend = txn.get_database_backend();
    for chunk in unpark.chunks(10_000) {
        let marks = vec!["?"; chunk.len()].join(", ");
        let mut values: Vec<Value> = vec![lease.integration.clone().into()];
        values.extend(chunk.iter().map(|k| Value::from(k.clone())));
        txn.execute_raw(statement(
            backend,
            &format!(
                "DELETE FROM ferry_deferred WHERE integration = ? AND record_key IN ({marks})"
            ),
            values,
        ))
        .await?;
    }
    if deferred.is_empty() {
        return Ok(());
    }
    let now = Utc::now().fixed_offset();
    for chunk in deferred.chunks(5_000) {
        let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * 6);
        let mut tuples = Vec::with_capacity(chunk.len());
        // First parked by the database's clock, as the overdue test compares it (`overdue_records`).
        let tuple = format!("(?, ?, ?, ?, ?, ?, {})", clock::now(backend));
        for (key, reason, payload) in chunk {
            tuples.push(tuple.as_str());
            values.extend([
                lease.integration.clone().into(),
                key.clone().into(),
                payload.clone().into(),
                reason.clone().into(),
                lease.run_id.into(),
                now.into(),
            ]);
        }
        txn.execute_raw(statement(
            backend,
            &format!(
                "INSERT INTO ferry_deferred (integration, record_key, payload, reason, run_id, parked_at, \
                 first_parked_at) VALUES {} ON CONFLICT (integration, record_key) DO UPDATE SET payload = EXCLUDED.payload, \
                 reason = EXCLUDED.reason, run_id = EXCLUDED.run_id, parked_at = EXCLUDED.parked_at, \
                 attempts = ferry_deferred.attempts + 1",
                tuples.join(", ")
            ),
            values,
        ))
        .await?;
    }
    Ok(())
}

/// Parked records of `integration` after `after` (record key order), at most `limit`, each saying
/// whether it is past `max_defer` (by the database's clock): replay reads them page by page so memory
/// stays bounded.
pub async fn parked_records(
    db: &impl ConnectionTrait,
    integration: &str,
    max_defer: std::time::Duration,
    after: &str,
    limit: u64,
) -> Result<Vec<ParkedRecord>, DbErr> {
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(statement(
            backend,
            &format!(
                "SELECT record_key, payload, CASE WHEN COALESCE(first_parked_at, parked_at) < {} \
                 THEN 1 ELSE 0 END FROM ferry_deferred WHERE integration = ? AND record_key > ? \
                 ORDER BY record_key LIMIT ?",
                clock::after(backend)
            ),
            [
                (-clock::millis(max_defer)).into(),
                integration.into(),
                after.into(),
                (limit as i64).into(),
            ],
        ))
        .await?;
    rows.iter()
        .map(|r| {
            Ok(ParkedRecord {
                record_key: r.try_get_by_index(0)?,
                payload: r.try_get_by_index(1)?,
                overdue: r.try_get_by_index::<i32>(2)? == 1,
            })
        })
        .collect()
}

/// A parked record that waited too long, with why it was parked.
#[derive(Debug, Clone)]
pub struct OverdueRecord {
    pub record_key: String,
    pub payload: String,
    pub reason: String,
}

/// Records of `integration` first parked more than `max_defer` ago (by the database's clock), at most
/// `limit`: they leave the parking as failed records.
pub async fn overdue_records(
    db: &impl ConnectionTrait,
    integration: &str,
    max_defer: std::time::Duration,
    limit: u64,
) -> Result<Vec<OverdueRecord>, DbErr> {
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(statement(
            backend,
            &format!(
                "SELECT record_key, payload, reason FROM ferry_deferred WHERE integration = ? \
                 AND COALESCE(first_parked_at, parked_at) < {} ORDER BY record_key LIMIT ?",
                clock::after(backend)
            ),
            [
                integration.into(),
                (-clock::millis(max_defer)).into(),
                (limit as i64).into(),
            ],
        ))
        .await?;
    rows.iter()
        .map(|r| {
            Ok(OverdueRecord {
                record_key: r.try_get_by_index(0)?,
                payload: r.try_get_by_index(1)?,
                reason: r.try_get_by_index(2)?,
            })
        })
        .collect()
}
