//! What both engines' upserts share: the statement's parts and what a page's upsert answers.

use crate::storage::dialect::TableShape;
use crate::storage::dialect::quote;

/// How a page's rows fared: a row is written only when it is new or a non-key column differs.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Upserted {
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
}

/// The parts of `INSERT INTO t (columns) … ON CONFLICT (key) <conflict>` both engines share. An existing
/// row is rewritten only when a non-key column differs; `differs` spells that test for the engine, given
/// the existing and the incoming column references.
pub(super) struct Upsert {
    pub table: String,
    pub columns: Vec<String>,
    pub key: String,
    pub conflict: String,
}

pub(super) fn upsert_parts(
    shape: &TableShape<'_>,
    differs: impl Fn(&[String], &[String]) -> String,
) -> Upsert {
    let table = quote(shape.table);
    let columns: Vec<String> = shape.columns.iter().map(|c| quote(c.name)).collect();
    let key: Vec<&str> = shape
        .key_columns
        .iter()
        .map(|&i| columns[i].as_str())
        .collect();
    let others: Vec<&str> = (0..columns.len())
        .filter(|i| !shape.key_columns.contains(i))
        .map(|i| columns[i].as_str())
        .collect();
    let conflict = if others.is_empty() {
        // Only key columns: an existing row can never differ.
        "DO NOTHING".to_string()
    } else {
        let set: Vec<String> = others
            .iter()
            .map(|c| format!("{c} = EXCLUDED.{c}"))
            .collect();
        let current: Vec<String> = others.iter().map(|c| format!("{table}.{c}")).collect();
        let incoming: Vec<String> = others.iter().map(|c| format!("EXCLUDED.{c}")).collect();
        format!(
            "DO UPDATE SET {} WHERE {}",
            set.join(", "),
            differs(&current, &incoming)
        )
    };
    Upsert {
        key: key.join(", "),
        table,
        columns,
        conflict,
    }
}
