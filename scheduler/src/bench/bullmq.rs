//! The peer of the no-op queue figure: BullMQ (Node) on the same Redis, in the same run. The benchmark
//! installs `bullmq` 6 with npm beside its own binary (`target/bench-node/`, once), writes the committed
//! script `bullmq.mjs` there, and runs it as two processes, a worker and a producer, as Ferry's figure
//! has a `ferry worker` process and the benchmark's pushes.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

/// The producer and worker, run by `node`; kept in the repository so the peer's code is reviewed.
const SCRIPT: &str = include_str!("bullmq.mjs");

/// What npm installs: BullMQ's major version 6 and the Redis client it drives.
const PACKAGE_JSON: &str = r#"{
  "private": true,
  "type": "module",
  "dependencies": { "bullmq": "^6", "ioredis": "^5" }
}
"#;

/// Longest the install, the worker's start, or one measurement may take.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(300);
const READY_TIMEOUT: Duration = Duration::from_secs(30);
const RUN_TIMEOUT: Duration = Duration::from_secs(300);

/// The BullMQ installation the figure runs on.
#[derive(Debug, Clone)]
pub struct Bullmq {
    dir: PathBuf,
    /// The installed version, printed beside its figure.
    pub version: String,
}

/// One measurement's shape: the same for Ferry and for BullMQ.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub jobs: usize,
    /// Jobs a worker processes at once (Ferry's `worker.concurrency`, BullMQ's `concurrency`).
    pub concurrency: usize,
    /// Producer loops, each awaiting its own push before the next.
    pub pushers: usize,
}

impl Bullmq {
    /// Installs BullMQ 6 into `target/bench-node/` unless it is there, and writes the script.
    pub async fn install() -> anyhow::Result<Bullmq> {
        let dir = std::env::current_exe()?
            .parent()
            .and_then(Path::parent)
            .map(|target| target.join("bench-node"))
            .ok_or_else(|| anyhow::anyhow!("cannot find the target directory"))?;
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("bullmq.mjs"), SCRIPT)?;
        if installed_version(&dir).is_none_or(|v| !v.starts_with("6.")) {
            eprintln!("installing bullmq 6 with npm into {}", dir.display());
            std::fs::write(dir.join("package.json"), PACKAGE_JSON)?;
            let install = Command::new("npm")
                .args(["install", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&dir)
                .kill_on_drop(true)
                .status();
            let status = tokio::time::timeout(INSTALL_TIMEOUT, install).await??;
            anyhow::ensure!(status.success(), "npm install of bullmq failed: {status}");
        }
        let version = installed_version(&dir)
            .ok_or_else(|| anyhow::anyhow!("bullmq is not installed in {}", dir.display()))?;
        Ok(Bullmq { dir, version })
    }

    /// No-op jobs per second through BullMQ: a worker process with `shape.concurrency`, and a producer
    /// process adding `shape.jobs` jobs from `shape.pushers` loops; from the first add to the last
    /// completion. `prefix` is the queue's own key prefix (the caller clears it).
    pub async fn rate(&self, redis_url: &str, prefix: &str, shape: Shape) -> anyhow::Result<f64> {
        let mut worker = self.spawn("work", redis_url, prefix, shape)?;
        let mut worker_out = lines(&mut worker)?;
        let ready = tokio::time::timeout(READY_TIMEOUT, worker_out.next_line()).await??;
        anyhow::ensure!(
            ready.as_deref() == Some("ready"),
            "bullmq worker did not start: {ready:?}"
        );
        let mut producer = self.spawn("push", redis_url, prefix, shape)?;
        let mut producer_out = lines(&mut producer)?;
        let measured = async {
            let started: Stamp = json_line(&mut producer_out).await?;
            let done: Stamp = json_line(&mut worker_out).await?;
            anyhow::Ok((started, done))
        };
        let (started, done) = tokio::time::timeout(RUN_TIMEOUT, measured).await??;
        let (Some(started), Some(done)) = (started.started_ms, done.done_ms) else {
            anyhow::bail!("bullmq printed no times");
        };
        let _ = producer.wait().await;
        let _ = worker.wait().await;
        Ok(shape.jobs as f64 / ((done - started) / 1000.0))
    }

    fn spawn(
        &self,
        role: &str,
        redis_url: &str,
        prefix: &str,
        shape: Shape,
    ) -> anyhow::Result<Child> {
        Ok(Command::new("node")
            .arg("bullmq.mjs")
            .arg(role)
            .current_dir(&self.dir)
            .env("REDIS_URL", redis_url)
            .env("PREFIX", prefix)
            .env("JOBS", shape.jobs.to_string())
            .env("CONCURRENCY", shape.concurrency.to_string())
            .env("PUSHERS", shape.pushers.to_string())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?)
    }
}

/// A time one of the script's processes printed (epoch milliseconds).
#[derive(Debug, serde::Deserialize)]
struct Stamp {
    started_ms: Option<f64>,
    done_ms: Option<f64>,
}

fn lines(child: &mut Child) -> anyhow::Result<Lines<BufReader<ChildStdout>>> {
    let out = child
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    Ok(BufReader::new(out).lines())
}

async fn json_line(lines: &mut Lines<BufReader<ChildStdout>>) -> anyhow::Result<Stamp> {
    let line = lines
        .next_line()
        .await?
        .ok_or_else(|| anyhow::anyhow!("bullmq process ended without its result"))?;
    Ok(serde_json::from_str(&line)?)
}

/// `node_modules/bullmq/package.json`'s version, if installed.
fn installed_version(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("node_modules/bullmq/package.json")).ok()?;
    let package: serde_json::Value = serde_json::from_str(&text).ok()?;
    package["version"].as_str().map(str::to_string)
}
