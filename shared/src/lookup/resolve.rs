//! Resolving every lookup of a page with one query per lookup (never one per row): the page's distinct
//! source tuples go in as parallel text arrays, cast to the match columns' types, joined to the table.

use std::collections::{HashMap, HashSet};

use sea_orm::{ConnectionTrait, DbErr, Value};
use serde_json::Value as Json;

use super::Lookup;
use crate::mapping::{ColumnType, column_type};
use crate::odata::client::Row;
use crate::storage::Dialect;
use crate::storage::dialect::LookupShape;

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
    let types: HashMap<String, String> = Dialect::columns(db, &lookup.table)
        .await?
        .into_iter()
        .map(|c| (c.name, c.declared))
        .collect();
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
            // A value with U+0000 matches no stored text, and PostgreSQL refuses it as a parameter:
            // asked for, it would fail the page; left out, the record's lookup is unresolved.
            if let Some(t) = tuple(lookup, row)
                && !t.iter().any(|v| v.contains('\0'))
            {
                wanted.insert(t);
            }
        }
        let mut found = HashMap::new();
        if let (Some(types), false) = (&lookup.match_types, wanted.is_empty()) {
            let wanted: Vec<Vec<String>> = wanted.into_iter().collect();
            let shape = LookupShape {
                table: &lookup.table,
                select: &lookup.select,
                match_columns: &lookup.match_columns,
                match_types: types,
            };
            let rows = Dialect::find(db, &shape, &wanted).await?;
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
