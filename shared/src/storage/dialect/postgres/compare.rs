//! Preview's comparison with the target on Postgres: the mapped rows as a `VALUES` list cast to the
//! target columns' own types, joined to the table on the key, each column compared with
//! `IS DISTINCT FROM` (the upsert's own test) and both sides shown as JSON.

use std::collections::HashMap;

use sea_orm::{ConnectionTrait, DbBackend, DbErr, QueryResult, Statement, Value};

use super::MAX_PARAMS;
use crate::storage::dialect::TableShape;
use crate::storage::dialect::compare::statement_text;

/// The comparison rows of `rows` (see `Dialect::compare`), or `None` when the table does not exist.
pub async fn compare(
    db: &impl ConnectionTrait,
    shape: &TableShape<'_>,
    rows: &[(String, Vec<Value>)],
) -> Result<Option<Vec<QueryResult>>, DbErr> {
    let existing: HashMap<String, String> = super::columns(db, shape.table)
        .await?
        .into_iter()
        .map(|c| (c.name, c.declared))
        .collect();
    if existing.is_empty() {
        return Ok(None);
    }
    let names: Vec<&str> = shape.columns.iter().map(|c| c.name).collect();
    let types: Vec<String> = shape
        .columns
        .iter()
        .map(|c| match existing.get(c.name) {
            Some(declared) => declared.clone(),
            None => super::column_sql(c.ty),
        })
        .collect();
    let mut out = Vec::with_capacity(rows.len());
    let width = names.len() + 1;
    for chunk in rows.chunks((MAX_PARAMS / width).max(1)) {
        let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * width);
        let mut tuples = Vec::with_capacity(chunk.len());
        for (i, (_, row)) in chunk.iter().enumerate() {
            let base = values.len();
            let mut marks = vec![format!("${}::bigint", base + 1)];
            marks.extend((0..names.len()).map(|c| format!("${}::{}", base + c + 2, types[c])));
            tuples.push(format!("({})", marks.join(", ")));
            values.push((i as i64).into());
            values.extend(row.iter().cloned());
        }
        let sql = statement_text(shape, &tuples.join(", "), |c| {
            format!("(t.{c} IS DISTINCT FROM i.{c}), to_json(t.{c})::text, to_json(i.{c})::text")
        });
        let found = db
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                sql,
                values,
            ))
            .await?;
        out.extend(found);
    }
    Ok(Some(out))
}
