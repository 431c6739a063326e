//! PostgreSQL's spellings (see `Dialect`).

pub(super) mod capture;
pub mod compare;
pub mod couplings;
pub mod keys;
pub mod lookup;
pub mod tls;
mod unnest;
pub mod upsert;

use std::time::Duration;

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseTransaction, DbBackend, DbErr, Statement,
};
use sea_orm_migration::MigratorTrait;

use crate::storage::StorageError;
use crate::storage::migrations::Migrator;

use super::TableColumn;
use crate::mapping::types::ColumnType;

/// Postgres accepts at most 65,535 bind parameters per statement; stay well below.
pub const MAX_PARAMS: usize = 30_000;

pub const NOW: &str = "now()";
pub const AFTER: &str = "(now() + ? * interval '1 millisecond')";

pub fn millis_until(column: &str) -> String {
    format!("(EXTRACT(EPOCH FROM ({column} - now())) * 1000.0)::float8")
}

/// `?, ?` → `$1, $2`.
pub fn numbered_placeholders(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut n = 0;
    for c in text.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

pub fn column_sql(ty: ColumnType) -> String {
    match ty {
        ColumnType::Text { max_len: Some(n) } => format!("varchar({n})"),
        ColumnType::Text { .. } => "text".into(),
        ColumnType::Int16 => "smallint".into(),
        ColumnType::Int32 => "integer".into(),
        ColumnType::Int64 => "bigint".into(),
        // The source's precision and scale when it states both; otherwise (Scale="Variable", none
        // given) unconstrained, which keeps any value exactly.
        ColumnType::Decimal {
            precision: Some(p),
            scale: Some(s),
        } => format!("numeric({p},{s})"),
        ColumnType::Decimal { .. } => "numeric".into(),
        ColumnType::Double => "double precision".into(),
        ColumnType::Bool => "boolean".into(),
        ColumnType::Date => "date".into(),
        ColumnType::Timestamp => "timestamptz".into(),
        ColumnType::Guid => "uuid".into(),
    }
}

/// From the catalog: `format_type` spells each column's type as `CREATE TABLE` would
/// (`character varying(20)`, `numeric(10,2)`), and the table is found as a query would find it.
pub async fn columns(conn: &impl ConnectionTrait, table: &str) -> Result<Vec<TableColumn>, DbErr> {
    let rows = conn
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), a.attnotnull \
             FROM pg_attribute a WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 \
             AND NOT a.attisdropped ORDER BY a.attnum",
            [crate::storage::dialect::quote(table).into()],
        ))
        .await?;
    rows.iter()
        .map(|r| {
            Ok(TableColumn {
                name: r.try_get_by_index(0)?,
                declared: r.try_get_by_index(1)?,
                not_null: r.try_get_by_index(2)?,
            })
        })
        .collect()
}

/// The column lists of the table's primary key and unique indexes that an `ON CONFLICT (…)` can
/// name: neither partial nor on expressions.
pub async fn unique_keys(
    conn: &impl ConnectionTrait,
    table: &str,
) -> Result<Vec<Vec<String>>, DbErr> {
    let rows = conn
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT i.indexrelid::bigint, a.attname::text FROM pg_index i \
             CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) \
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
             WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indpred IS NULL \
             AND i.indexprs IS NULL ORDER BY 1, k.ord",
            [crate::storage::dialect::quote(table).into()],
        ))
        .await?;
    let mut keys: Vec<(i64, Vec<String>)> = Vec::new();
    for row in rows {
        let index: i64 = row.try_get_by_index(0)?;
        let column: String = row.try_get_by_index(1)?;
        match keys.last_mut() {
            Some((last, columns)) if *last == index => columns.push(column),
            _ => keys.push((index, vec![column])),
        }
    }
    Ok(keys.into_iter().map(|(_, columns)| columns).collect())
}

/// An arbitrary constant naming Ferry's apply lock among the database's advisory locks.
const APPLY_LOCK: &str = "SELECT pg_advisory_xact_lock(7378429400504557936)";

pub async fn lock_applies(txn: &DatabaseTransaction) -> Result<(), DbErr> {
    txn.execute_unprepared(APPLY_LOCK).await.map(|_| ())
}

/// An arbitrary constant naming Ferry's migration lock among the database's advisory locks.
const MIGRATION_LOCK: i64 = 0x6665_7272_795f_6d67; // "ferry_mg"

/// Migrates holding the migration lock. The lock is a session lock, so the migrations run on one
/// dedicated connection that holds it (without the session timeouts: it waits for the lock as long as
/// another process migrates).
pub async fn migrate_locked(url: &str) -> Result<(), StorageError> {
    let mut options = ConnectOptions::new(url.to_string());
    options
        .max_connections(1)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false);
    let session = match Database::connect(options).await {
        Ok(session) => session,
        Err(e) => return Err(crate::storage::unreachable(url, e).await),
    };
    let lock = |function: &str| {
        Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!("SELECT {function}($1)"),
            [MIGRATION_LOCK.into()],
        )
    };
    session
        .execute_raw(lock("pg_advisory_lock"))
        .await
        .map_err(StorageError::Migrate)?;
    let outcome = Migrator::up(&session, None).await;
    // Closing the session releases the lock too; unlocking first just makes it prompt.
    let _ = session.execute_raw(lock("pg_advisory_unlock")).await;
    let _ = session.close().await;
    outcome.map_err(StorageError::Migrate)
}
