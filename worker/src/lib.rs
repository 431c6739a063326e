//! `ferry-worker`: apalis workers that execute sync runs. Usable as a library so `ferry` can run workers
//! in-process (one-process mode) and tests can start them against their own database and queue.

mod job;
mod name;

use std::future::Future;
use std::sync::Arc;

use apalis::prelude::*;
use ferry_shared::queue;
use ferry_shared::secrets::Credentials;
use ferry_shared::settings::Settings;
use ferry_shared::storage;
use ferry_shared::sync::{MetadataCache, SyncContext};
use futures::FutureExt;
use tokio_util::sync::CancellationToken;

pub use name::worker_name;

/// Runs workers until `shutdown` completes. Then no new job is taken, each run in hand stops after its
/// current page (committed with its checkpoint) and is handed back to the queue, and the process returns
/// within `worker.shutdown_grace_secs`; a run still busy after that keeps its lease until it expires and
/// the reconciler gives it to another worker.
pub async fn run(
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let db = storage::connect(&settings.database).await?;
    let heartbeat = settings.worker.lease() / 3;
    let backend = queue::storage(&settings.queue, heartbeat).await?;
    let name = worker_name();
    let stopping = CancellationToken::new();
    let credentials = Credentials::new(db.clone(), &settings.secrets)?;
    let state = Arc::new(job::WorkerState {
        sync: SyncContext {
            db,
            http: ferry_shared::odata::client::http_client(),
            settings: settings.worker.clone(),
            credentials,
            metadata: MetadataCache::default(),
            retry: settings.retry.clone(),
            queue: backend.clone(),
            stopping: stopping.clone(),
            callback_secret: settings
                .api
                .callback_secret
                .clone()
                .or_else(|| settings.api.token.clone()),
        },
        owner: name.clone(),
    });
    tracing::info!(worker = %name, queue = %queue::queue_name(&settings.queue), "worker started");
    // Woken at once by a push, and by the interval as a fallback (a missed wake-up, a delayed job).
    let (wake_ups, listener) = queue::wake_ups(&settings.queue);
    let polling = Strategy::new()
        .stream(wake_ups)
        .interval(settings.worker.poll_interval());
    let signalled = stopping.clone();
    let until = async move {
        shutdown.await;
        signalled.cancel();
        Ok::<(), std::io::Error>(())
    };
    // The two engines are different types to apalis, so the builder is spelled once per engine.
    macro_rules! work {
        ($backend:expr) => {
            WorkerBuilder::new(name.as_str())
                .backend($backend.poll_with_strategy(polling))
                .concurrency(settings.worker.concurrency.max(1))
                .data(state)
                .build(job::sync)
                .run_until(until)
                .boxed()
        };
    }
    let working = match backend {
        queue::SyncStorage::Redis(backend) => work!(backend),
        queue::SyncStorage::Sqlite(backend) => work!(backend),
    };
    let grace = settings.worker.shutdown_grace();
    tokio::select! {
        result = working => result?,
        _ = async { stopping.cancelled().await; tokio::time::sleep(grace).await } => {
            tracing::warn!(worker = %name, "grace period over; leaving runs to lease expiry");
        }
    }
    listener.abort();
    tracing::info!(worker = %name, "worker stopped");
    Ok(())
}
