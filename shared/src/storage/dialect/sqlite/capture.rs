//! Change capture on SQLite: three triggers per integration (after insert, update, delete) append the
//! row's key to `ferry_changes`. SQLite has no transaction-local setting a trigger can read, so
//! Ferry's own writes hold a row in `ferry_quiet` for the length of their transaction, and the
//! triggers log nothing while it is there. SQLite has one writer at a time, so no other transaction
//! can see (or be silenced by) that row.

use super::super::quote;
use super::NOW;
use crate::storage::dialect::capture::{Capture, literal};

/// What Ferry's own write transactions run first, and last before commit.
pub const OWN_WRITES: &str = "INSERT INTO ferry_quiet (writing) VALUES (1)";
pub const OWN_WRITES_END: &str = "DELETE FROM ferry_quiet";

/// The three triggers' `CREATE` statements, in the order `install` runs them (after dropping any of
/// the same names), and as `sqlite_master.sql` keeps them: what `state` compares.
pub fn triggers(capture: &Capture<'_>) -> Vec<(String, String)> {
    let name = capture.name();
    let table = quote(capture.table);
    let keys = |row: &str| {
        let columns: Vec<String> = capture
            .key_columns
            .iter()
            .map(|c| format!("{row}.{}", quote(c)))
            .collect();
        format!("json_array({})", columns.join(", "))
    };
    let log = |row: &str, op: &str, when: &str| {
        format!(
            "INSERT INTO ferry_changes (integration, row_key, operation, changed_at) \
             SELECT {}, {}, '{op}', {NOW}{when};",
            literal(capture.integration),
            keys(row),
        )
    };
    let quiet = "WHEN NOT EXISTS (SELECT 1 FROM ferry_quiet)";
    let moved = format!(" WHERE {} IS NOT {}", keys("OLD"), keys("NEW"));
    [
        ("i", "INSERT", log("NEW", "I", "")),
        (
            "u",
            "UPDATE",
            format!("{} {}", log("OLD", "D", &moved), log("NEW", "U", "")),
        ),
        ("d", "DELETE", log("OLD", "D", "")),
    ]
    .into_iter()
    .map(|(suffix, event, body)| {
        let trigger = format!("{name}_{suffix}");
        let sql = format!(
            "CREATE TRIGGER {} AFTER {event} ON {table} FOR EACH ROW {quiet} BEGIN {body} END",
            quote(&trigger)
        );
        (trigger, sql)
    })
    .collect()
}

/// Creates (or replaces) the triggers.
pub fn install(capture: &Capture<'_>) -> Vec<String> {
    triggers(capture)
        .into_iter()
        .flat_map(|(name, sql)| [format!("DROP TRIGGER IF EXISTS {}", quote(&name)), sql])
        .collect()
}

/// The installed triggers' SQL for the table, by name.
pub fn installed() -> &'static str {
    "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?"
}

/// Removes the triggers.
pub fn remove(capture: &Capture<'_>) -> Vec<String> {
    triggers(capture)
        .into_iter()
        .map(|(name, _)| format!("DROP TRIGGER IF EXISTS {}", quote(&name)))
        .collect()
}
