//! SQLite's spellings (see `Dialect`). SQLite has no server: its `'now'` is read by the library inside
//! the writing process, which on one machine (one-process mode) is the one clock there is. Times are
//! written as RFC 3339 text in UTC, the form the driver decodes and that compares correctly as text.

pub(super) mod capture;
pub mod compare;
pub mod couplings;
pub mod keys;
pub mod lookup;
pub mod upsert;

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait, Value,
};

use super::TableColumn;
use crate::mapping::types::ColumnType;

/// SQLite's default limit is 32,766 bound parameters per statement; stay below.
pub const MAX_PARAMS: usize = 30_000;

pub const NOW: &str = "strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')";
pub const AFTER: &str =
    "strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now', printf('%+.3f seconds', ? / 1000.0))";

pub fn millis_until(column: &str) -> String {
    format!("((julianday({column}) - julianday('now')) * 86400000.0)")
}

pub async fn begin_immediate(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    })
    .await
}

/// Types that SQLite cannot hold natively (exact decimals, instants, GUIDs) are stored as text.
pub fn column_sql(ty: ColumnType) -> String {
    match ty {
        ColumnType::Text { .. } => "text".into(),
        ColumnType::Int16 => "smallint".into(),
        ColumnType::Int32 => "integer".into(),
        ColumnType::Int64 => "bigint".into(),
        ColumnType::Decimal { .. } => "text".into(),
        ColumnType::Double => "double precision".into(),
        ColumnType::Bool => "boolean".into(),
        ColumnType::Date => "date".into(),
        ColumnType::Timestamp => "text".into(),
        ColumnType::Guid => "text".into(),
    }
}

/// A value as SQLite should store it. GUIDs go in as their text form: the column is `text`, and the
/// driver would bind a `Uuid` as a 16-byte blob that reads back as neither text nor the source's value.
pub fn stored(value: Value) -> Value {
    match value {
        Value::Uuid(uuid) => Value::String(uuid.map(|u| u.hyphenated().to_string())),
        other => other,
    }
}

/// From `pragma_table_info`: declared types lower case, `notnull` as SQLite records it.
pub async fn columns(conn: &impl ConnectionTrait, table: &str) -> Result<Vec<TableColumn>, DbErr> {
    let rows = conn
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "SELECT name, lower(type), \"notnull\" FROM pragma_table_info(?) ORDER BY cid",
            [table.into()],
        ))
        .await?;
    rows.iter()
        .map(|r| {
            Ok(TableColumn {
                name: r.try_get_by_index(0)?,
                declared: r.try_get_by_index(1)?,
                not_null: r.try_get_by_index::<i64>(2)? != 0,
            })
        })
        .collect()
}

/// The column lists of the table's primary key and unique indexes that an `ON CONFLICT (…)` can
/// name (not partial). An `INTEGER PRIMARY KEY` is the rowid and has no index, so the primary key
/// comes from `pragma_table_info`.
pub async fn unique_keys(
    conn: &impl ConnectionTrait,
    table: &str,
) -> Result<Vec<Vec<String>>, DbErr> {
    let primary = conn
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk",
            [table.into()],
        ))
        .await?;
    let primary: Vec<String> = primary
        .iter()
        .map(|r| r.try_get_by_index(0))
        .collect::<Result<_, _>>()?;
    let rows = conn
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "SELECT il.name, ii.name FROM pragma_index_list(?) AS il, pragma_index_info(il.name) AS ii \
             WHERE il.\"unique\" = 1 AND il.partial = 0 ORDER BY il.name, ii.seqno",
            [table.into()],
        ))
        .await?;
    let mut keys: Vec<(String, Vec<String>)> = Vec::new();
    for row in rows {
        let index: String = row.try_get_by_index(0)?;
        let column: Option<String> = row.try_get_by_index(1)?;
        let Some(column) = column else { continue };
        match keys.last_mut() {
            Some((last, columns)) if *last == index => columns.push(column),
            _ => keys.push((index, vec![column])),
        }
    }
    let mut keys: Vec<Vec<String>> = keys.into_iter().map(|(_, columns)| columns).collect();
    if !primary.is_empty() {
        keys.insert(0, primary);
    }
    Ok(keys)
}
