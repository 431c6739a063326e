//! A benchmark's private world: a fresh database, a Redis prefix, a sandbox, a `ferry worker` process.

use std::path::PathBuf;
use std::time::Duration;

use ferry_sandbox::{Sandbox, SandboxConfig};
use ferry_shared::settings::Settings;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use tokio::process::{Child, Command};

#[derive(Debug)]
pub struct BenchEnv {
    pub settings: Settings,
    pub db: DatabaseConnection,
    pub sandbox: Sandbox,
    admin_url: String,
    database: String,
    dir: PathBuf,
    worker: Option<Child>,
}

impl BenchEnv {
    pub async fn start(
        admin_url: &str,
        redis_url: &str,
        customers: usize,
    ) -> anyhow::Result<BenchEnv> {
        let config = SandboxConfig {
            customers,
            contacts: 1_000,
            accounts: 1,
            dv_contacts: 1,
            seed: 7,
            ..SandboxConfig::default()
        };
        BenchEnv::with_sandbox(admin_url, redis_url, config).await
    }

    /// Like `start`, with a sandbox sized by the caller (Dataverse accounts, say).
    pub async fn with_sandbox(
        admin_url: &str,
        redis_url: &str,
        config: SandboxConfig,
    ) -> anyhow::Result<BenchEnv> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let database = format!("ferry_bench_{}", &id[..12]);
        let admin = Database::connect(admin_url).await?;
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{database}\""))
            .await?;
        admin.close().await?;
        let mut url = url::Url::parse(admin_url)?;
        url.set_path(&format!("/{database}"));
        let mut settings = Settings::load(None)?;
        settings.database.url = url.to_string();
        settings.queue.url = redis_url.to_string();
        settings.queue.prefix = format!("ferry-bench-{id}");
        let db = ferry_shared::storage::connect(&settings.database).await?;
        let sandbox = Sandbox::start("127.0.0.1:0".parse()?, config).await?;
        let dir = std::env::temp_dir().join(format!("ferry-bench-{id}"));
        std::fs::create_dir_all(&dir)?;
        let mut files = Vec::new();
        for (name, example) in [
            (
                "customers.toml",
                include_str!("../../../config/examples/customers.toml"),
            ),
            (
                "dataverse.toml",
                include_str!("../../../config/examples/dataverse.toml"),
            ),
        ] {
            let file = dir.join(name);
            std::fs::write(
                &file,
                example.replace("http://127.0.0.1:8080", &sandbox.base_url()),
            )?;
            files.push(file);
        }
        match crate::cli::apply(&db, &files).await? {
            Ok(_) => {}
            Err(errors) => anyhow::bail!("example definitions invalid: {errors:?}"),
        }
        Ok(BenchEnv {
            settings,
            db,
            sandbox,
            admin_url: admin_url.to_string(),
            database,
            dir,
            worker: None,
        })
    }

    /// Writes a definition file into the benchmark's folder.
    pub fn file(&self, name: &str, text: &str) -> anyhow::Result<PathBuf> {
        let file = self.dir.join(name);
        std::fs::write(&file, text)?;
        Ok(file)
    }

    /// Starts `ferry worker` beside this binary as its own process, so its memory can be read.
    pub fn start_worker(&mut self) -> anyhow::Result<u32> {
        self.start_worker_with(&[])
    }

    /// `start_worker` with more environment for the worker (settings as `FERRY__SECTION__KEY`).
    pub fn start_worker_with(&mut self, env: &[(&str, &str)]) -> anyhow::Result<u32> {
        let child = self.spawn_ferry("worker", env)?;
        let pid = child.id().unwrap_or_default();
        self.worker = Some(child);
        Ok(pid)
    }

    /// Starts `ferry <command>` beside this binary on this benchmark's database and queue, killed when
    /// the returned child is dropped (a fleet runs several workers and a scheduler).
    pub fn spawn_ferry(&self, command: &str, env: &[(&str, &str)]) -> anyhow::Result<Child> {
        let ferry = std::env::current_exe()?
            .parent()
            .map(|d| d.join("ferry"))
            .ok_or_else(|| anyhow::anyhow!("cannot find the ferry binary"))?;
        let child = Command::new(ferry)
            .arg(command)
            .env("FERRY__DATABASE__URL", &self.settings.database.url)
            .env("FERRY__QUEUE__URL", &self.settings.queue.url)
            .env("FERRY__QUEUE__PREFIX", &self.settings.queue.prefix)
            .env("FERRY__WORKER__CONCURRENCY", "1")
            .env("FERRY__LOG__LEVEL", "warn")
            .env("BC_CLIENT_SECRET", "ferry-secret")
            .env("DATAVERSE_CLIENT_SECRET", "ferry-secret")
            .envs(env.iter().copied())
            .kill_on_drop(true)
            .spawn()?;
        Ok(child)
    }

    /// Peak resident memory of the worker process so far, in MB (`VmHWM`).
    pub fn worker_peak_rss_mb(&self) -> f64 {
        let Some(pid) = self.worker.as_ref().and_then(Child::id) else {
            return 0.0;
        };
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|status| {
                status
                    .lines()
                    .find(|l| l.starts_with("VmHWM:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|kb| kb.parse::<f64>().ok())
            })
            .map(|kb| kb / 1024.0)
            .unwrap_or(0.0)
    }

    /// Kills the worker process, so the next one starts with a fresh peak RSS.
    pub async fn stop_worker(&mut self) {
        if let Some(mut worker) = self.worker.take() {
            let _ = worker.kill().await;
        }
    }

    pub async fn finish(mut self) -> anyhow::Result<()> {
        if let Some(mut worker) = self.worker.take() {
            let _ = worker.kill().await;
        }
        self.db.close().await?;
        let admin = Database::connect(&self.admin_url).await?;
        admin
            .execute_unprepared(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.database
            ))
            .await?;
        ferry_shared::queue::clear(&self.settings.queue).await?;
        std::fs::remove_dir_all(&self.dir).ok();
        tokio::time::timeout(Duration::from_secs(10), self.sandbox.stop())
            .await
            .ok();
        Ok(())
    }
}
