//! SQLite's spellings (see `Dialect`). SQLite has no server: its `'now'` is read by the library inside
//! the writing process, which on one machine (one-process mode) is the one clock there is. Times are
//! written as RFC 3339 text in UTC, the form the driver decodes and that compares correctly as text.

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
        ColumnType::Decimal => "text".into(),
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
