//! The test harness: each test gets its own Postgres database and Redis key prefix — or, on the SQLite
//! backend, its own SQLite file holding database and queue — its own sandbox on a free port and its own
//! worker, so tests run in parallel without seeing each other.

use std::path::PathBuf;
use std::time::Duration;

use ferry_sandbox::{MutateRequest, MutateResponse, Sandbox, SandboxConfig};
use ferry_scheduler::cli;
use ferry_shared::runs::{Mode, RunSummary};
use ferry_shared::settings::Settings;
use ferry_shared::storage;
use ferry_shared::sync::SyncContext;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The server where test databases are created (trust auth on loopback, as `deploy/test.sh` sets up).
pub fn admin_url() -> String {
    std::env::var("FERRY_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub fn redis_url() -> String {
    std::env::var("FERRY_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Where a test keeps Ferry's database and queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A fresh Postgres database and a Redis key prefix.
    Postgres,
    /// One fresh SQLite file for the database and the queue (one-process mode).
    Sqlite,
}

impl Backend {
    /// The backend a connection talks to.
    pub fn of(db: &DatabaseConnection) -> Backend {
        match db.get_database_backend() {
            sea_orm::DbBackend::Sqlite => Backend::Sqlite,
            _ => Backend::Postgres,
        }
    }
}

/// Runs an `async fn NAME(backend: Backend)` scenario as two tests, `NAME::postgres` and
/// `NAME::sqlite`, so every invariant is exercised on both engines by the default `cargo test`.
#[macro_export]
macro_rules! on_both_backends {
    ($(#[$attr:meta])* $name:ident) => {
        mod $name {
            $(#[$attr])*
            async fn postgres() {
                super::$name($crate::helpers::Backend::Postgres).await
            }
            $(#[$attr])*
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await
            }
        }
    };
}

/// A test's private world.
pub struct TestEnv {
    pub settings: Settings,
    pub db: DatabaseConnection,
    pub sandbox: Sandbox,
    pub dir: PathBuf,
    pub backend: Backend,
    database: String,
    worker: Option<(oneshot::Sender<()>, JoinHandle<anyhow::Result<()>>)>,
    schedulers: Vec<(oneshot::Sender<()>, JoinHandle<anyhow::Result<()>>)>,
}

impl TestEnv {
    /// A fresh database and queue prefix, a sandbox with `customers` rows, and one running worker.
    pub async fn start(customers: usize, contacts: usize) -> TestEnv {
        TestEnv::start_on(Backend::Postgres, customers, contacts).await
    }

    /// Like `start`, on `backend`.
    pub async fn start_on(backend: Backend, customers: usize, contacts: usize) -> TestEnv {
        let mut env = TestEnv::without_worker_on(backend, customers, contacts).await;
        env.start_worker();
        env
    }

    pub async fn without_worker(customers: usize, contacts: usize) -> TestEnv {
        TestEnv::without_worker_on(Backend::Postgres, customers, contacts).await
    }

    /// Like `without_worker`, on `backend`.
    pub async fn without_worker_on(backend: Backend, customers: usize, contacts: usize) -> TestEnv {
        TestEnv::with_sandbox_on(
            backend,
            SandboxConfig {
                customers,
                contacts,
                seed: 7,
                ..SandboxConfig::default()
            },
        )
        .await
    }

    /// Like `without_worker`, with a sandbox configured by the test (token lifetimes, device codes).
    pub async fn with_sandbox(config: SandboxConfig) -> TestEnv {
        TestEnv::with_sandbox_on(Backend::Postgres, config).await
    }

    /// Like `with_sandbox`, on `backend`.
    pub async fn with_sandbox_on(backend: Backend, config: SandboxConfig) -> TestEnv {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let database = format!("ferry_test_{}", &id[..16]);
        let dir = std::env::temp_dir().join(format!("ferry-test-{id}"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut settings = Settings::load(None).expect("default settings");
        match backend {
            Backend::Postgres => {
                let admin = Database::connect(admin_url())
                    .await
                    .expect("test Postgres answers");
                admin
                    .execute_unprepared(&format!("CREATE DATABASE \"{database}\""))
                    .await
                    .expect("create test database");
                admin.close().await.ok();
                let mut url = url_of(&admin_url());
                url.set_path(&format!("/{database}"));
                settings.database.url = url.to_string();
                settings.queue.url = redis_url();
            }
            Backend::Sqlite => {
                let url = format!("sqlite:{}", dir.join("ferry.db").display());
                settings.database.url = url.clone();
                settings.queue.url = url;
            }
        }
        settings.database.max_connections = 5;
        settings.queue.prefix = format!("ferry-test-{id}");
        settings.worker.concurrency = 1;
        settings.worker.poll_interval_ms = 20;
        settings.worker.page_size = 500;
        settings.worker.lease_secs = 30;
        settings.scheduler.tick_ms = 100;
        settings.scheduler.reconcile_secs = 1;
        settings.scheduler.requeue_after_secs = 2;
        settings.scheduler.leader_lease_secs = 2;
        settings.retry.base_ms = 100;
        settings.retry.max_secs = 2;
        settings.api.token = Some(API_TOKEN.to_string().into());
        settings.api.callback_secret = Some("test-callback-secret".to_string().into());
        let db = storage::connect(&settings.database)
            .await
            .expect("migrations apply");
        settings.secrets.master_key = Some(TEST_MASTER_KEY.into());
        let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap(), config)
            .await
            .expect("sandbox starts");
        TestEnv {
            settings,
            db,
            sandbox,
            dir,
            backend,
            database,
            worker: None,
            schedulers: Vec::new(),
        }
    }

    pub fn start_worker(&mut self) {
        let (stop, stopped) = oneshot::channel::<()>();
        let handle = tokio::spawn(ferry_worker::run(self.settings.clone(), async move {
            let _ = stopped.await;
        }));
        self.worker = Some((stop, handle));
    }

    /// Starts a `ferry scheduler` (API on a free port, cron, recovery) and returns the API's base URL.
    pub async fn start_scheduler(&mut self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let settings = self.settings.clone();
        let handle = tokio::spawn(async move {
            ferry_scheduler::service::run_with_listener(settings, listener, async move {
                let _ = stopped.await;
            })
            .await
        });
        self.schedulers.push((stop, handle));
        url
    }

    /// Stops the schedulers started so far and waits for them to exit.
    pub async fn stop_schedulers(&mut self) {
        for (stop, handle) in self.schedulers.drain(..) {
            let _ = stop.send(());
            let _ = tokio::time::timeout(Duration::from_secs(30), handle).await;
        }
    }

    /// Stops the worker, waiting (bounded) for it to exit.
    pub async fn stop_worker(&mut self) {
        if let Some((stop, handle)) = self.worker.take() {
            let _ = stop.send(());
            let _ = tokio::time::timeout(Duration::from_secs(60), handle).await;
        }
    }

    /// A worker's execution context, for driving runs by hand.
    pub async fn sync_context(&self) -> SyncContext {
        SyncContext {
            db: self.db.clone(),
            http: ferry_shared::odata::client::http_client(),
            settings: self.settings.worker.clone(),
            retry: self.settings.retry.clone(),
            queue: ferry_shared::queue::storage(&self.settings.queue, Duration::from_secs(10))
                .await
                .unwrap(),
            stopping: Default::default(),
            callback_secret: self.settings.api.callback_secret.clone(),
            credentials: self.credentials(),
            metadata: Default::default(),
        }
    }

    /// Writes the DESIGN §4 definitions (client credentials, `create = true`) for this sandbox.
    pub fn write_definitions(&self, extra_integration: &str) -> PathBuf {
        let file = self.dir.join("bc.toml");
        std::fs::write(&file, definitions(&self.sandbox, extra_integration)).unwrap();
        file
    }

    pub async fn apply(&self, file: &PathBuf) {
        cli::apply(&self.db, std::slice::from_ref(file))
            .await
            .expect("apply runs")
            .expect("definitions are valid");
    }

    /// Triggers a run and waits for its end, as `ferry run NAME --wait` does.
    pub async fn run(&self, integration: &str, mode: Mode) -> RunSummary {
        let run_id = cli::trigger(&self.db, &self.settings, integration, mode)
            .await
            .expect("trigger");
        cli::wait_for(&self.db, run_id, Duration::from_secs(120))
            .await
            .expect("run ends")
    }

    pub fn mutate(
        &self,
        entity: &str,
        insert: usize,
        update: usize,
        delete: usize,
    ) -> MutateResponse {
        self.sandbox
            .mutate(MutateRequest {
                entity: entity.into(),
                insert,
                update,
                delete,
            })
            .expect("mutate")
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

    pub fn env_vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("FERRY__DATABASE__URL", self.settings.database.url.clone()),
            ("FERRY__QUEUE__URL", self.settings.queue.url.clone()),
            ("FERRY__QUEUE__PREFIX", self.settings.queue.prefix.clone()),
            ("FERRY__SECRETS__MASTER_KEY", TEST_MASTER_KEY.into()),
        ]
    }

    /// The `ferry` binary with this test's database, queue and master key.
    pub fn ferry(&self, args: &[&str]) -> std::process::Command {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_ferry"));
        command
            .args(args)
            .envs(self.env_vars())
            .env("FERRY__LOG__FORMAT", "json")
            .env_remove("FERRY_MASTER_KEY")
            .env_remove("FERRY_PREVIOUS_MASTER_KEYS");
        command
    }

    /// Sealed credentials of this test's database, under the test key.
    pub fn credentials(&self) -> ferry_shared::secrets::Credentials {
        ferry_shared::secrets::Credentials::new(self.db.clone(), &self.settings.secrets)
            .expect("the test key is valid")
    }

    /// POSTs JSON to a sandbox control endpoint and returns its JSON answer.
    pub async fn control(&self, path: &str, body: Value) -> Value {
        let response = reqwest::Client::new()
            .post(format!("{}{path}", self.sandbox.base_url()))
            .json(&body)
            .send()
            .await
            .expect("sandbox answers");
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.expect("JSON")
    }

    /// Makes every sandbox customer request take `ms` milliseconds, so a run lasts long enough to be
    /// interfered with.
    pub async fn slow_pages(&self, ms: u64) {
        self.control(
            "/_sandbox/faults",
            serde_json::json!({ "route": "*/RescoCustomer*", "latency_ms": ms, "rate": 1.0 }),
        )
        .await;
    }

    /// Removes every fault rule of the sandbox (`DELETE /_sandbox/faults`).
    pub async fn clear_faults(&self) {
        let answer = reqwest::Client::new()
            .delete(format!("{}/_sandbox/faults", self.sandbox.base_url()))
            .send()
            .await
            .expect("sandbox answers");
        assert!(answer.status().is_success(), "{}", answer.status());
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

    /// `pg_dump` of this test's database, as text.
    pub fn pg_dump(&self) -> String {
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

    /// Stops the worker and sandbox, drops the database and the queue's keys (or the SQLite file).
    pub async fn finish(mut self) {
        self.stop_schedulers().await;
        self.stop_worker().await;
        self.db.clone().close().await.ok();
        if self.backend == Backend::Sqlite {
            std::fs::remove_dir_all(&self.dir).ok();
            self.sandbox.stop().await;
            return;
        }
        let admin = Database::connect(admin_url()).await.unwrap();
        admin
            .execute_unprepared(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.database
            ))
            .await
            .unwrap();
        let client = redis::Client::open(self.settings.queue.url.as_str()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}*", self.settings.queue.prefix))
            .query_async(&mut conn)
            .await
            .unwrap();
        if !keys.is_empty() {
            let _: () = redis::cmd("DEL")
                .arg(keys)
                .query_async(&mut conn)
                .await
                .unwrap();
        }
        std::fs::remove_dir_all(&self.dir).ok();
        self.sandbox.stop().await;
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

/// The master key of every test (32 bytes of 0x2a, base64); never used outside tests.
/// The test scheduler's API token: long enough for the API to start with it.
pub const API_TOKEN: &str = "test-api-token-0123456789abcdefghij";

pub const TEST_MASTER_KEY: &str = "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=";

fn url_of(text: &str) -> url::Url {
    url::Url::parse(text).expect("a database URL")
}

/// The customer integration of DESIGN §4, pointed at `sandbox`.
pub fn definitions(sandbox: &Sandbox, extra_integration: &str) -> String {
    format!(
        r#"
[[connection]]
name = "bc"
kind = "business_central"
url = "{url}"
company = "CRONUS USA, Inc."
[connection.auth]
flow = "client_credentials"
authority = "{authority}"
tenant = "sandbox"
client_id = "ferry"
client_secret_env = "FERRY_TEST_BC_SECRET"
scope = "https://api.businesscentral.dynamics.com/.default"

[[integration]]
name = "customers"
connection = "bc"
direction = "import"
source = {{ entity = "RescoCustomer", key = ["No"], version = "RowVersionNumber" }}
target = {{ table = "customer", key = ["bc_no"], create = true }}
fields = [
  {{ from = "No", to = "bc_no" }},
  {{ from = "id", to = "bc_id" }},
  {{ from = "Name", to = "name" }},
  {{ from = "Email", to = "email", transform = "lower" }},
  {{ from = "Address", to = "address" }},
  {{ from = "Address2", to = "address2" }},
  {{ from = "City", to = "city" }},
  {{ from = "State", to = "state" }},
  {{ from = "PostCode", to = "post_code" }},
  {{ from = "CountryRegionCode", to = "country" }},
  {{ from = "PhoneNo", to = "phone" }},
  {{ from = "HomePage", to = "home_page" }},
  {{ from = "PrimaryContacNo", to = "primary_contact_no" }},
  {{ from = "SystemModifiedAt", to = "modified_at" }},
  {{ from = "RowVersionNumber", to = "row_version" }},
  {{ to = "origin", value = "bc" }},
]
{extra_integration}
"#,
        url = sandbox.resco_url(),
        authority = sandbox.base_url(),
    )
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
