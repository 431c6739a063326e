//! Records changed on both sides since the last sync, kept for an operator when the integration's
//! policy is `manual` (`ferry conflicts`): both versions in local column terms, until one is kept
//! (`resolve.rs`). One open conflict per record: a later change on either side updates it.

mod resolve;

pub use resolve::{Keep, ResolveError, resolve};

use chrono::{DateTime, FixedOffset, Utc};
use sea_orm::{ConnectionTrait, DbErr};
use serde::Serialize;
use serde_json::Value as Json;

use crate::storage::Dialect;

/// A conflict found in a page, stored in that page's transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct Noted {
    /// The local key (canonical JSON array).
    pub record_key: String,
    /// The remote key (`record_key` spelling).
    pub remote_key: String,
    /// The local row (column → value), `None` when it was deleted locally.
    pub local: Option<Json>,
    /// The remote record as the import would write it (column → value), `None` when deleted remotely.
    pub remote: Option<Json>,
}

impl Noted {
    fn kind(&self) -> &'static str {
        if self.local.is_some() && self.remote.is_some() {
            "update"
        } else {
            "delete"
        }
    }
}

/// A stored conflict, as `ferry conflicts` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stored {
    pub id: i64,
    pub integration: String,
    pub record_key: String,
    pub remote_key: String,
    pub kind: String,
    pub local: Option<Json>,
    pub remote: Option<Json>,
    pub run_id: i64,
    pub created_at: DateTime<FixedOffset>,
    pub resolved_at: Option<DateTime<FixedOffset>>,
    pub resolution: Option<String>,
}

/// Stores `noted` for run `run_id`: a record with an open conflict gets its versions updated.
pub async fn record(
    txn: &impl ConnectionTrait,
    integration: &str,
    run_id: i64,
    noted: &[Noted],
) -> Result<(), DbErr> {
    let dialect = Dialect::of(txn);
    let now = Utc::now().fixed_offset();
    let text = |v: &Option<Json>| v.as_ref().map(Json::to_string);
    for n in noted {
        let updated = txn
            .execute_raw(dialect.statement(
                "UPDATE ferry_conflicts SET local = ?, remote = ?, kind = ?, run_id = ? \
                 WHERE integration = ? AND record_key = ? AND resolved_at IS NULL",
                [
                    text(&n.local).into(),
                    text(&n.remote).into(),
                    n.kind().into(),
                    run_id.into(),
                    integration.into(),
                    n.record_key.clone().into(),
                ],
            ))
            .await?;
        if updated.rows_affected() == 0 {
            txn.execute_raw(dialect.statement(
                "INSERT INTO ferry_conflicts (integration, record_key, remote_key, local, remote, \
                 kind, run_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    integration.into(),
                    n.record_key.clone().into(),
                    n.remote_key.clone().into(),
                    text(&n.local).into(),
                    text(&n.remote).into(),
                    n.kind().into(),
                    run_id.into(),
                    now.into(),
                ],
            ))
            .await?;
        }
    }
    Ok(())
}

const COLUMNS: &str = "id, integration, record_key, remote_key, kind, local, remote, run_id, \
                       created_at, resolved_at, resolution";

fn stored(row: &sea_orm::QueryResult) -> Result<Stored, DbErr> {
    let json = |i: usize| -> Result<Option<Json>, DbErr> {
        let text: Option<String> = row.try_get_by_index(i)?;
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    };
    Ok(Stored {
        id: row.try_get_by_index(0)?,
        integration: row.try_get_by_index(1)?,
        record_key: row.try_get_by_index(2)?,
        remote_key: row.try_get_by_index(3)?,
        kind: row.try_get_by_index(4)?,
        local: json(5)?,
        remote: json(6)?,
        run_id: row.try_get_by_index(7)?,
        created_at: row.try_get_by_index(8)?,
        resolved_at: row.try_get_by_index(9)?,
        resolution: row.try_get_by_index(10)?,
    })
}

/// Open conflicts, oldest first (of one integration, or all).
pub async fn open(
    db: &impl ConnectionTrait,
    integration: Option<&str>,
) -> Result<Vec<Stored>, DbErr> {
    let dialect = Dialect::of(db);
    let (filter, params): (&str, Vec<sea_orm::Value>) = match integration {
        Some(name) => ("AND integration = ?", vec![name.into()]),
        None => ("", Vec::new()),
    };
    let rows = db
        .query_all_raw(dialect.statement(
            &format!(
                "SELECT {COLUMNS} FROM ferry_conflicts WHERE resolved_at IS NULL {filter} ORDER BY id"
            ),
            params,
        ))
        .await?;
    rows.iter().map(stored).collect()
}

/// One conflict by id.
pub async fn get(db: &impl ConnectionTrait, id: i64) -> Result<Option<Stored>, DbErr> {
    let dialect = Dialect::of(db);
    let row = db
        .query_one_raw(dialect.statement(
            &format!("SELECT {COLUMNS} FROM ferry_conflicts WHERE id = ?"),
            [id.into()],
        ))
        .await?;
    row.as_ref().map(stored).transpose()
}

/// The local keys of `integration`'s open conflicts: an export holds their changes back.
pub async fn open_keys(
    db: &impl ConnectionTrait,
    integration: &str,
) -> Result<std::collections::HashSet<String>, DbErr> {
    let dialect = Dialect::of(db);
    let rows = db
        .query_all_raw(dialect.statement(
            "SELECT record_key FROM ferry_conflicts WHERE integration = ? AND resolved_at IS NULL",
            [integration.into()],
        ))
        .await?;
    rows.iter().map(|r| r.try_get_by_index(0)).collect()
}

/// Marks conflict `id` resolved with `kept` (`local` or `remote`).
pub(crate) async fn mark_resolved(
    txn: &impl ConnectionTrait,
    id: i64,
    kept: &str,
) -> Result<(), DbErr> {
    let dialect = Dialect::of(txn);
    txn.execute_raw(dialect.statement(
        "UPDATE ferry_conflicts SET resolved_at = ?, resolution = ? WHERE id = ?",
        [Utc::now().fixed_offset().into(), kept.into(), id.into()],
    ))
    .await?;
    Ok(())
}
