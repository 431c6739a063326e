//! A scenario's private world: its own database (on the shared server, or on a private PostgreSQL it
//! can crash), its own Redis, a sandbox with the customers to import, a `ferry scheduler` process and two
//! `ferry worker` processes that can be killed with SIGKILL and started again.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use ferry_sandbox::{Sandbox, SandboxConfig};
use ferry_shared::runs::{self, Mode};
use ferry_shared::settings::Settings;
use ferry_shared::storage;
use ferry_shared::storage::entities::run;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use tokio::process::{Child, Command};
use tokio::time::Instant;

use crate::helpers::{TEST_MASTER_KEY, admin_url, definitions};
use crate::postgres::PrivatePostgres;
use crate::redis::PrivateRedis;

/// How long a worker's lease lasts: short, so a killed worker's run is taken back within seconds, yet
/// several renewals long, so a busy machine does not look like a dead worker.
pub const LEASE_SECS: u64 = 3;

/// Enough attempts for twenty kills of the lease holder: each costs one (ARCHITECTURE.md, "Invariants").
const MAX_ATTEMPTS: i32 = 40;

#[derive(Debug)]
pub struct World {
    pub rng: fastrand::Rng,
    pub rows: usize,
    pub settings: Settings,
    pub db: DatabaseConnection,
    pub sandbox: Sandbox,
    pub redis: PrivateRedis,
    pub postgres: Option<PrivatePostgres>,
    pub workers: Vec<Worker>,
    /// `ferry scheduler`: recovery that takes back runs of dead workers and re-pushes lost jobs.
    scheduler: Option<Child>,
    admin_url: String,
    database: String,
    dir: PathBuf,
}

/// A `ferry worker` process and where its log goes.
#[derive(Debug)]
pub struct Worker {
    pub child: Child,
    pub pid: u32,
    pub log: PathBuf,
}

impl World {
    /// Everything up and the customers integration applied; no run yet.
    pub async fn start(scenario: &str, private_postgres: bool) -> World {
        let seed = crate::seed(scenario);
        let rows = crate::rows();
        let redis = PrivateRedis::start().await;
        let postgres =
            private_postgres.then(|| tokio::task::block_in_place(PrivatePostgres::start));
        let admin_url = postgres
            .as_ref()
            .map(PrivatePostgres::admin_url)
            .unwrap_or_else(admin_url);
        let id = uuid::Uuid::new_v4().simple().to_string();
        let database = format!("ferry_chaos_{}", &id[..16]);
        let admin = Database::connect(&admin_url)
            .await
            .expect("Postgres answers");
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{database}\""))
            .await
            .expect("create the scenario's database");
        admin.close().await.ok();
        let mut settings = Settings::load(None).expect("default settings");
        let mut url = url::Url::parse(&admin_url).unwrap();
        url.set_path(&format!("/{database}"));
        settings.database.url = url.to_string();
        settings.database.max_connections = 4;
        settings.queue.url = redis.url();
        settings.queue.prefix = format!("ferry-chaos-{id}");
        settings.secrets.master_key = Some(TEST_MASTER_KEY.into());
        settings.worker.lease_secs = LEASE_SECS;
        let db = storage::connect(&settings.database)
            .await
            .expect("migrations apply");
        let sandbox = Sandbox::start(
            "127.0.0.1:0".parse().unwrap(),
            SandboxConfig {
                customers: rows,
                contacts: 10,
                seed,
                ..SandboxConfig::default()
            },
        )
        .await
        .expect("sandbox starts");
        let dir = std::env::temp_dir().join(format!("ferry-chaos-{id}"));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("bc.toml");
        std::fs::write(&file, definitions(&sandbox, "")).unwrap();
        ferry_scheduler::cli::apply(&db, std::slice::from_ref(&file))
            .await
            .expect("apply runs")
            .expect("definitions are valid");
        let mut world = World {
            rng: fastrand::Rng::with_seed(seed),
            rows,
            settings,
            db,
            sandbox,
            redis,
            postgres,
            workers: Vec::new(),
            scheduler: None,
            admin_url,
            database,
            dir,
        };
        world.scheduler = Some(world.spawn("scheduler", "scheduler.log"));
        for n in 0..2 {
            let worker = world.spawn_worker(n);
            world.workers.push(worker);
        }
        println!(
            "scenario {scenario}: {rows} rows, logs in {}",
            world.dir.display()
        );
        world
    }

    /// Settings for every Ferry process: this world's database and queue, quick reconciling, and
    /// enough attempts that only a real failure ends a run.
    fn env_vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("FERRY__DATABASE__URL", self.settings.database.url.clone()),
            ("FERRY__DATABASE__MAX_CONNECTIONS", "4".into()),
            ("FERRY__QUEUE__URL", self.settings.queue.url.clone()),
            ("FERRY__QUEUE__PREFIX", self.settings.queue.prefix.clone()),
            ("FERRY__SECRETS__MASTER_KEY", TEST_MASTER_KEY.into()),
            ("FERRY__WORKER__CONCURRENCY", "1".into()),
            ("FERRY__WORKER__LEASE_SECS", LEASE_SECS.to_string()),
            ("FERRY__WORKER__PAGE_SIZE", "500".into()),
            ("FERRY__WORKER__POLL_INTERVAL_MS", "100".into()),
            ("FERRY__SCHEDULER__TICK_MS", "200".into()),
            ("FERRY__SCHEDULER__RECONCILE_SECS", "1".into()),
            ("FERRY__SCHEDULER__REQUEUE_AFTER_SECS", "2".into()),
            ("FERRY__SCHEDULER__LEADER_LEASE_SECS", "2".into()),
            ("FERRY__RETRY__MAX_ATTEMPTS", MAX_ATTEMPTS.to_string()),
            ("FERRY__RETRY__BASE_MS", "200".into()),
            ("FERRY__RETRY__MAX_SECS", "2".into()),
            ("FERRY__API__LISTEN", "127.0.0.1:0".into()),
            ("FERRY__LOG__FORMAT", "human".into()),
            ("FERRY__LOG__LEVEL", "info".into()),
        ]
    }

    /// `ferry <command>` with this world's settings, its output appended to `log`.
    fn spawn(&self, command: &str, log: &str) -> Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(log))
            .unwrap();
        Command::new(env!("CARGO_BIN_EXE_ferry"))
            .arg(command)
            .envs(self.env_vars())
            .env_remove("FERRY_MASTER_KEY")
            .env_remove("FERRY_PREVIOUS_MASTER_KEYS")
            .env_remove("RUST_LOG")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("ferry {command} starts: {e}"))
    }

    fn spawn_worker(&self, n: usize) -> Worker {
        let log = format!("worker-{n}.log");
        let child = self.spawn("worker", &log);
        Worker {
            pid: child.id().expect("a running child has a pid"),
            child,
            log: self.dir.join(log),
        }
    }

    /// Writes a definition file into the world's folder.
    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let file = self.dir.join(name);
        std::fs::write(&file, text).unwrap();
        file
    }

    /// `kill -9` worker `n` and start a fresh process in its place.
    pub async fn kill_and_restart_worker(&mut self, n: usize) {
        self.workers[n].child.kill().await.expect("SIGKILL");
        self.workers[n] = self.spawn_worker(n);
    }

    /// The worker (index) whose process holds the run's lease: owners are named `{host}-{pid}-{n}`.
    pub fn lease_holder(&self, run: &run::Model) -> Option<usize> {
        let owner = run.lease_owner.as_deref()?;
        self.workers
            .iter()
            .position(|w| owner.contains(&format!("-{}-", w.pid)))
    }

    pub async fn trigger(&self) -> i64 {
        ferry_scheduler::cli::trigger(&self.db, &self.settings, "customers", Mode::Incremental)
            .await
            .expect("trigger")
    }

    /// The run row, or None while the database does not answer (a scenario may have it down).
    pub async fn run(&self, run_id: i64) -> Option<run::Model> {
        runs::get(&self.db, run_id).await.ok().flatten()
    }

    /// Target rows committed so far (None while the database does not answer).
    pub async fn committed_rows(&self) -> Option<i64> {
        let row = self
            .db
            .query_one_raw(Statement::from_string(
                self.db.get_database_backend(),
                "SELECT count(*) FROM customer",
            ))
            .await
            .ok()??;
        row.try_get_by_index(0).ok()
    }

    /// Polls until `ready` holds for the run (bounded by `within`); panics with the run and the
    /// processes' logs otherwise.
    pub async fn wait_run(
        &self,
        run_id: i64,
        what: &str,
        within: Duration,
        ready: impl Fn(&run::Model) -> bool,
    ) -> run::Model {
        let deadline = Instant::now() + within;
        let mut last = None;
        while Instant::now() < deadline {
            if let Some(run) = self.run(run_id).await {
                if ready(&run) {
                    return run;
                }
                last = Some(run);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.fail(&format!("run {run_id} never became {what}: {last:#?}"))
    }

    /// Polls until at least `rows` target rows are committed, or the run ended (returns false then).
    pub async fn wait_rows(&self, run_id: i64, rows: i64, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if self.committed_rows().await.is_some_and(|n| n >= rows) {
                return true;
            }
            if self
                .run(run_id)
                .await
                .is_some_and(|r| r.state != "queued" && r.state != "running")
            {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let run = self.run(run_id).await;
        self.fail(&format!(
            "{rows} rows were not committed within {within:?}: {run:#?}"
        ))
    }

    /// Waits for the run's final state (bounded).
    pub async fn wait_final(&self, run_id: i64, within: Duration) -> run::Model {
        self.wait_run(run_id, "final", within, |r| {
            r.state != "queued" && r.state != "running"
        })
        .await
    }

    /// Fails the test with `message`, each process' log tail, and whether the processes still live.
    pub fn fail(&self, message: &str) -> ! {
        let mut report = String::from(message);
        let mut logs: Vec<PathBuf> = self.workers.iter().map(|w| w.log.clone()).collect();
        logs.push(self.dir.join("scheduler.log"));
        for log in logs {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(30).collect();
            report.push_str(&format!("\n--- {} (last lines) ---\n", log.display()));
            for line in tail.iter().rev() {
                report.push_str(line);
                report.push('\n');
            }
        }
        panic!("{report}");
    }

    /// The scheduler and both workers are still alive: chaos around them must not kill them.
    pub fn assert_processes_alive(&mut self) {
        if let Some(Ok(Some(status))) = self.scheduler.as_mut().map(Child::try_wait) {
            self.fail(&format!("ferry scheduler exited: {status}"));
        }
        for n in 0..self.workers.len() {
            if let Ok(Some(status)) = self.workers[n].child.try_wait() {
                self.fail(&format!("ferry worker {n} exited: {status}"));
            }
        }
    }

    /// Stops the processes and the sandbox, drops the database; Redis and a private PostgreSQL stop
    /// when dropped.
    pub async fn finish(mut self) {
        for worker in &mut self.workers {
            let _ = worker.child.kill().await;
        }
        if let Some(scheduler) = &mut self.scheduler {
            let _ = scheduler.kill().await;
        }
        self.db.clone().close().await.ok();
        if self.postgres.is_none() {
            let admin = Database::connect(&self.admin_url).await.unwrap();
            admin
                .execute_unprepared(&format!(
                    "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                    self.database
                ))
                .await
                .unwrap();
        }
        std::fs::remove_dir_all(&self.dir).ok();
        self.sandbox.stop().await;
    }
}
