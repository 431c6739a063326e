//! Resolving every lookup of a page with one query per lookup (never one per row): the page's distinct
//! source tuples go in as parallel text arrays, cast to the match columns' types, joined to the table.

use std::collections::{HashMap, HashSet};

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, Value};
use serde_json::Value as Json;

use super::Lookup;
use crate::mapping::{ColumnType, column_type};
use crate::odata::client::Row;
use crate::sink::quote;

/// For each lookup (in mapping order): source tuple → the selected value.
#[derive(Debug, Default)]
pub struct PageLookups {
    pub found: Vec<HashMap<Vec<String>, Value>>,
}

/// The tuple a row refers to; `None` when any part is null or empty (the row refers to nothing).
pub fn tuple(lookup: &Lookup, row: &Row) -> Option<Vec<String>> {
    lookup
        .from
        .iter()
        .map(|f| match row.get(f) {
            None | Some(Json::Null) => None,
            Some(Json::String(s)) if s.is_empty() => None,
            Some(Json::String(s)) => Some(s.clone()),
            Some(other) => Some(other.to_string()),
        })
        .collect()
}

/// Reads the match and select columns' types. A missing table leaves `match_types` unset, so every
/// lookup is unresolved (the referenced integration may simply not have run yet).
pub async fn prepare(db: &impl ConnectionTrait, lookup: &mut Lookup) -> Result<ColumnType, DbErr> {
    let types = if db.get_database_backend() == DbBackend::Sqlite {
        super::sqlite::column_types(db, &lookup.table).await?
    } else {
        postgres_column_types(db, lookup).await?
    };
    lookup.match_types = lookup
        .match_columns
        .iter()
        .map(|c| types.get(c).cloned())
        .collect();
    Ok(types
        .get(&lookup.select)
        .map(|t| column_type(t))
        .unwrap_or(ColumnType::Text { max_len: None }))
}

async fn postgres_column_types(
    db: &impl ConnectionTrait,
    lookup: &Lookup,
) -> Result<HashMap<String, String>, DbErr> {
    let sql = "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a \
               WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped";
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            [quote(&lookup.table).into()],
        ))
        .await?;
    let mut types = HashMap::new();
    for row in rows {
        types.insert(
            row.try_get_by_index::<String>(0)?,
            row.try_get_by_index::<String>(1)?,
        );
    }
    Ok(types)
}

/// Resolves `lookups` for `rows`: one statement per lookup for the whole page.
pub async fn resolve_page(
    db: &impl ConnectionTrait,
    lookups: &[(Lookup, ColumnType)],
    rows: &[Row],
) -> Result<PageLookups, DbErr> {
    let mut page = PageLookups::default();
    for (lookup, ty) in lookups {
        let mut wanted: HashSet<Vec<String>> = HashSet::new();
        for row in rows {
            if let Some(t) = tuple(lookup, row) {
                wanted.insert(t);
            }
        }
        let mut found = HashMap::new();
        if let (Some(_), false, DbBackend::Sqlite) = (
            &lookup.match_types,
            wanted.is_empty(),
            db.get_database_backend(),
        ) {
            let wanted: Vec<Vec<String>> = wanted.into_iter().collect();
            let rows = super::sqlite::find(db, lookup, &wanted).await?;
            read_found(lookup, ty, rows, &mut found)?;
        } else if let (Some(types), false) = (&lookup.match_types, wanted.is_empty()) {
            let wanted: Vec<Vec<String>> = wanted.into_iter().collect();
            let arrays: Vec<Value> = (0..lookup.from.len())
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
                .zip(types)
                .enumerate()
                .map(|(i, (c, ty))| format!("t.{} = k.k{i}::{ty}", quote(c)))
                .collect();
            let keys: Vec<String> = names.iter().map(|n| format!("k.{n}")).collect();
            // One index probe per wanted tuple (a LATERAL with LIMIT is never flattened into a hash
            // join), so a page's lookups cost the same in a table of a thousand rows or ten million.
            let sql = format!(
                "SELECT {}, to_json(t.v)::text FROM unnest({}) AS k({}) CROSS JOIN LATERAL \
                 (SELECT t.{} AS v FROM {} t WHERE {} LIMIT 1) AS t",
                keys.join(", "),
                params.join(", "),
                names.join(", "),
                quote(&lookup.select),
                quote(&lookup.table),
                join.join(" AND "),
            );
            let rows = db
                .query_all_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    sql,
                    arrays,
                ))
                .await?;
            read_found(lookup, ty, rows, &mut found)?;
        }
        page.found.push(found);
    }
    Ok(page)
}

/// Reads `(tuple…, selected value as JSON text)` rows into `found`, converting to the column's type.
fn read_found(
    lookup: &Lookup,
    ty: &ColumnType,
    rows: Vec<sea_orm::QueryResult>,
    found: &mut HashMap<Vec<String>, Value>,
) -> Result<(), DbErr> {
    for row in rows {
        let key: Vec<String> = (0..lookup.from.len())
            .map(|i| row.try_get_by_index::<String>(i))
            .collect::<Result<_, _>>()?;
        let json: Option<String> = row.try_get_by_index(lookup.from.len())?;
        let json: Json = json
            .and_then(|j| serde_json::from_str(&j).ok())
            .unwrap_or(Json::Null);
        let value = ty.convert(&json).unwrap_or_else(|_| ty.null());
        found.insert(key, value);
    }
    Ok(())
}
