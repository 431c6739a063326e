//! `ferry run NAME`: record a run, push its job, and optionally wait for its end.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args as ClapArgs;
use ferry_shared::dispatch::dispatch_connecting;
use ferry_shared::runs::{self, Mode, NewRun, RunState, RunSummary};
use ferry_shared::settings::Settings;
use ferry_shared::{queue, storage};
use sea_orm::DatabaseConnection;

#[derive(Debug, ClapArgs)]
pub struct RunOptions {
    /// The integration to run.
    pub integration: String,
    /// Read everything, not just what changed since the checkpoint.
    #[arg(long, conflicts_with = "retry_failed")]
    pub full: bool,
    /// Replay only the records whose failure is still open, re-read from the source by key.
    #[arg(long, conflicts_with = "reconcile")]
    pub retry_failed: bool,
    /// Read the source's key set now and delete the rows whose key vanished (within max_share).
    #[arg(long, conflicts_with = "full")]
    pub reconcile: bool,
    /// Wait for the run to end and print its summary.
    #[arg(long)]
    pub wait: bool,
    /// Print JSON: {"run_id": …}, or the summary with --wait.
    #[arg(long)]
    pub json: bool,
    /// Give up waiting after this many seconds.
    #[arg(long, default_value_t = 3600)]
    pub timeout: u64,
}

/// Records the run (or finds the queued one it coalesces into) and pushes its job. The row exists
/// before the job does (invariant 1).
pub async fn trigger(
    db: &DatabaseConnection,
    settings: &Settings,
    integration: &str,
    mode: Mode,
) -> anyhow::Result<i64> {
    let dispatched = dispatch_connecting(
        db,
        &settings.queue,
        settings.worker.lease() / 3,
        &NewRun::manual(integration, mode),
    )
    .await?;
    if let Some(why) = &dispatched.pending {
        eprintln!(
            "warning: run {} is recorded, but its job is not in the queue yet ({why}); the \
             scheduler pushes it once the queue answers",
            dispatched.run_id
        );
    }
    Ok(dispatched.run_id)
}

/// Polls the run row until it reaches a final state; the database is the truth, not the queue.
pub async fn wait_for(
    db: &DatabaseConnection,
    run_id: i64,
    timeout: Duration,
) -> anyhow::Result<RunSummary> {
    wait_showing(db, run_id, timeout, None).await
}

/// `wait_for`, showing each poll on `progress` when there is one.
async fn wait_showing(
    db: &DatabaseConnection,
    run_id: i64,
    timeout: Duration,
    mut progress: Option<&mut super::progress::Progress>,
) -> anyhow::Result<RunSummary> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let run = runs::get(db, run_id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("run {run_id} does not exist"))?;
        if RunState::parse(&run.state).is_some_and(RunState::is_final) {
            if let Some(progress) = progress {
                progress.finish();
            }
            return Ok(run.into());
        }
        if let Some(progress) = progress.as_deref_mut() {
            progress.show(&run);
        }
        if tokio::time::Instant::now() >= deadline {
            if let Some(progress) = progress {
                progress.finish();
            }
            anyhow::bail!(
                "run {run_id} still {} after {}s (attempt {}{})",
                run.state,
                timeout.as_secs(),
                run.attempt,
                run.error
                    .map(|e| format!(", last error: {e}"))
                    .unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// How many workers beat their heartbeat within a lease, or `None` when the queue cannot tell (its
/// being unreachable is reported by the trigger already).
async fn alive_workers(settings: &Settings) -> Option<usize> {
    let lease = settings.worker.lease();
    let reading = async {
        let mut storage = queue::storage(&settings.queue, lease / 3).await.ok()?;
        queue::bookkeeping(&mut storage).await.ok()
    };
    let bookkeeping = tokio::time::timeout(Duration::from_secs(5), reading)
        .await
        .ok()??;
    let now = chrono::Utc::now().timestamp();
    Some(
        bookkeeping
            .workers
            .iter()
            .filter(|w| w.alive(now, lease))
            .count(),
    )
}

pub(super) async fn command(settings: &Settings, options: RunOptions) -> anyhow::Result<ExitCode> {
    let db = storage::connect(&settings.database).await?;
    let mode = if options.full {
        Mode::Full
    } else if options.retry_failed {
        Mode::RetryFailed
    } else if options.reconcile {
        Mode::Reconcile
    } else {
        Mode::Incremental
    };
    let run_id = trigger(&db, settings, &options.integration, mode).await?;
    if !options.wait {
        if options.json {
            println!("{}", serde_json::json!({ "run_id": run_id }));
        } else {
            println!("{run_id}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    if alive_workers(settings).await == Some(0) {
        eprintln!(
            "warning: no worker is alive (none has beaten its heartbeat within {} s): run {run_id} \
             waits until one starts (`ferry worker`, or `ferry serve`)",
            settings.worker.lease().as_secs()
        );
    }
    // A live line only for a person watching: not with --json, not when stderr is a file or pipe.
    let mut progress =
        (!options.json && std::io::stderr().is_terminal()).then(super::progress::Progress::new);
    let summary = wait_showing(
        &db,
        run_id,
        Duration::from_secs(options.timeout),
        progress.as_mut(),
    )
    .await?;
    if options.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        super::runs::print_table(std::slice::from_ref(&summary));
        if let Some(error) = &summary.error {
            eprintln!("error: {error}");
        }
        if summary.requests_retried > 0 {
            eprintln!(
                "note: {} request(s) repeated because the source was busy, {} ms spent waiting; last: {}",
                summary.requests_retried,
                summary.retry_wait_ms,
                summary.last_retried_error.as_deref().unwrap_or("-"),
            );
        }
    }
    Ok(if summary.status == RunState::Succeeded.as_str() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
