//! Lookups on SQLite: the table's columns from `pragma_table_info`, and the page's tuples matched as
//! text (`CAST(column AS TEXT)`), since source tuples are text and SQLite has no arrays to cast.

use std::collections::HashMap;

use sea_orm::{ConnectionTrait, DbBackend, DbErr, QueryResult, Statement, Value};

use super::Lookup;
use crate::sink::quote;

/// SQLite's default limit is 32,766 bound parameters per statement; stay below.
const MAX_PARAMS: usize = 30_000;

/// `column → declared type` (lower case) of `table`; empty when the table does not exist.
pub(super) async fn column_types(
    db: &impl ConnectionTrait,
    table: &str,
) -> Result<HashMap<String, String>, DbErr> {
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "SELECT name, lower(type) FROM pragma_table_info(?)",
            [table.into()],
        ))
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get_by_index(0)?, r.try_get_by_index(1)?)))
        .collect()
}

/// Rows of `(match tuple as text…, selected value as JSON text)` for the `wanted` tuples, in as few
/// statements as the parameter limit allows.
pub(super) async fn find(
    db: &impl ConnectionTrait,
    lookup: &Lookup,
    wanted: &[Vec<String>],
) -> Result<Vec<QueryResult>, DbErr> {
    let width = lookup.match_columns.len().max(1);
    let keys: Vec<String> = lookup
        .match_columns
        .iter()
        .map(|c| format!("CAST(t.{} AS TEXT)", quote(c)))
        .collect();
    let one = format!("({})", vec!["?"; width].join(", "));
    let mut found = Vec::new();
    for chunk in wanted.chunks((MAX_PARAMS / width).max(1)) {
        let values: Vec<Value> = chunk.iter().flatten().map(|v| v.clone().into()).collect();
        let sql = format!(
            "SELECT {keys}, json_quote(t.{}) FROM {} t WHERE ({keys}) IN (VALUES {})",
            quote(&lookup.select),
            quote(&lookup.table),
            vec![one.as_str(); chunk.len()].join(", "),
            keys = keys.join(", "),
        );
        found.extend(
            db.query_all_raw(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                sql,
                values,
            ))
            .await?,
        );
    }
    Ok(found)
}
