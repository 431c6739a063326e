//! `ferry_couplings` on SQLite: `IN` lists and multi-row `VALUES`, chunked under the parameter limit.

use chrono::Utc;
use sea_orm::{DbBackend, Statement, Value};

use super::MAX_PARAMS;
use crate::storage::dialect::Coupling;
use crate::storage::dialect::TableShape;
use crate::storage::dialect::couplings::{COUPLING_COLUMNS, ON_CONFLICT, target_row_exists};

fn statement(text: String, values: Vec<Value>) -> Statement {
    Statement::from_sql_and_values(DbBackend::Sqlite, text, values)
}

/// The stored hashes of `keys` whose target row still exists.
pub fn known_hashes(
    integration: &str,
    shape: &TableShape<'_>,
    keys: Vec<String>,
) -> Vec<Statement> {
    let exists = target_row_exists(shape, |_, n| {
        format!("json_extract(c.target_key, '$[{n}]')")
    });
    keys.chunks(MAX_PARAMS)
        .map(|chunk| {
            let marks = vec!["?"; chunk.len()].join(", ");
            let mut values: Vec<Value> = vec![integration.into()];
            values.extend(chunk.iter().map(|k| Value::from(k.clone())));
            statement(
                format!(
                    "SELECT c.source_key, c.hash FROM ferry_couplings c \
                     WHERE c.integration = ? AND c.source_key IN ({marks}) AND {exists}"
                ),
                values,
            )
        })
        .collect()
}

/// The stored source versions of `keys`.
pub fn versions(integration: &str, keys: Vec<String>) -> Vec<Statement> {
    keys.chunks(MAX_PARAMS)
        .map(|chunk| {
            let marks = vec!["?"; chunk.len()].join(", ");
            let mut values: Vec<Value> = vec![integration.into()];
            values.extend(chunk.iter().map(|k| Value::from(k.clone())));
            statement(
                format!(
                    "SELECT source_key, source_version FROM ferry_couplings \
                     WHERE integration = ? AND source_key IN ({marks})"
                ),
                values,
            )
        })
        .collect()
}

/// Statements storing a page's couplings, seven parameters a coupling.
pub fn record(integration: &str, unique: &[&Coupling]) -> Vec<Statement> {
    let now = Utc::now().fixed_offset();
    unique
        .chunks(MAX_PARAMS / 7)
        .map(|chunk| {
            let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * 7);
            for c in chunk {
                values.extend([
                    integration.into(),
                    c.source_key.clone().into(),
                    c.target_key.clone().into(),
                    c.target_table.clone().into(),
                    Value::BigInt(c.source_version),
                    c.hash.clone().into(),
                    now.into(),
                ]);
            }
            let tuples = vec!["(?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
            statement(
                format!("INSERT INTO {COUPLING_COLUMNS} VALUES {tuples} {ON_CONFLICT}"),
                values,
            )
        })
        .collect()
}
