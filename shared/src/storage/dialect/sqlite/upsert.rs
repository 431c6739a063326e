//! The upsert on SQLite. SQLite has no `xmax` to tell an insert from an update and no data-changing
//! statement inside a `WITH`, so each batch is two statements in the page's transaction: count the
//! batch's keys already present, then `INSERT … ON CONFLICT DO UPDATE … WHERE changed RETURNING 1`.
//! The transaction holds SQLite's one write lock (`BEGIN IMMEDIATE`), so nothing changes in between.

use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, Statement, Value};

use super::{MAX_PARAMS, stored};
use crate::storage::dialect::TableShape;
use crate::storage::dialect::quote;
use crate::storage::dialect::upsert::{Upsert, Upserted, upsert_parts};

/// Upserts unique-keyed `rows` (see `sink::writer::dedupe`), counting inserted, updated and unchanged rows.
pub async fn upsert(
    txn: &DatabaseTransaction,
    shape: &TableShape<'_>,
    rows: Vec<Vec<Value>>,
) -> Result<Upserted, DbErr> {
    let mut counts = Upserted::default();
    let chunk = (MAX_PARAMS / shape.columns.len()).max(1);
    for batch in rows.chunks(chunk) {
        let n = batch.len() as u64;
        let existing = match txn.query_one_raw(existing_statement(shape, batch)).await? {
            Some(row) => row.try_get_by_index::<i64>(0)? as u64,
            None => 0,
        };
        let written = txn
            .query_all_raw(insert_statement(shape, batch))
            .await?
            .len() as u64;
        let inserted = n - existing;
        counts.inserted += inserted;
        counts.updated += written.saturating_sub(inserted);
        counts.unchanged += n - written;
    }
    Ok(counts)
}

fn tuples(width: usize, rows: usize) -> String {
    let one = format!("({})", vec!["?"; width].join(", "));
    vec![one; rows].join(", ")
}

/// `SELECT count(*) FROM t WHERE (k…) IN (VALUES (?…), …)`.
fn existing_statement(shape: &TableShape<'_>, batch: &[Vec<Value>]) -> Statement {
    let key: Vec<String> = shape
        .key_columns
        .iter()
        .map(|&i| quote(shape.columns[i].name))
        .collect();
    let values: Vec<Value> = batch
        .iter()
        .flat_map(|row| shape.key_columns.iter().map(|&i| stored(row[i].clone())))
        .collect();
    let sql = format!(
        "SELECT count(*) FROM {} WHERE ({}) IN (VALUES {})",
        quote(shape.table),
        key.join(", "),
        tuples(key.len(), batch.len())
    );
    Statement::from_sql_and_values(DbBackend::Sqlite, sql, values)
}

/// `INSERT INTO t (…) VALUES … ON CONFLICT (key) DO UPDATE SET … WHERE <some column changed>
/// RETURNING 1`: a row comes back only when it was inserted or really changed.
fn insert_statement(shape: &TableShape<'_>, batch: &[Vec<Value>]) -> Statement {
    let Upsert {
        table,
        columns,
        key,
        conflict,
    } = upsert_parts(shape, |current, incoming| {
        let changed: Vec<String> = current
            .iter()
            .zip(incoming)
            .map(|(c, i)| format!("{c} IS NOT {i}"))
            .collect();
        changed.join(" OR ")
    });
    let sql = format!(
        "INSERT INTO {table} ({}) VALUES {} ON CONFLICT ({key}) {conflict} RETURNING 1",
        columns.join(", "),
        tuples(columns.len(), batch.len()),
    );
    let values: Vec<Value> = batch.iter().flatten().cloned().map(stored).collect();
    Statement::from_sql_and_values(DbBackend::Sqlite, sql, values)
}
