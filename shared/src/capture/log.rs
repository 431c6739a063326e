//! The change log an export reads: pending changes oldest first, each key once with its latest
//! operation, and the page's entries removed once the remote side has them.

use sea_orm::{ConnectionTrait, DbErr, Value};
use serde_json::Value as Json;

use crate::storage::{Dialect, quote};

/// What happened to a local row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Insert,
    Update,
    Delete,
}

impl Operation {
    fn parse(text: &str) -> Operation {
        match text {
            "I" => Operation::Insert,
            "D" => Operation::Delete,
            _ => Operation::Update,
        }
    }
}

/// A key's pending changes collapsed: its key values (target key column order), its latest
/// operation, and the log entries it stands for.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub key: Vec<Json>,
    pub operation: Operation,
    pub seqs: Vec<i64>,
}

/// Up to `limit` log entries of `integration` up to `upto` (the newest when the run started: later
/// changes wait for the next run, so a run ends however busy the table), oldest first, collapsed per
/// key (in the order each key first changed). A key changed again after the page is read comes again on a later page; the
/// export reads the row as it is then, so it costs at most a comparison.
pub async fn pending(
    conn: &impl ConnectionTrait,
    integration: &str,
    upto: i64,
    limit: u64,
) -> Result<Vec<Change>, DbErr> {
    let dialect = Dialect::of(conn);
    let rows = conn
        .query_all_raw(dialect.statement(
            "SELECT seq, row_key, operation FROM ferry_changes WHERE integration = ? \
             AND seq <= ? ORDER BY seq LIMIT ?",
            [integration.into(), upto.into(), (limit as i64).into()],
        ))
        .await?;
    let mut out: Vec<Change> = Vec::new();
    let mut at: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for row in rows {
        let seq: i64 = row.try_get_by_index(0)?;
        let key_text: String = row.try_get_by_index(1)?;
        let operation = Operation::parse(&row.try_get_by_index::<String>(2)?);
        let key = match serde_json::from_str::<Json>(&key_text) {
            Ok(Json::Array(values)) => values,
            _ => vec![Json::String(key_text.clone())],
        };
        // The same key spelt by two engines' JSON (spacing) is one key.
        let canonical = Json::Array(key.clone()).to_string();
        match at.get(&canonical) {
            Some(&i) => {
                let change = &mut out[i];
                change.operation = match (change.operation, operation) {
                    // Inserted, then changed: still new to the remote side.
                    (Operation::Insert, Operation::Update) => Operation::Insert,
                    (_, latest) => latest,
                };
                change.seqs.push(seq);
            }
            None => {
                at.insert(canonical, out.len());
                out.push(Change {
                    key,
                    operation,
                    seqs: vec![seq],
                });
            }
        }
    }
    Ok(out)
}

/// Removes the log entries a page stood for, in the page's transaction.
pub async fn done(conn: &impl ConnectionTrait, seqs: &[i64]) -> Result<(), DbErr> {
    let dialect = Dialect::of(conn);
    for chunk in seqs.chunks(dialect.max_params()) {
        let marks = vec!["?"; chunk.len()].join(", ");
        conn.execute_raw(dialect.statement(
            &format!("DELETE FROM ferry_changes WHERE seq IN ({marks})"),
            chunk.iter().map(|&s| Value::from(s)),
        ))
        .await?;
    }
    Ok(())
}

/// Logs every row of the table as updated: an export's `--full`, which compares every local row
/// with what the remote side last had.
pub async fn queue_all(
    conn: &impl ConnectionTrait,
    integration: &str,
    table: &str,
    key_columns: &[String],
) -> Result<u64, DbErr> {
    let dialect = Dialect::of(conn);
    let keys: Vec<String> = key_columns.iter().map(|c| quote(c)).collect();
    let array = match dialect {
        Dialect::Postgres => format!("json_build_array({})::text", keys.join(", ")),
        Dialect::Sqlite => format!("json_array({})", keys.join(", ")),
    };
    let result = conn
        .execute_raw(dialect.statement(
            &format!(
                "INSERT INTO ferry_changes (integration, row_key, operation, changed_at) \
                 SELECT ?, {array}, 'U', {} FROM {}",
                dialect.now(),
                quote(table)
            ),
            [integration.into()],
        ))
        .await?;
    Ok(result.rows_affected())
}

/// The newest log entry of `integration` (0 when none).
pub async fn newest(conn: &impl ConnectionTrait, integration: &str) -> Result<i64, DbErr> {
    let dialect = Dialect::of(conn);
    let row = conn
        .query_one_raw(dialect.statement(
            "SELECT COALESCE(MAX(seq), 0) FROM ferry_changes WHERE integration = ?",
            [integration.into()],
        ))
        .await?;
    match row {
        Some(row) => row.try_get_by_index(0),
        None => Ok(0),
    }
}

/// Logs `keys` (canonical local keys, JSON arrays) as updated: a `--retry-failed` of an export
/// sends the rows that failed again.
pub async fn requeue(
    conn: &impl ConnectionTrait,
    integration: &str,
    keys: &[String],
) -> Result<(), DbErr> {
    let dialect = Dialect::of(conn);
    for key in keys {
        conn.execute_raw(dialect.statement(
            &format!(
                "INSERT INTO ferry_changes (integration, row_key, operation, changed_at) \
                 VALUES (?, ?, 'U', {})",
                dialect.now()
            ),
            [integration.into(), key.clone().into()],
        ))
        .await?;
    }
    Ok(())
}
