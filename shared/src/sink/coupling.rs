//! Coupling records (ARCHITECTURE.md, "Checkpoints and couplings"): one per (integration, source key), naming the target row that
//! record became, the source version and a hash of the values last written. They answer two questions
//! cheaply: which target rows does this integration own (a reconcile deletes only those; a row someone
//! else inserted is never touched), and did this record change since it was written (an unchanged one
//! — a `--full` re-read, the overlap window — is dropped before the writer, costing no target write).
//!
//! Per page: one SELECT of the known hashes for the page's keys (of rows still in the target), and one
//! multi-row upsert of the couplings of the rows written, inside the page's transaction (so a coupling
//! never claims a row whose write rolled back). A record without a coupling (a table from before
//! couplings, or a new record) is written and so adopted.

use std::collections::HashMap;

use sea_orm::{ConnectionTrait, DbErr, Statement, Value};
use serde_json::Value as Json;
use sha2::{Digest, Sha256};

use super::writer::PageWrite;
use crate::mapping::{Mapping, value_json};
use crate::storage::{Dialect, statement};

pub use crate::storage::dialect::Coupling;
use crate::storage::dialect::Landing;

/// A target row an integration owns, as a reconcile needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owned {
    pub source_key: String,
    pub target_key: String,
}

/// SHA-256 (hex) of a mapped row: each column's name and value (as JSON). Naming the columns makes a
/// changed mapping (a column added, renamed or re-sourced) count as a change, so the new mapping gets
/// written. It runs once per record on the hot path, so values are fed to the hasher as they are
/// serialized, with no intermediate JSON value or string.
pub fn hash(mapping: &Mapping, values: &[Value]) -> String {
    let mut hasher = Sha256::new();
    for (column, value) in mapping.columns.iter().zip(values) {
        hasher.update(column.name.as_bytes());
        hasher.update([0x1f]);
        write_json(&mut Feed(&mut hasher), value);
        hasher.update([0x1e]);
    }
    hex(&hasher.finalize())
}

/// Writes the text of `value_json(value)`; the common kinds without building it.
fn write_json(out: &mut impl std::io::Write, value: &Value) {
    let written = match value {
        Value::String(Some(text)) => serde_json::to_writer(out, text.as_str()),
        Value::BigInt(Some(n)) => serde_json::to_writer(out, n),
        Value::Int(Some(n)) => serde_json::to_writer(out, n),
        other if crate::mapping::types::is_null(other) => serde_json::to_writer(out, &()),
        other => serde_json::to_writer(out, &value_json(other)),
    };
    // Writing into a hasher cannot fail, and these values always serialize.
    debug_assert!(written.is_ok());
}

/// An `io::Write` into a hasher.
struct Feed<'a>(&'a mut Sha256);

impl std::io::Write for Feed<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        text.push(DIGITS[usize::from(b >> 4)] as char);
        text.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    text
}

/// The target key of a mapped row as stored in a coupling.
fn target_key(mapping: &Mapping, values: &[Value]) -> String {
    key_text(mapping.key_columns.iter().map(|&i| &values[i]))
}

/// The one spelling of a target key in `ferry_couplings.target_key`: the key columns' typed values
/// as a JSON array, in key order. An export finds a local row's coupling by it.
pub fn key_text<'a>(values: impl IntoIterator<Item = &'a Value>) -> String {
    let mut text = vec![b'['];
    for (i, value) in values.into_iter().enumerate() {
        if i > 0 {
            text.push(b',');
        }
        write_json(&mut text, value);
    }
    text.push(b']');
    // JSON written by serde_json is UTF-8.
    String::from_utf8(text).unwrap_or_default()
}

/// A coupling's target key back as typed values for the key columns; `None` when it no longer fits them
/// (the key columns' types changed since it was written).
pub fn key_values(mapping: &Mapping, target_key: &str) -> Option<Vec<Value>> {
    let Json::Array(items) = serde_json::from_str(target_key).ok()? else {
        return None;
    };
    if items.len() != mapping.key_columns.len() {
        return None;
    }
    mapping
        .key_columns
        .iter()
        .zip(&items)
        .map(|(&i, json)| mapping.columns[i].ty.convert(json).ok())
        .collect()
}

/// The coupling a mapped record will have once written.
pub fn couple(
    mapping: &Mapping,
    source_key: String,
    source_version: Option<i64>,
    values: &[Value],
) -> Coupling {
    Coupling {
        source_key,
        target_key: target_key(mapping, values),
        target_table: mapping.table.clone(),
        source_version,
        hash: hash(mapping, values),
    }
}

/// Drops the page's rows (and their couplings) whose values equal what their coupling says was last
/// written, counting them `unchanged`. Must run after the previous page committed: a hash read before
/// could be one that page is about to replace.
pub async fn skip_unchanged(
    db: &impl ConnectionTrait,
    integration: &str,
    mapping: &Mapping,
    write: &mut PageWrite,
) -> Result<(), DbErr> {
    if write.rows.is_empty() {
        return Ok(());
    }
    let keys: Vec<String> = write
        .couplings
        .iter()
        .map(|c| c.source_key.clone())
        .collect();
    let known = known_hashes(db, integration, mapping, keys).await?;
    if known.is_empty() {
        return Ok(());
    }
    let rows = std::mem::take(&mut write.rows);
    let couplings = std::mem::take(&mut write.couplings);
    for (row, coupling) in rows.into_iter().zip(couplings) {
        if known.get(&coupling.source_key) == Some(&coupling.hash) {
            write.unchanged += 1;
            continue;
        }
        write.rows.push(row);
        write.couplings.push(coupling);
    }
    Ok(())
}

/// The source version each of `keys` was last written with, for the keys `integration` has a
/// coupling of (a key without one is missing; a coupling written without a version maps to `None`).
/// The overlap window compares them with the versions the source reports now (`sync/window.rs`);
/// `Dialect::coupling_versions` spells the query.
pub async fn versions(
    db: &impl ConnectionTrait,
    integration: &str,
    keys: Vec<String>,
) -> Result<HashMap<String, Option<i64>>, DbErr> {
    let mut stored = HashMap::with_capacity(keys.len());
    for statement in Dialect::of(db).coupling_versions(integration, keys) {
        for row in db.query_all_raw(statement).await? {
            stored.insert(row.try_get_by_index(0)?, row.try_get_by_index(1)?);
        }
    }
    Ok(stored)
}

/// Whether `integration` has any coupling yet. A run that starts without one (a first load) can leave
/// out `skip_unchanged`: only rows it wrote itself could be found, and writing those again is harmless.
pub async fn any(db: &impl ConnectionTrait, integration: &str) -> Result<bool, DbErr> {
    let row = db
        .query_one_raw(statement(
            db.get_database_backend(),
            "SELECT 1 FROM ferry_couplings WHERE integration = ? LIMIT 1",
            [integration.into()],
        ))
        .await?;
    Ok(row.is_some())
}

/// The stored hashes of `keys` whose target row still exists (`Dialect::known_hashes` spells the
/// query). A coupled row someone deleted from the target (or a dropped and recreated table) has no hash
/// here, so it is written again.
async fn known_hashes(
    db: &impl ConnectionTrait,
    integration: &str,
    mapping: &Mapping,
    keys: Vec<String>,
) -> Result<HashMap<String, String>, DbErr> {
    let mut known = HashMap::new();
    for statement in Dialect::of(db).known_hashes(integration, &super::shape(mapping), keys) {
        for row in db.query_all_raw(statement).await? {
            known.insert(row.try_get_by_index(0)?, row.try_get_by_index(1)?);
        }
    }
    Ok(known)
}

/// Stores the couplings of a written page, in the page's transaction. A key twice in one page keeps
/// its last coupling, as the writer keeps its last row.
pub async fn record(
    txn: &impl ConnectionTrait,
    integration: &str,
    couplings: &[Coupling],
    landing: Landing,
) -> Result<(), DbErr> {
    for statement in record_statements(Dialect::of(txn), integration, couplings, landing) {
        txn.execute_raw(statement).await?;
    }
    Ok(())
}

/// The statements storing `couplings`, built apart from their execution so they can be prepared ahead
/// of the page's transaction.
pub(super) fn record_statements(
    dialect: Dialect,
    integration: &str,
    couplings: &[Coupling],
    landing: Landing,
) -> Vec<Statement> {
    if couplings.is_empty() {
        return Vec::new();
    }
    dialect.coupling_statements(integration, &last_of_each(couplings), landing)
}

/// The last coupling of each source key, in order.
fn last_of_each(couplings: &[Coupling]) -> Vec<&Coupling> {
    let mut last: HashMap<&str, usize> = HashMap::with_capacity(couplings.len());
    for (i, c) in couplings.iter().enumerate() {
        last.insert(&c.source_key, i);
    }
    couplings
        .iter()
        .enumerate()
        .filter(|(i, c)| last.get(c.source_key.as_str()) == Some(i))
        .map(|(_, c)| c)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, NaiveDate};
    use rust_decimal::Decimal;

    /// Stored hashes stay valid: the streaming writer spells every value as `value_json` does.
    #[test]
    fn values_are_written_as_value_json_spells_them() {
        let values = [
            Value::String(Some("plain".into())),
            Value::String(Some("quote \" back\\ \u{1} tab\t é 😀".into())),
            Value::String(None),
            Value::BigInt(Some(-9_007_199_254_740_993)),
            Value::BigInt(None),
            Value::Int(Some(42)),
            Value::SmallInt(Some(-7)),
            Value::Bool(Some(true)),
            Value::Bool(None),
            Value::Double(Some(0.1)),
            Value::Double(Some(f64::NAN)),
            Value::Decimal(Some(Decimal::new(-12345, 3))),
            Value::ChronoDate(Some(NaiveDate::from_ymd_opt(2026, 2, 28).expect("a date"))),
            Value::ChronoDateTimeWithTimeZone(Some(
                DateTime::parse_from_rfc3339("2026-11-28T08:00:00.123+01:00").expect("a time"),
            )),
            Value::Uuid(Some(uuid::Uuid::from_u128(0x1234))),
            Value::Uuid(None),
        ];
        assert_eq!(
            key_text(&values),
            Json::Array(values.iter().map(value_json).collect()).to_string(),
            "a stored target key keeps its spelling"
        );
        assert_eq!(key_text([]), "[]");
        for value in values {
            let mut written = Vec::new();
            write_json(&mut written, &value);
            assert_eq!(
                String::from_utf8(written).expect("utf-8"),
                value_json(&value).to_string(),
                "{value:?}"
            );
        }
    }

    #[test]
    fn hex_is_lowercase_two_digits_per_byte() {
        let bytes = [0x00, 0x0f, 0xa0, 0xff, 0x5c];
        let expected: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex(&bytes), expected);
    }
}
