//! What a test reads back out of its world: target tables compared with the source, runs waited for,
//! and everything the database, the sandbox and the logs hold that a secret must not be in.

use std::time::Duration;

use ferry_sandbox::Sandbox;
use ferry_shared::runs::RunSummary;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::Value;

use super::{Backend, TestEnv};

impl TestEnv {
    /// Runs one SQL statement on the test's database (a local change, a table of the test's own).
    pub async fn execute(&self, sql: &str) {
        self.db
            .execute_raw(Statement::from_string(self.db.get_database_backend(), sql))
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// The first column of the first row of a query, as an integer (a `count(*)`).
    pub async fn count(&self, sql: &str) -> i64 {
        self.db
            .query_one_raw(Statement::from_string(self.db.get_database_backend(), sql))
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .expect("a query with a row")
            .try_get_by_index::<i64>(0)
            .unwrap()
    }

    /// Every row of a target table, each SQL expression of `columns` as text, ordered by `key`.
    pub async fn table(
        &self,
        table: &str,
        columns: &[&str],
        key: &str,
    ) -> Vec<Vec<Option<String>>> {
        table_rows(&self.db, table, columns, key).await
    }

    /// Polls run `run_id` until `done` holds for it; panics naming `what` after 30 s.
    pub async fn wait_until(&self, run_id: i64, what: &str, done: impl Fn(&RunSummary) -> bool) {
        for _ in 0..600 {
            let run = ferry_shared::runs::get(&self.db, run_id)
                .await
                .unwrap()
                .unwrap();
            if done(&run.into()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("run {run_id}: {what} within 30 s");
    }

    /// Every token and secret the sandbox has issued or accepts (`GET /_sandbox/issued`).
    pub async fn issued_secrets(&self) -> Vec<String> {
        let issued: Value = reqwest::get(format!("{}/_sandbox/issued", self.sandbox.base_url()))
            .await
            .expect("sandbox answers")
            .json()
            .await
            .expect("JSON");
        [
            "access_tokens",
            "refresh_tokens",
            "client_secrets",
            "device_codes",
        ]
        .iter()
        .flat_map(|k| issued[*k].as_array().cloned().unwrap_or_default())
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
    }

    /// Everything this test's database holds, as text, for proving a secret is not in it. Postgres:
    /// `pg_dump --data-only`. SQLite: the bytes of the database file and its write-ahead log, so a
    /// plaintext value anywhere in them — a live row or a freed page — shows.
    pub fn database_dump(&self) -> String {
        match self.backend {
            Backend::Postgres => self.pg_dump(),
            Backend::Sqlite => ["ferry.db", "ferry.db-wal"]
                .iter()
                .filter_map(|file| std::fs::read(self.dir.join(file)).ok())
                .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
                .collect(),
        }
    }

    /// `pg_dump` of this test's database, as text.
    fn pg_dump(&self) -> String {
        let output = std::process::Command::new("pg_dump")
            .arg("--data-only")
            .arg(&self.settings.database.url)
            .output()
            .expect("pg_dump runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }
}

/// Every row of a target table in `db`, each SQL expression of `columns` as text, ordered by `key`.
pub async fn table_rows(
    db: &DatabaseConnection,
    table: &str,
    columns: &[&str],
    key: &str,
) -> Vec<Vec<Option<String>>> {
    let select: Vec<String> = columns
        .iter()
        .map(|c| match Backend::of(db) {
            Backend::Postgres => format!("({c})::text"),
            Backend::Sqlite => format!("CAST(({c}) AS TEXT)"),
        })
        .collect();
    let sql = format!(
        "SELECT {} FROM \"{table}\" ORDER BY \"{key}\"",
        select.join(", ")
    );
    let rows = db
        .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect("query target");
    rows.iter()
        .map(|row| {
            (0..columns.len())
                .map(|i| row.try_get_by_index::<Option<String>>(i).unwrap())
                .collect()
        })
        .collect()
}

/// A JSON value as the text Postgres prints for the column it landed in.
pub fn text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// Target columns (as SQL) and the source field each must equal, with how the source value is compared.
pub const CUSTOMER_COLUMNS: &[(&str, &str)] = &[
    ("bc_no", "No"),
    ("bc_id", "id"),
    ("name", "Name"),
    ("email", "Email"),
    ("address", "Address"),
    ("address2", "Address2"),
    ("city", "City"),
    ("state", "State"),
    ("post_code", "PostCode"),
    ("country", "CountryRegionCode"),
    ("phone", "PhoneNo"),
    ("home_page", "HomePage"),
    ("primary_contact_no", "PrimaryContacNo"),
    (MODIFIED_AT_MS, "SystemModifiedAt"),
    ("row_version", "RowVersionNumber"),
    ("origin", "-"),
];

/// The source value as the target should hold it: e-mail lower-cased by its transform, time stamps in
/// epoch milliseconds, the constant `origin`.
pub fn expected(field: &str, row: &serde_json::Map<String, Value>) -> Option<String> {
    match field {
        "-" => Some("bc".into()),
        "Email" => text(&row[field]).map(|s| s.to_lowercase()),
        "id" => text(&row[field]).map(|s| s.to_lowercase()),
        "SystemModifiedAt" => text(&row[field]).map(|s| {
            chrono::DateTime::parse_from_rfc3339(&s)
                .unwrap()
                .timestamp_millis()
                .to_string()
        }),
        _ => text(&row[field]),
    }
}

/// Stands for `modified_at` in epoch milliseconds, spelled per backend by `epoch_ms`.
const MODIFIED_AT_MS: &str = "modified_at in epoch ms";

/// `modified_at` as epoch milliseconds (Postgres: timestamptz; SQLite: RFC 3339 text).
fn epoch_ms(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "(extract(epoch from modified_at) * 1000)::bigint",
        Backend::Sqlite => "CAST(round(unixepoch(modified_at, 'subsec') * 1000) AS INTEGER)",
    }
}

/// The SQL expression that reads one of `CUSTOMER_COLUMNS` on `backend`.
pub fn customer_column_sql(backend: Backend, column: &'static str) -> &'static str {
    match column {
        MODIFIED_AT_MS => epoch_ms(backend),
        c => c,
    }
}

/// Asserts the `customer` table equals the sandbox's RescoCustomer rows, field by field.
pub async fn assert_customers_equal_source(env: &TestEnv) {
    assert_customers_equal_source_in(&env.db, &env.sandbox).await
}

/// Asserts `db`'s `customer` table equals `sandbox`'s RescoCustomer rows, field by field.
pub async fn assert_customers_equal_source_in(db: &DatabaseConnection, sandbox: &Sandbox) {
    let backend = Backend::of(db);
    let columns: Vec<&str> = CUSTOMER_COLUMNS
        .iter()
        .map(|(c, _)| customer_column_sql(backend, c))
        .collect();
    let target = table_rows(db, "customer", &columns, "bc_no").await;
    let source = sandbox.rows("RescoCustomer");
    assert_eq!(target.len(), source.len(), "row count");
    for (got, row) in target.iter().zip(&source) {
        for (i, (column, field)) in CUSTOMER_COLUMNS.iter().enumerate() {
            assert_eq!(
                got[i],
                expected(field, row),
                "column {column} of {:?}",
                row["No"]
            );
        }
    }
}

/// Every log line of this test process from the first call on (debug level), so a test can prove no
/// token reaches a log. Installed once, as the global subscriber; returns a reader of the buffer.
pub fn captured_logs() -> impl Fn() -> String {
    use std::sync::{Arc, Mutex, OnceLock};
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    let buffer = LOGS
        .get_or_init(|| {
            let buffer = Arc::new(Mutex::new(Vec::new()));
            let sink = buffer.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(
                    "debug,hyper=info,hyper_util=info,h2=info,rustls=info",
                ))
                .with_writer(move || Sink(sink.clone()))
                .finish();
            let _ = tracing::subscriber::set_global_default(subscriber);
            buffer
        })
        .clone();
    move || String::from_utf8_lossy(&buffer.lock().unwrap()).into_owned()
}
