//! Change capture on PostgreSQL: one trigger function per integration, run after each row's insert,
//! update or delete, appending the row's key to `ferry_changes`. Ferry's own writes set the
//! transaction-local `ferry.writing`, which the function reads, so they are never logged (no echo).

use super::super::quote;
use crate::storage::dialect::capture::{Capture, literal};

/// What Ferry's own write transactions run first.
pub const OWN_WRITES: &str = "SELECT set_config('ferry.writing', 'on', true)";

/// The trigger function's body, as the catalog keeps it (`pg_proc.prosrc`): what `state` compares.
pub fn body(capture: &Capture<'_>) -> String {
    let keys = |row: &str| {
        let columns: Vec<String> = capture
            .key_columns
            .iter()
            .map(|c| format!("{row}.{}", quote(c)))
            .collect();
        columns.join(", ")
    };
    let log = |row: &str, op: &str| {
        format!(
            "INSERT INTO ferry_changes (integration, row_key, operation, changed_at) \
             VALUES ({}, json_build_array({})::text, '{op}', now());",
            literal(capture.integration),
            keys(row)
        )
    };
    format!(
        "\nBEGIN\n\
         IF current_setting('ferry.writing', true) = 'on' THEN RETURN NULL; END IF;\n\
         IF TG_OP = 'INSERT' THEN {insert}\n\
         ELSIF TG_OP = 'DELETE' THEN {delete}\n\
         ELSE\n\
         IF (json_build_array({old})::jsonb) IS DISTINCT FROM (json_build_array({new})::jsonb) THEN {delete} END IF;\n\
         {update}\n\
         END IF;\n\
         RETURN NULL;\n\
         END\n",
        insert = log("NEW", "I"),
        delete = log("OLD", "D"),
        update = log("NEW", "U"),
        old = keys("OLD"),
        new = keys("NEW"),
    )
}

/// Creates (or replaces) the function and the trigger.
pub fn install(capture: &Capture<'_>) -> Vec<String> {
    let name = quote(&capture.name());
    let table = quote(capture.table);
    vec![
        format!(
            "CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $ferry${}$ferry$",
            body(capture)
        ),
        format!("DROP TRIGGER IF EXISTS {name} ON {table}"),
        format!(
            "CREATE TRIGGER {name} AFTER INSERT OR UPDATE OR DELETE ON {table} \
             FOR EACH ROW EXECUTE FUNCTION {name}()"
        ),
    ]
}

/// The installed function's body for the trigger of that name on the table (none: no row).
pub fn installed() -> &'static str {
    "SELECT p.prosrc FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid \
     WHERE t.tgname = $1 AND t.tgrelid = to_regclass($2) AND NOT t.tgisinternal"
}

/// Removes the trigger and its function.
pub fn remove(capture: &Capture<'_>) -> Vec<String> {
    let name = quote(&capture.name());
    vec![
        format!("DROP TRIGGER IF EXISTS {name} ON {}", quote(capture.table)),
        format!("DROP FUNCTION IF EXISTS {name}()"),
    ]
}
