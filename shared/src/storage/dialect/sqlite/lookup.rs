//! Lookups on SQLite: the page's tuples matched as text (`CAST(column AS TEXT)`), since source tuples are text and SQLite has no arrays to cast.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, QueryResult, Statement, Value};

use super::MAX_PARAMS;
use crate::storage::dialect::LookupShape;
use crate::storage::dialect::quote;

/// Rows of `(match tuple as text…, selected value as JSON text)` for the `wanted` tuples, in as few
/// statements as the parameter limit allows.
pub async fn find(
    db: &impl ConnectionTrait,
    lookup: &LookupShape<'_>,
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
            quote(lookup.select),
            quote(lookup.table),
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
