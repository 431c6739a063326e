//! Lookups on Postgres: the page's distinct source tuples go in as parallel text arrays, cast to the
//! match columns' types, joined to the table.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, QueryResult, Statement, Value};

use crate::storage::dialect::LookupShape;
use crate::storage::dialect::quote;

/// Rows of `(match tuple as text…, selected value as JSON text)` for the `wanted` tuples, in one
/// statement.
pub async fn find(
    db: &impl ConnectionTrait,
    lookup: &LookupShape<'_>,
    wanted: &[Vec<String>],
) -> Result<Vec<QueryResult>, DbErr> {
    let width = lookup.match_columns.len();
    let arrays: Vec<Value> = (0..width)
        .map(|i| {
            let column: Vec<String> = wanted.iter().map(|t| t[i].clone()).collect();
            Value::from(column)
        })
        .collect();
    let params: Vec<String> = (1..=arrays.len())
        .map(|i| format!("${i}::text[]"))
        .collect();
    let names: Vec<String> = (0..arrays.len()).map(|i| format!("k{i}")).collect();
    let join: Vec<String> = lookup
        .match_columns
        .iter()
        .zip(lookup.match_types)
        .enumerate()
        .map(|(i, (c, ty))| format!("t.{} = k.k{i}::{ty}", quote(c)))
        .collect();
    let keys: Vec<String> = names.iter().map(|n| format!("k.{n}")).collect();
    // One index probe per wanted tuple (a LATERAL with LIMIT is never flattened into a hash join), so
    // a page's lookups cost the same in a table of a thousand rows or ten million.
    let sql = format!(
        "SELECT {}, to_json(t.v)::text FROM unnest({}) AS k({}) CROSS JOIN LATERAL \
         (SELECT t.{} AS v FROM {} t WHERE {} LIMIT 1) AS t",
        keys.join(", "),
        params.join(", "),
        names.join(", "),
        quote(lookup.select),
        quote(lookup.table),
        join.join(" AND "),
    );
    db.query_all_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        arrays,
    ))
    .await
}
