//! Reading the local rows a page of changes names: each exported column as JSON text, found by the
//! local key. A key the table no longer has was deleted.

use std::collections::HashMap;

use sea_orm::{ConnectionTrait, DbErr};
use serde_json::Value as Json;

use super::outbound::Outbound;
use crate::mapping::types::ColumnType;
use crate::storage::{Dialect, quote};

/// A local key as couplings store it (`target_key`): each value converted to its column's type and
/// written back as JSON, so `["A"]` from either engine's trigger reads the same. `None` when a value
/// does not fit its column (the key columns' types changed).
pub fn canonical_key(local_key: &[(String, ColumnType)], values: &[Json]) -> Option<String> {
    if values.len() != local_key.len() {
        return None;
    }
    let typed: Option<Vec<sea_orm::Value>> = local_key
        .iter()
        .zip(values)
        .map(|((_, ty), json)| ty.convert(json).ok())
        .collect();
    Some(crate::sink::coupling::key_text(&typed?))
}

/// The rows of `keys` (canonical key → each exported column's JSON text, in `outbound.fields`
/// order). Keys are given as the change log holds them.
pub async fn rows(
    conn: &impl ConnectionTrait,
    outbound: &Outbound,
    keys: &[Vec<Json>],
) -> Result<HashMap<String, Vec<String>>, DbErr> {
    let dialect = Dialect::of(conn);
    let mut out = HashMap::new();
    if keys.is_empty() {
        return Ok(out);
    }
    let width = outbound.local_key.len();
    let per_chunk = (dialect.max_params() / width.max(1)).clamp(1, 500);
    let mut select: Vec<String> = outbound
        .local_key
        .iter()
        .map(|(c, _)| dialect.json_text(&format!("t.{}", quote(c))))
        .collect();
    select.extend(
        outbound
            .fields
            .iter()
            .map(|f| dialect.json_text(&format!("t.{}", quote(&f.column)))),
    );
    let one_key: Vec<String> = outbound
        .local_key
        .iter()
        .map(|(c, _)| format!("t.{} = ?", quote(c)))
        .collect();
    let one_key = format!("({})", one_key.join(" AND "));
    for chunk in keys.chunks(per_chunk) {
        let mut params = Vec::with_capacity(chunk.len() * width);
        let mut clauses = Vec::with_capacity(chunk.len());
        for key in chunk {
            let typed: Option<Vec<sea_orm::Value>> = outbound
                .local_key
                .iter()
                .zip(key)
                .map(|((_, ty), json)| ty.convert(json).ok().map(|v| dialect.stored(v)))
                .collect();
            // A key that no longer fits its column cannot be in the table.
            let Some(typed) = typed.filter(|t| t.len() == width) else {
                continue;
            };
            params.extend(typed);
            clauses.push(one_key.as_str());
        }
        if clauses.is_empty() {
            continue;
        }
        let sql = format!(
            "SELECT {} FROM {} t WHERE {}",
            select.join(", "),
            quote(&outbound.table),
            clauses.join(" OR ")
        );
        for row in conn.query_all_raw(dialect.statement(&sql, params)).await? {
            let mut texts = Vec::with_capacity(select.len());
            for i in 0..select.len() {
                let text: Option<String> = row.try_get_by_index(i)?;
                texts.push(text.unwrap_or_else(|| "null".into()));
            }
            let key_values: Vec<Json> = texts[..width]
                .iter()
                .map(|t| serde_json::from_str(t).unwrap_or(Json::Null))
                .collect();
            if let Some(key) = canonical_key(&outbound.local_key, &key_values) {
                out.insert(key, texts.split_off(width));
            }
        }
    }
    Ok(out)
}
