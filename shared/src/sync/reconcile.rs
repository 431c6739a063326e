//! Delete detection by key-set reconciliation (DESIGN §3.5): BC tracks no deletes, so a reconcile reads
//! only the key fields of the whole source entity (within the integration's filter), and deletes the
//! target rows whose key is no longer there — all in one transaction, and only when no more than
//! `deletes.max_share` of the rows would go; otherwise the run fails and deletes nothing.
//!
//! With `deletes.every`, an incremental run reconciles after its delta once that period has passed since
//! the last reconcile committed (`ferry_reconciles`), so no separate schedule is needed.
//!
//! The rows an integration owns are the rows of its target table: one integration per table. (Coupling
//! records per source key, which would let several integrations share a table, are not built yet.)

use chrono::{DateTime, Duration, FixedOffset, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Value};
use tracing::info;

use super::error::SyncError;
use crate::filter;
use crate::mapping::Mapping;
use crate::odata::query::Query;
use crate::runs::{Lease, RunError};
use crate::source::Source;
use crate::storage::statement;
use crate::target::quote;

/// Share of rows a reconcile may delete when the definition does not say.
pub const DEFAULT_MAX_SHARE: f64 = 0.1;

/// Reads every source key, then deletes the vanished rows (or refuses, past `max_share`).
pub(super) async fn reconcile(
    db: &DatabaseConnection,
    lease: &Lease,
    mapping: &Mapping,
    source: &Source,
    max_share: f64,
) -> Result<(), SyncError> {
    let mut select = mapping.source_key.clone();
    select.extend(key_fields(mapping));
    select.dedup();
    let query = Query {
        select,
        filter: mapping.filter.as_ref().map(filter::Expr::render),
        orderby: Vec::new(),
        top: None,
    };
    let mut keys: Vec<Vec<Value>> = Vec::new();
    let mut next = Some(source.entity_url(&mapping.entity, &query));
    while let Some(url) = next.take() {
        let page = source.page(&url).await?;
        next = page.next.clone().filter(|n| *n != url);
        for row in &page.rows {
            // A key that does not map cannot match a target row; the upsert path reports it.
            if let Ok(key) = mapping.map_key(row) {
                keys.push(key);
            }
        }
    }
    let seen = keys.len() as i64;
    let txn = crate::storage::begin_write(db)
        .await
        .map_err(RunError::from)?;
    let backend = db.get_database_backend();
    let key_columns: Vec<String> = mapping
        .key_columns
        .iter()
        .map(|&i| quote(&mapping.columns[i].name))
        .collect();
    let types: Vec<String> = mapping
        .key_columns
        .iter()
        .map(|&i| mapping.columns[i].ty.sql(backend))
        .collect();
    let table = quote(&mapping.table);
    let columns: Vec<String> = key_columns
        .iter()
        .zip(&types)
        .map(|(c, t)| format!("{c} {t}"))
        .collect();
    let exec = |sql: String, values: Vec<Value>| statement(backend, &sql, values);
    // Postgres drops the scratch table at commit; SQLite keeps a temp table for the connection's life,
    // so one left by an earlier reconcile on this pooled connection is dropped first (and at the end).
    let scratch = if backend == DbBackend::Sqlite {
        txn.execute_raw(exec(
            "DROP TABLE IF EXISTS temp.ferry_seen".into(),
            Vec::new(),
        ))
        .await
        .map_err(RunError::from)?;
        ""
    } else {
        " ON COMMIT DROP"
    };
    txn.execute_raw(exec(
        format!(
            "CREATE TEMP TABLE ferry_seen ({}){scratch}",
            columns.join(", ")
        ),
        Vec::new(),
    ))
    .await
    .map_err(RunError::from)?;
    let width = key_columns.len();
    for chunk in keys.chunks((30_000 / width).max(1)) {
        let mut values = Vec::with_capacity(chunk.len() * width);
        let tuples: Vec<String> = chunk
            .iter()
            .map(|key| {
                values.extend(key.iter().cloned().map(|v| match backend {
                    DbBackend::Sqlite => crate::target::sqlite_stored(v),
                    _ => v,
                }));
                format!("({})", vec!["?"; width].join(", "))
            })
            .collect();
        txn.execute_raw(exec(
            format!(
                "INSERT INTO ferry_seen ({}) VALUES {}",
                key_columns.join(", "),
                tuples.join(", ")
            ),
            values,
        ))
        .await
        .map_err(RunError::from)?;
    }
    let matches: Vec<String> = key_columns
        .iter()
        .map(|c| format!("s.{c} = t.{c}"))
        .collect();
    let vanished = format!(
        "NOT EXISTS (SELECT 1 FROM ferry_seen s WHERE {})",
        matches.join(" AND ")
    );
    let counts = txn
        .query_one_raw(exec(
            format!("SELECT count(*), count(*) FILTER (WHERE {vanished}) FROM {table} t"),
            Vec::new(),
        ))
        .await
        .map_err(RunError::from)?;
    let (total, gone): (i64, i64) = match counts {
        Some(row) => (
            row.try_get_by_index(0).map_err(RunError::from)?,
            row.try_get_by_index(1).map_err(RunError::from)?,
        ),
        None => (0, 0),
    };
    info!(run_id = lease.run_id, total, gone, seen, "reconciling");
    if total > 0 && gone as f64 > max_share * total as f64 {
        txn.rollback().await.map_err(RunError::from)?;
        return Err(SyncError::Refused(format!(
            "reconcile would delete {gone} of {total} rows ({:.1}%), more than max_share {}%; \
             nothing was deleted",
            100.0 * gone as f64 / total as f64,
            100.0 * max_share
        )));
    }
    let deleted = txn
        .execute_raw(exec(
            format!("DELETE FROM {table} AS t WHERE {vanished}"),
            Vec::new(),
        ))
        .await
        .map_err(RunError::from)?
        .rows_affected();
    let progress = txn
        .execute_raw(statement(
            backend,
            "UPDATE ferry_runs SET deleted = deleted + ?, rows_read = rows_read + ? \
             WHERE id = ? AND lease_owner = ? AND state = 'running'",
            [
                (deleted as i64).into(),
                seen.into(),
                lease.run_id.into(),
                lease.owner.clone().into(),
            ],
        ))
        .await
        .map_err(RunError::from)?;
    if progress.rows_affected() != 1 {
        return Err(RunError::LeaseLost(lease.run_id).into());
    }
    if backend == DbBackend::Sqlite {
        txn.execute_raw(exec("DROP TABLE temp.ferry_seen".into(), Vec::new()))
            .await
            .map_err(RunError::from)?;
    }
    txn.execute_raw(statement(
        backend,
        "INSERT INTO ferry_reconciles (integration, reconciled_at) VALUES (?, ?) \
         ON CONFLICT (integration) DO UPDATE SET reconciled_at = EXCLUDED.reconciled_at",
        [
            lease.integration.clone().into(),
            Utc::now().fixed_offset().into(),
        ],
    ))
    .await
    .map_err(RunError::from)?;
    txn.commit().await.map_err(RunError::from)?;
    Ok(())
}

/// Whether a reconcile is due: `every` has passed since the last one committed (or there was none).
pub(super) async fn due(
    db: &DatabaseConnection,
    integration: &str,
    every_secs: u64,
) -> Result<bool, SyncError> {
    let row = db
        .query_one_raw(statement(
            db.get_database_backend(),
            "SELECT reconciled_at FROM ferry_reconciles WHERE integration = ?",
            [integration.into()],
        ))
        .await
        .map_err(RunError::from)?;
    let last: Option<DateTime<FixedOffset>> = match row {
        Some(row) => row.try_get_by_index(0).map_err(RunError::from)?,
        None => None,
    };
    Ok(match last {
        None => true,
        Some(at) => Utc::now().fixed_offset() - at >= Duration::seconds(every_secs as i64),
    })
}

/// Source fields the target key columns come from (they may differ from `source.key`).
fn key_fields(mapping: &Mapping) -> Vec<String> {
    mapping
        .key_columns
        .iter()
        .filter_map(|&i| match &mapping.columns[i].origin {
            crate::mapping::Origin::Field { name, transform } => Some(
                name.iter()
                    .cloned()
                    .chain(
                        transform
                            .iter()
                            .flat_map(|t| t.fields())
                            .map(str::to_string),
                    )
                    .collect::<Vec<_>>(),
            ),
            _ => None,
        })
        .flatten()
        .collect()
}
