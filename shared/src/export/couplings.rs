//! The couplings an export reads and writes: found by the local row's key (a deleted row has nothing
//! else), and written with what the remote side now has: its key, version and ETag, and the body
//! both sides last agreed on (`sent`), which the next export compares against to send only what
//! changed. An import's hash of the row stays as it was.

use std::collections::HashMap;

use chrono::Utc;
use sea_orm::{ConnectionTrait, DbErr, Value};

use crate::storage::Dialect;

/// A coupling as an export sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coupled {
    /// The remote record's key (`record_key` spelling).
    pub source_key: String,
    pub etag: Option<String>,
    /// The body last agreed (`outbound::object` text), when an export wrote or adopted it.
    pub sent: Option<String>,
}

/// The couplings of the canonical local keys `target_keys` of `table`, found through the index on
/// `(target_table, target_key)`.
pub async fn find(
    conn: &impl ConnectionTrait,
    integration: &str,
    table: &str,
    target_keys: &[String],
) -> Result<HashMap<String, Coupled>, DbErr> {
    let dialect = Dialect::of(conn);
    let mut out = HashMap::new();
    for chunk in target_keys.chunks(dialect.max_params() - 2) {
        let marks = vec!["?"; chunk.len()].join(", ");
        let mut params: Vec<Value> = vec![table.into(), integration.into()];
        params.extend(chunk.iter().map(|k| Value::from(k.as_str())));
        let rows = conn
            .query_all_raw(dialect.statement(
                &format!(
                    "SELECT target_key, source_key, remote_etag, sent FROM ferry_couplings \
                     WHERE target_table = ? AND integration = ? AND target_key IN ({marks})"
                ),
                params,
            ))
            .await?;
        for row in rows {
            out.insert(
                row.try_get_by_index::<String>(0)?,
                Coupled {
                    source_key: row.try_get_by_index(1)?,
                    etag: row.try_get_by_index(2)?,
                    sent: row.try_get_by_index(3)?,
                },
            );
        }
    }
    Ok(out)
}

/// What an export leaves in a coupling after a remote write.
#[derive(Debug, Clone)]
pub struct Written {
    pub source_key: String,
    pub target_key: String,
    pub version: Option<i64>,
    pub etag: Option<String>,
    pub sent: String,
    /// The hash an import would give the record as written (`None`: keep the stored one).
    pub hash: Option<String>,
}

/// Stores the couplings of records the remote side now has, in the page's transaction.
pub async fn save(
    conn: &impl ConnectionTrait,
    integration: &str,
    table: &str,
    written: &[Written],
) -> Result<(), DbErr> {
    let dialect = Dialect::of(conn);
    let now = Utc::now().fixed_offset();
    for w in written {
        conn.execute_raw(dialect.statement(
            "INSERT INTO ferry_couplings (integration, source_key, target_key, target_table, \
             source_version, hash, updated_at, remote_etag, sent) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (integration, source_key) DO UPDATE SET \
             target_key = EXCLUDED.target_key, target_table = EXCLUDED.target_table, \
             source_version = COALESCE(EXCLUDED.source_version, ferry_couplings.source_version), \
             hash = CASE WHEN EXCLUDED.hash = '' THEN ferry_couplings.hash ELSE EXCLUDED.hash END, \
             updated_at = EXCLUDED.updated_at, remote_etag = EXCLUDED.remote_etag, \
             sent = EXCLUDED.sent",
            [
                integration.into(),
                w.source_key.clone().into(),
                w.target_key.clone().into(),
                table.into(),
                w.version.into(),
                w.hash.clone().unwrap_or_default().into(),
                now.into(),
                w.etag.clone().into(),
                w.sent.clone().into(),
            ],
        ))
        .await?;
    }
    Ok(())
}

/// Uncouples records: deleted on both sides, or deleted locally and kept remotely.
pub async fn remove(
    conn: &impl ConnectionTrait,
    integration: &str,
    source_keys: &[String],
) -> Result<(), DbErr> {
    let dialect = Dialect::of(conn);
    for key in source_keys {
        conn.execute_raw(dialect.statement(
            "DELETE FROM ferry_couplings WHERE integration = ? AND source_key = ?",
            [integration.into(), key.clone().into()],
        ))
        .await?;
    }
    Ok(())
}
