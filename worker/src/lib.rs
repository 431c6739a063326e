//! `ferry-worker`: apalis workers that execute sync runs. Usable as a library so `ferry` can run workers
//! in-process (one-process mode) and tests can start them against their own database and queue.

mod job;
mod name;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::*;
use ferry_shared::budget::Budgets;
use ferry_shared::queue;
use ferry_shared::secrets::Credentials;
use ferry_shared::settings::Settings;
use ferry_shared::storage;
use ferry_shared::sync::{MetadataCache, SyncContext};
use futures::FutureExt;
use tokio_util::sync::CancellationToken;

pub use name::worker_name;

/// After the queue connection broke, the worker is rebuilt after this long (doubling up to a minute), so
/// a restarting Redis is waited for rather than ending the process.
const REBUILD_AFTER: Duration = Duration::from_millis(500);
const REBUILD_MAX: Duration = Duration::from_secs(60);

/// Runs workers until `shutdown` completes. Then no new job is taken, each run in hand stops after its
/// current page (committed with its checkpoint) and is handed back to the queue, and the process returns
/// within `worker.shutdown_grace_secs`; a run still busy after that keeps its lease until it expires and
/// recovery gives it to another worker.
///
/// When the queue connection breaks (Redis restarted or unreachable) apalis ends the worker with an
/// error; the worker is then rebuilt under a fresh name, with a backoff, for as long as the process runs.
/// Redis is only the doorbell: a run the lost worker had in hand keeps nothing alive (its lease renewer
/// ends with it) and is recovered by recovery once its lease expires.
pub async fn run(
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let db = storage::connect(&settings.database).await?;
    let heartbeat = settings.worker.lease() / 3;
    let mut backend = Some(queue::storage(&settings.queue, heartbeat).await?);
    let stopping = CancellationToken::new();
    let signalled = stopping.clone();
    tokio::spawn(async move {
        shutdown.await;
        signalled.cancel();
    });
    let credentials = Credentials::new(db.clone(), &settings.secrets)?;
    // One budget per process for every worker it rebuilds: the slots a lost worker held are its own.
    let budgets = Budgets::for_queue(&settings.queue, stopping.clone());
    let mut wait = REBUILD_AFTER;
    loop {
        let backend = match backend.take() {
            Some(backend) => backend,
            None => match queue::storage(&settings.queue, heartbeat).await {
                Ok(backend) => backend,
                Err(e) => {
                    tracing::warn!(error = %e, wait_ms = wait.as_millis() as u64, "queue unreachable; retrying");
                    if pause(&stopping, &mut wait).await {
                        return Ok(());
                    }
                    continue;
                }
            },
        };
        let name = worker_name();
        let state = Arc::new(job::WorkerState {
            sync: SyncContext {
                db: db.clone(),
                http: ferry_shared::odata::client::http_client(),
                settings: settings.worker.clone(),
                credentials: credentials.clone(),
                metadata: MetadataCache::default(),
                max_defer: settings.lookups.max_defer(),
                budgets: budgets.clone(),
                retry: settings.retry.clone(),
                queue: backend.clone(),
                stopping: stopping.clone(),
                callback_secret: settings.api.callback_secret.clone(),
            },
            owner: name.clone(),
        });
        tracing::info!(worker = %name, queue = %queue::queue_name(&settings.queue), "worker started");
        let started = tokio::time::Instant::now();
        let worked = work(&settings, &name, backend, state, &stopping).await;
        if started.elapsed() > REBUILD_MAX {
            wait = REBUILD_AFTER;
        }
        match worked {
            Ok(()) => {
                tracing::info!(worker = %name, "worker stopped");
                return Ok(());
            }
            Err(e) if stopping.is_cancelled() => return Err(e),
            Err(e) => {
                tracing::warn!(worker = %name, error = %e, wait_ms = wait.as_millis() as u64,
                    "queue connection lost; worker is rebuilt");
                if pause(&stopping, &mut wait).await {
                    return Ok(());
                }
            }
        }
    }
}

/// One apalis worker on `backend` until shutdown (Ok) or until its backend fails (Err).
async fn work(
    settings: &Settings,
    name: &str,
    backend: queue::SyncStorage,
    state: Arc<job::WorkerState>,
    stopping: &CancellationToken,
) -> anyhow::Result<()> {
    // Woken at once by a push, and by the interval as a fallback (a missed wake-up, a delayed job).
    let (wake_ups, listener) = queue::wake_ups(&settings.queue);
    let polling = Strategy::new()
        .stream(wake_ups)
        .interval(settings.worker.poll_interval());
    let signalled = stopping.clone();
    let until = async move {
        signalled.cancelled().await;
        Ok::<(), std::io::Error>(())
    };
    // The two engines are different types to apalis, so the builder is spelled once per engine.
    macro_rules! work {
        ($backend:expr) => {
            WorkerBuilder::new(name)
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
    let result = tokio::select! {
        result = working => result.map_err(anyhow::Error::from),
        _ = async { stopping.cancelled().await; tokio::time::sleep(grace).await } => {
            tracing::warn!(worker = %name, "grace period over; leaving runs to lease expiry");
            Ok(())
        }
    };
    listener.abort();
    result
}

/// Waits `wait` (doubling it for next time, capped); true when shutdown came meanwhile.
async fn pause(stopping: &CancellationToken, wait: &mut Duration) -> bool {
    let stopped = tokio::select! {
        _ = stopping.cancelled() => true,
        _ = tokio::time::sleep(*wait) => false,
    };
    *wait = (*wait * 2).min(REBUILD_MAX);
    stopped
}
