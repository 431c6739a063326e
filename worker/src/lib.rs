//! `ferry-worker`: apalis workers that execute sync runs. Usable as a library so `ferry` can run workers
//! in-process (one-process mode) and tests can start them against their own database and queue.

mod job;
mod name;

use std::future::Future;
use std::sync::Arc;

use apalis::prelude::*;
use ferry_shared::queue;
use ferry_shared::settings::Settings;
use ferry_shared::storage;
use ferry_shared::sync::SyncContext;

pub use name::worker_name;

/// Runs workers until `shutdown` completes; in-flight runs finish their page and commit first.
pub async fn run(
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let db = storage::connect(&settings.database).await?;
    let heartbeat = settings.worker.lease() / 3;
    let backend = queue::storage(&settings.queue, heartbeat).await?;
    let requeue = backend.clone();
    let name = worker_name();
    let state = Arc::new(job::WorkerState {
        sync: SyncContext::new(db, ferry_shared::odata::client::http_client(), &settings)?,
        owner: name.clone(),
        requeue,
    });
    tracing::info!(worker = %name, queue = %queue::queue_name(&settings.queue), "worker started");
    let worker = WorkerBuilder::new(name.as_str())
        .backend(backend.poll_with_interval(settings.worker.poll_interval()))
        .concurrency(settings.worker.concurrency.max(1))
        .data(state)
        .build(job::sync);
    worker
        .run_until(async move {
            shutdown.await;
            Ok::<(), std::io::Error>(())
        })
        .await?;
    tracing::info!(worker = %name, "worker stopped");
    Ok(())
}
