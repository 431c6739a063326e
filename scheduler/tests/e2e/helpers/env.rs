//! A test's private world: a fresh database and queue (Postgres + a Redis prefix, or one SQLite file), a
//! sandbox on a free port, a worker and schedulers on demand. Everything it made goes when it is
//! dropped — also when the test panics halfway — so a failing test leaves no database behind.

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use ferry_sandbox::{Sandbox, SandboxConfig};
use ferry_scheduler::cli;
use ferry_shared::runs::{Mode, RunSummary};
use ferry_shared::settings::Settings;
use ferry_shared::storage;
use ferry_shared::sync::SyncContext;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
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

/// The master key of every test (32 bytes of 0x2a, base64); never used outside tests.
pub const TEST_MASTER_KEY: &str = "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=";

/// The test scheduler's API token: long enough for the API to start with it.
pub const API_TOKEN: &str = "test-api-token-0123456789abcdefghij";

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

/// A Postgres database made for one test on the `admin_url` server. Dropping it drops the database
/// (`WITH (FORCE)`, so connections still open — a worker's pool, a crashed test's — do not keep it).
#[derive(Debug)]
pub struct TestDatabase {
    pub name: String,
    /// The database's URL on the test server.
    pub url: String,
}

impl TestDatabase {
    /// `CREATE DATABASE ferry_test_…`, a name no other test uses.
    pub async fn create() -> TestDatabase {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let name = format!("ferry_test_{}", &id[..16]);
        let admin = Database::connect(admin_url())
            .await
            .expect("test Postgres answers");
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .expect("create test database");
        admin.close().await.ok();
        // Named in the test's output, so a run can be checked for databases left behind.
        eprintln!("test database {name}");
        let mut url = url::Url::parse(&admin_url()).expect("a database URL");
        url.set_path(&format!("/{name}"));
        TestDatabase {
            name,
            url: url.to_string(),
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        outside_the_runtime(async move {
            let admin = Database::connect(admin_url()).await?;
            admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await?;
            admin.close().await?;
            Ok(())
        })
        .unwrap_or_else(|e| eprintln!("test database {} not dropped: {e:#}", self.name));
    }
}

/// Runs a clean-up on a thread of its own with its own small runtime, and waits for it. `Drop` is
/// synchronous and may run inside the test's runtime (even a panicking one), where blocking on a
/// future of that runtime would deadlock a current-thread test; a separate thread never does.
fn outside_the_runtime(
    cleanup: impl Future<Output = anyhow::Result<()>> + Send + 'static,
) -> anyhow::Result<()> {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(cleanup)
    })
    .join()
    .unwrap_or_else(|_| Err(anyhow::anyhow!("the clean-up thread panicked")))
}

/// A running task of the test (the worker, a scheduler) and the signal that stops it.
type Service = (oneshot::Sender<()>, JoinHandle<anyhow::Result<()>>);

/// A test's private world.
pub struct TestEnv {
    pub settings: Settings,
    pub db: DatabaseConnection,
    pub sandbox: Sandbox,
    /// The test's temp dir: definition files, logs, and on SQLite the database file.
    pub dir: PathBuf,
    pub backend: Backend,
    /// The Postgres database (none on SQLite, whose database lives in `dir`); dropped with the env.
    database: Option<TestDatabase>,
    worker: Option<Service>,
    schedulers: Vec<Service>,
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

    /// Like `without_worker_on`, with a sandbox configured by the test (token lifetimes, device codes).
    pub async fn with_sandbox_on(backend: Backend, config: SandboxConfig) -> TestEnv {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let dir = std::env::temp_dir().join(format!("ferry-test-{id}"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut settings = Settings::load(None).expect("default settings");
        let database = match backend {
            Backend::Postgres => {
                let database = TestDatabase::create().await;
                settings.database.url = database.url.clone();
                settings.queue.url = redis_url();
                Some(database)
            }
            Backend::Sqlite => {
                let url = format!("sqlite:{}", dir.join("ferry.db").display());
                settings.database.url = url.clone();
                settings.queue.url = url;
                None
            }
        };
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
        // The tests' callback receivers listen on loopback.
        settings.api.allow_private_callbacks = true;
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
            max_defer: self.settings.lookups.max_defer(),
            credentials: self.credentials(),
            metadata: Default::default(),
            budgets: ferry_shared::budget::Budgets::for_queue(
                &self.settings.queue,
                Default::default(),
            ),
        }
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

    /// Runs `ferry ARGS` to its end off the test's runtime thread, so the sandbox (served on that
    /// runtime) answers the child meanwhile: a blocking `output()` would leave it unanswered.
    pub async fn ferry_output(&self, args: &[&str]) -> std::process::Output {
        let mut command = self.ferry(args);
        command.env("FERRY__LOG__LEVEL", "warn");
        tokio::task::spawn_blocking(move || command.output())
            .await
            .expect("the child's waiter does not panic")
            .expect("ferry starts")
    }

    /// The request budgets of this test's queue (in its Redis prefix, or in this process on SQLite).
    pub fn budgets(&self) -> ferry_shared::budget::Budgets {
        ferry_shared::budget::Budgets::for_queue(&self.settings.queue, Default::default())
    }

    /// Sealed credentials of this test's database, under the test key.
    pub fn credentials(&self) -> ferry_shared::secrets::Credentials {
        ferry_shared::secrets::Credentials::new(self.db.clone(), &self.settings.secrets)
            .expect("the test key is valid")
    }

    /// Stops the schedulers and the worker the way a signal would (in-flight work ends first), then
    /// drops the env, which removes what it made. A test that never gets here (it panicked) still
    /// leaves nothing behind: `Drop` does the removing.
    pub async fn finish(mut self) {
        self.stop_schedulers().await;
        self.stop_worker().await;
        self.db.clone().close().await.ok();
    }
}

impl Drop for TestEnv {
    /// The one place a test's leftovers go: tasks still running are aborted, then the queue's Redis
    /// keys are deleted, the temp dir (and with it a SQLite database) removed, and the Postgres
    /// database dropped.
    fn drop(&mut self) {
        for (_, task) in self.schedulers.drain(..).chain(self.worker.take()) {
            task.abort();
        }
        if self.backend == Backend::Postgres {
            // Through the queue's own connection, so a test's TLS Redis (CA, password) is cleared too.
            let queue = self.settings.queue.clone();
            outside_the_runtime(async move { Ok(ferry_shared::queue::clear(&queue).await?) })
                .unwrap_or_else(|e| eprintln!("queue keys of the test not deleted: {e:#}"));
        }
        std::fs::remove_dir_all(&self.dir).ok();
        drop(self.database.take());
    }
}
