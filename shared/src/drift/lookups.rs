//! Checking an integration's lookups against the tables they read: a lookup into a table that
//! neither exists nor is written by any integration, or that lacks its `match` or `select` column,
//! finds nothing for every record.

use std::collections::HashMap;

use super::{Problem, ProblemKind, Severity, TargetTable};
use crate::definitions::IntegrationDef;

/// Problems of `def`'s lookups. `tables` holds each lookup table as it is (`None`: it does not
/// exist); `written` the target tables of the stored integrations.
pub fn check_lookups(
    def: &IntegrationDef,
    tables: &HashMap<String, Option<TargetTable>>,
    written: &[String],
) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (n, lookup) in def.lookups.iter().enumerate() {
        let used_by = vec![format!("lookups[{n}] (→ {})", lookup.to)];
        let problem = |kind, field: &str, message: String| Problem {
            integration: def.name.clone(),
            severity: Severity::Error,
            kind,
            field: field.to_string(),
            used_by: used_by.clone(),
            message,
        };
        match tables.get(&lookup.table) {
            Some(Some(table)) => {
                for column in lookup.match_columns.iter().chain([&lookup.select]) {
                    if !table.columns.contains_key(column) {
                        problems.push(problem(
                            ProblemKind::MissingLookupColumn,
                            column,
                            format!("lookup table {:?} has no column {column:?}", lookup.table),
                        ));
                    }
                }
            }
            _ if written.contains(&lookup.table) => {}
            _ => problems.push(problem(
                ProblemKind::MissingLookupTable,
                &lookup.table,
                format!(
                    "lookup table {:?} does not exist and no integration writes it, so no record \
                     would find a match",
                    lookup.table
                ),
            )),
        }
    }
    problems
}
