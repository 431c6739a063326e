//! Preview's comparison with the target on SQLite: the same question as on Postgres (which mapped rows
//! would be inserts, updates with which columns, or unchanged), asked with SQLite's `IS NOT` (the
//! upsert's own test) and `json_quote` instead of arrays, casts and `to_json`.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, QueryResult, Statement, Value};

use super::{MAX_PARAMS, stored};
use crate::storage::dialect::TableShape;
use crate::storage::dialect::compare::statement_text;

/// The comparison rows of `rows` (see `Dialect::compare`), or `None` when the table does not exist.
pub async fn compare(
    db: &impl ConnectionTrait,
    shape: &TableShape<'_>,
    rows: &[(String, Vec<Value>)],
) -> Result<Option<Vec<QueryResult>>, DbErr> {
    let exists = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "SELECT count(*) FROM pragma_table_info(?)",
            [shape.table.into()],
        ))
        .await?
        .map(|row| row.try_get_by_index::<i64>(0))
        .transpose()?
        .unwrap_or(0)
        > 0;
    if !exists {
        return Ok(None);
    }
    let width = shape.columns.len() + 1;
    let tuple = format!("({})", vec!["?"; width].join(", "));
    let mut out = Vec::with_capacity(rows.len());
    for chunk in rows.chunks((MAX_PARAMS / width).max(1)) {
        let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * width);
        for (i, (_, row)) in chunk.iter().enumerate() {
            values.push((i as i64).into());
            values.extend(row.iter().cloned().map(stored));
        }
        let tuples = vec![tuple.as_str(); chunk.len()].join(", ");
        let sql = statement_text(shape, &tuples, |c| {
            format!("(t.{c} IS NOT i.{c}), json_quote(t.{c}), json_quote(i.{c})")
        });
        let found = db
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                sql,
                values,
            ))
            .await?;
        out.extend(found);
    }
    Ok(Some(out))
}
