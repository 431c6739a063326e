//! One table's rows under one key, written by two integrations: each would take the other's rows for
//! its own, so a reconcile of one could delete what the other still holds, and their writes overwrite
//! each other. `apply` refuses that unless both integrations say so (`target.shared = true`); then a
//! reconcile deletes a row only when no coupling of any integration still backs it
//! (`target::vanished`). Checked against the definitions being applied and the stored ones they do not
//! replace, so the order of two applies does not matter.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::load::{DefinitionError, DefinitionSet};
use super::model::IntegrationDef;

/// An integration as the check sees it: where it is defined (`None`: stored, not in these files).
struct Writer<'a> {
    file: Option<&'a Path>,
    def: &'a IntegrationDef,
}

impl Writer<'_> {
    /// The rows it writes: the table and the set of key columns (their order names the same rows).
    fn rows(&self) -> (&str, BTreeSet<&str>) {
        (
            self.def.target.table.as_str(),
            self.def.target.key.iter().map(String::as_str).collect(),
        )
    }
}

/// Every integration of `set` that writes the same table and key as another integration — of `set`, or
/// of `stored` (the latest stored definitions; one `set` redefines is judged by its new form) — while
/// it or the other does not set `target.shared = true`. One error per such pair and integration of
/// `set`, under its `target` key, naming the other.
pub fn shared_target_errors(
    set: &DefinitionSet,
    stored: &[IntegrationDef],
) -> Vec<DefinitionError> {
    let redefined: BTreeSet<&str> = set
        .integrations
        .iter()
        .map(|(_, d)| d.name.as_str())
        .collect();
    let writers: Vec<Writer<'_>> = set
        .integrations
        .iter()
        .map(|(file, def)| Writer {
            file: Some(file.as_path()),
            def,
        })
        .chain(
            stored
                .iter()
                .filter(|d| !redefined.contains(d.name.as_str()))
                .map(|def| Writer { file: None, def }),
        )
        .collect();
    // Writers grouped by the rows they write, so the check costs one pass, not one per pair: a fleet
    // applies thousands of definitions at once.
    let mut by_rows: BTreeMap<(&str, BTreeSet<&str>), Vec<&Writer<'_>>> = BTreeMap::new();
    for writer in &writers {
        by_rows.entry(writer.rows()).or_default().push(writer);
    }
    let mut errors = Vec::new();
    for writer in &writers {
        let Some(file) = writer.file else { continue };
        for other in &by_rows[&writer.rows()] {
            if other.def.name == writer.def.name {
                continue;
            }
            if writer.def.target.shared && other.def.target.shared {
                continue;
            }
            errors.push(conflict(file, writer, other));
        }
    }
    errors
}

fn conflict(file: &Path, writer: &Writer<'_>, other: &Writer<'_>) -> DefinitionError {
    let (table, key) = (&writer.def.target.table, &writer.def.target.key);
    let where_other = match other.file {
        Some(_) => "",
        None => " (stored)",
    };
    let missing: Vec<String> = [writer, other]
        .iter()
        .filter(|w| !w.def.target.shared)
        .map(|w| format!("{:?}", w.def.name))
        .collect();
    DefinitionError {
        file: PathBuf::from(file),
        key: format!("integration {:?}.target", writer.def.name),
        message: format!(
            "table {table:?} with key {key:?} is also written by integration {:?}{where_other}; two \
             integrations may write the same rows only when both set `shared = true` (not set by {})",
            other.def.name,
            missing.join(" and ")
        ),
    }
}
