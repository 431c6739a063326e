//! `ferry serve --workers N`: the scheduler (cron, recovery, API) and N workers in one process — the
//! one-process mode. It works on any engines; on SQLite (`database.url` and `queue.url` = `sqlite:…`)
//! a whole installation is one process and one file.

use std::future::Future;

use ferry_shared::settings::Settings;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::warn;

/// Binds `api.listen` and runs until `shutdown` completes.
pub async fn run(
    settings: Settings,
    workers: usize,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let listener = TcpListener::bind(&settings.api.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.api.listen))?;
    run_with_listener(settings, listener, workers, shutdown).await
}

/// Runs with an API listener already bound (`ferry demo` and tests bind port 0). Workers start first
/// and stop last, so a run the scheduler enqueued while stopping is handed back, not abandoned.
pub async fn run_with_listener(
    settings: Settings,
    listener: TcpListener,
    workers: usize,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    // Before any worker starts: a refused API token stops the whole process, not just its API.
    settings.api.check_token()?;
    let stop = CancellationToken::new();
    let handles: Vec<_> = (0..workers.max(1))
        .map(|_| {
            let stopped = stop.clone().cancelled_owned();
            tokio::spawn(ferry_worker::run(settings.clone(), stopped))
        })
        .collect();
    let scheduled = crate::service::run_with_listener(settings, listener, shutdown).await;
    stop.cancel();
    for handle in handles {
        match handle.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => warn!(error = %e, "worker ended with an error"),
            Err(e) => warn!(error = %e, "worker task failed"),
        }
    }
    scheduled
}
