//! `ferry_couplings` statements both engines share.

use super::{TableShape, quote};

/// What a written record becomes in `ferry_couplings`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coupling {
    /// The source key as text (`Mapping::record_key`).
    pub source_key: String,
    /// The target key's values as a JSON array, in `Mapping::key_columns` order.
    pub target_key: String,
    /// The table the row is written to: with `target_key` it names the row, so a reconcile can tell
    /// whether a coupling of any integration still points at it.
    pub target_table: String,
    pub source_version: Option<i64>,
    /// `hash` of the values written.
    pub hash: String,
}

pub(super) const COUPLING_COLUMNS: &str = "ferry_couplings (integration, source_key, target_key, \
                                           target_table, source_version, hash, updated_at)";
pub(super) const ON_CONFLICT: &str = "ON CONFLICT (integration, source_key) DO UPDATE SET \
                                      target_key = EXCLUDED.target_key, \
                                      target_table = EXCLUDED.target_table, \
                                      source_version = EXCLUDED.source_version, \
                                      hash = EXCLUDED.hash, updated_at = EXCLUDED.updated_at";

/// `EXISTS (SELECT 1 FROM t WHERE t.k = <item 0 of c.target_key> AND …)`: the coupled row is still in
/// the target. `item(column type, n)` spells item `n` of the stored key for the engine.
pub(super) fn target_row_exists(
    shape: &TableShape<'_>,
    item: impl Fn(crate::mapping::types::ColumnType, usize) -> String,
) -> String {
    format!(
        "EXISTS (SELECT 1 FROM {} t WHERE {})",
        quote(shape.table),
        shape
            .key_columns
            .iter()
            .enumerate()
            .map(|(n, &i)| {
                let column = &shape.columns[i];
                format!("t.{} = {}", quote(column.name), item(column.ty, n))
            })
            .collect::<Vec<_>>()
            .join(" AND ")
    )
}
