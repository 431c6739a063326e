//! The page upsert on Postgres: `INSERT … ON CONFLICT DO UPDATE … WHERE changed`, counted from what
//! the statement returns.

use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, Statement, Value};

use super::MAX_PARAMS;
use crate::storage::dialect::upsert::{Upsert, Upserted, upsert_parts};
use crate::storage::dialect::{Landing, TableShape};

/// `INSERT … ON CONFLICT DO UPDATE … WHERE changed`, counting inserts, updates and unchanged rows from
/// what the statement returns (a row comes back only when it was written; `xmax = 0` marks an insert).
///
/// A page is one statement over `unnest` of one array per column: a fixed, short statement (planned
/// once, cached) with one parameter per column instead of one per value, which is what makes big pages
/// cheap. A page with a column that cannot travel as an array is a multi-row `VALUES`, chunked under
/// the parameter limit. Under `Landing::Insert` the same statements are plain `INSERT`s.
pub fn statements(
    shape: &TableShape<'_>,
    rows: Vec<Vec<Value>>,
    landing: Landing,
) -> Vec<(u64, Statement)> {
    let mut statements = Vec::new();
    if rows.is_empty() {
        return statements;
    }
    let n = rows.len() as u64;
    let rows = match super::unnest::statement(shape, rows, landing) {
        Ok(statement) => {
            statements.push((n, statement));
            return statements;
        }
        Err(rows) => rows,
    };
    let chunk = (MAX_PARAMS / shape.columns.len()).max(1);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let batch: Vec<Vec<Value>> = rows.by_ref().take(chunk).collect();
        statements.push((batch.len() as u64, values_statement(shape, batch, landing)));
    }
    statements
}

/// Runs `statements`' statements, adding up what each answers (a plain `INSERT` inserts every row or
/// fails).
pub async fn execute(
    txn: &DatabaseTransaction,
    statements: Vec<(u64, Statement)>,
    landing: Landing,
) -> Result<Upserted, DbErr> {
    let mut counts = Upserted::default();
    for (n, statement) in statements {
        if landing == Landing::Insert {
            counts.inserted += txn.execute_raw(statement).await?.rows_affected();
            continue;
        }
        let Some(row) = txn.query_one_raw(statement).await? else {
            continue;
        };
        let written = row.try_get_by_index::<i64>(0)? as u64;
        let inserted = row.try_get_by_index::<i64>(1)? as u64;
        counts.inserted += inserted;
        counts.updated += written - inserted;
        counts.unchanged += n - written;
    }
    Ok(counts)
}

fn values_statement(shape: &TableShape<'_>, batch: Vec<Vec<Value>>, landing: Landing) -> Statement {
    let tuple = format!("({})", vec!["?"; shape.columns.len()].join(","));
    let tuples = vec![tuple.as_str(); batch.len()].join(", ");
    let sql = insert_sql(shape, &format!("VALUES {tuples}"), landing);
    Statement::from_sql_and_values(
        DbBackend::Postgres,
        super::numbered_placeholders(&sql),
        batch.into_iter().flatten(),
    )
}

/// `INSERT INTO t (…) <rows> ON CONFLICT (key) DO UPDATE … WHERE (changed)`, answering one row: how
/// many rows were written and how many of those were inserts (`xmax = 0`), so the counts cost no
/// per-row traffic. Postgres only. Under `Landing::Insert`: `INSERT INTO t (…) <rows>`, nothing more.
pub(super) fn insert_sql(shape: &TableShape<'_>, rows: &str, landing: Landing) -> String {
    let Upsert {
        table,
        columns,
        key,
        conflict,
    } = upsert_parts(shape, |current, incoming| {
        format!(
            "({}) IS DISTINCT FROM ({})",
            current.join(", "),
            incoming.join(", ")
        )
    });
    if landing == Landing::Insert {
        return format!("INSERT INTO {table} ({}) {rows}", columns.join(", "));
    }
    format!(
        "WITH written AS (INSERT INTO {table} ({}) {rows} ON CONFLICT ({key}) {conflict} \
         RETURNING (xmax = 0) AS inserted) \
         SELECT count(*), count(*) FILTER (WHERE inserted) FROM written",
        columns.join(", "),
    )
}
