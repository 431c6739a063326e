//! `ferry_couplings` statements both engines share.

use crate::mapping::Mapping;
use crate::sink::quote;

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
    mapping: &Mapping,
    item: impl Fn(crate::mapping::ColumnType, usize) -> String,
) -> String {
    format!(
        "EXISTS (SELECT 1 FROM {} t WHERE {})",
        quote(&mapping.table),
        mapping
            .key_columns
            .iter()
            .enumerate()
            .map(|(n, &i)| {
                let column = &mapping.columns[i];
                format!("t.{} = {}", quote(&column.name), item(column.ty, n))
            })
            .collect::<Vec<_>>()
            .join(" AND ")
    )
}
