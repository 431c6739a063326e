//! `ferry_couplings` on Postgres: a page's keys and couplings travel as arrays.

use chrono::Utc;
use sea_orm::sea_query::ArrayType;
use sea_orm::{DbBackend, Statement, Value};

use super::numbered_placeholders;
use crate::mapping::types::ColumnType;
use crate::storage::dialect::TableShape;
use crate::storage::dialect::couplings::{COUPLING_COLUMNS, ON_CONFLICT, target_row_exists};
use crate::storage::dialect::{Coupling, Landing};

fn statement(text: &str, values: Vec<Value>) -> Statement {
    Statement::from_sql_and_values(DbBackend::Postgres, numbered_placeholders(text), values)
}

/// The stored hashes of `keys` whose target row still exists, in one query over one array.
pub fn known_hashes(
    integration: &str,
    shape: &TableShape<'_>,
    keys: Vec<String>,
) -> Vec<Statement> {
    let exists = target_row_exists(shape, key_item);
    let keys = keys.into_iter().map(|k| Value::String(Some(k))).collect();
    // One index probe per key, whatever the statistics say: as a plain join (`= ANY`, or a semi-join
    // for the EXISTS) the planner scans both whole tables for a page of keys, which costs a page time
    // proportional to the table (200 ms at a million rows) instead of 20 ms.
    vec![statement(
        &format!(
            "SELECT k.key, c.hash FROM UNNEST(?::text[]) AS k (key) CROSS JOIN LATERAL \
             (SELECT c.hash FROM ferry_couplings c \
              WHERE c.integration = ? AND c.source_key = k.key AND {exists} LIMIT 1) AS c"
        ),
        vec![
            Value::Array(ArrayType::String, Some(Box::new(keys))),
            integration.into(),
        ],
    )]
}

/// The stored source versions of `keys`, in one query over one array, probing the index once per key
/// (as `known_hashes`, for the same reason: a plain `IN` or `= ANY` may be planned as a scan of the
/// whole table, 50 ms a page at 200,000 couplings before the table is analysed).
pub fn versions(integration: &str, keys: Vec<String>) -> Vec<Statement> {
    let keys = keys.into_iter().map(|k| Value::String(Some(k))).collect();
    vec![statement(
        "SELECT k.key, c.source_version FROM UNNEST(?::text[]) AS k (key) CROSS JOIN LATERAL \
         (SELECT c.source_version FROM ferry_couplings c \
          WHERE c.integration = ? AND c.source_key = k.key LIMIT 1) AS c",
        vec![
            Value::Array(ArrayType::String, Some(Box::new(keys))),
            integration.into(),
        ],
    )]
}

/// Item `n` of a coupling's stored target key (`c.target_key`), as SQL of the key column's base type
/// (never `varchar(n)`, whose cast would cut silently).
fn key_item(ty: ColumnType, n: usize) -> String {
    let cast = match ty {
        ColumnType::Text { .. } => "text",
        ColumnType::Int16 => "smallint",
        ColumnType::Int32 => "integer",
        ColumnType::Int64 => "bigint",
        ColumnType::Decimal { .. } => "numeric",
        ColumnType::Double => "float8",
        ColumnType::Bool => "boolean",
        ColumnType::Date => "date",
        ColumnType::Timestamp => "timestamptz",
        ColumnType::Guid => "uuid",
    };
    format!("(c.target_key::jsonb ->> {n})::{cast}")
}

/// One statement storing a page's couplings: `unnest` of one array per column, as the page upsert.
pub fn record(integration: &str, unique: &[&Coupling], landing: Landing) -> Vec<Statement> {
    let array = |ty: ArrayType, items: Vec<Value>| Value::Array(ty, Some(Box::new(items)));
    let text = |f: fn(&Coupling) -> &String| -> Vec<Value> {
        unique
            .iter()
            .map(|c| Value::String(Some(f(c).clone())))
            .collect()
    };
    // sea-query binds no NULL array element: a page with versionless couplings (a tracked source's)
    // sends a filler and a mask, and the SELECT puts the NULLs back (as `unnest.rs` does for rows).
    let versionless = unique.iter().any(|c| c.source_version.is_none());
    let versions = array(
        ArrayType::BigInt,
        unique
            .iter()
            .map(|c| Value::BigInt(Some(c.source_version.unwrap_or(0))))
            .collect(),
    );
    // Placeholders are numbered in text order: integration, updated_at, then the arrays.
    let mut values = vec![
        integration.into(),
        Utc::now().fixed_offset().into(),
        array(ArrayType::String, text(|c| &c.source_key)),
        array(ArrayType::String, text(|c| &c.target_key)),
        array(ArrayType::String, text(|c| &c.target_table)),
        versions,
        array(ArrayType::String, text(|c| &c.hash)),
    ];
    let (version, mask) = if versionless {
        values.push(array(
            ArrayType::Bool,
            unique
                .iter()
                .map(|c| Value::Bool(Some(c.source_version.is_none())))
                .collect(),
        ));
        (
            "CASE WHEN vn THEN NULL ELSE v END",
            ", unnest(?::boolean[]) AS vn",
        )
    } else {
        ("v", "")
    };
    let on_conflict = match landing {
        Landing::Upsert => ON_CONFLICT,
        Landing::Insert => "",
    };
    vec![statement(
        &format!(
            "INSERT INTO {COUPLING_COLUMNS} SELECT ?, s, t, tt, {version}, h, ? FROM \
             (SELECT unnest(?::text[]) AS s, unnest(?::text[]) AS t, unnest(?::text[]) AS tt, \
              unnest(?::bigint[]) AS v, unnest(?::text[]) AS h{mask}) AS u {on_conflict}"
        ),
        values,
    )]
}
