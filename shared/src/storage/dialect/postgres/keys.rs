//! Key scans on Postgres: a page of keys is one array.

use sea_orm::sea_query::ArrayType;
use sea_orm::{DbBackend, Statement, Value};

pub fn scanned(scan_id: i64, keys: Vec<String>) -> Vec<Statement> {
    let keys = keys.into_iter().map(|k| Value::String(Some(k))).collect();
    vec![Statement::from_sql_and_values(
        DbBackend::Postgres,
        "INSERT INTO ferry_scanned_keys (scan_id, source_key) SELECT $1, unnest($2::text[]) \
         ON CONFLICT DO NOTHING",
        [
            scan_id.into(),
            Value::Array(ArrayType::String, Some(Box::new(keys))),
        ],
    )]
}
