//! Key scans on SQLite: multi-row `VALUES`, two parameters a key.

use sea_orm::{DbBackend, Statement, Value};

use super::MAX_PARAMS;

pub fn scanned(scan_id: i64, keys: Vec<String>) -> Vec<Statement> {
    keys.chunks(MAX_PARAMS / 2)
        .map(|chunk| {
            let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * 2);
            for key in chunk {
                values.extend([scan_id.into(), key.clone().into()]);
            }
            let tuples = vec!["(?, ?)"; chunk.len()].join(", ");
            Statement::from_sql_and_values(
                DbBackend::Sqlite,
                format!(
                    "INSERT INTO ferry_scanned_keys (scan_id, source_key) VALUES {tuples} \
                     ON CONFLICT DO NOTHING"
                ),
                values,
            )
        })
        .collect()
}
