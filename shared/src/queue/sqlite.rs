//! The sync queue on SQLite (apalis-sqlite), for one-process mode: `queue.url = "sqlite:…"`, usually the
//! same file as `database.url`, so a whole installation is one file. The database stays the truth
//! (invariant 1); this queue is only the doorbell, like Redis.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use apalis_core::backend::{BackendConfig, TaskSink};
use apalis_core::task::builder::TaskBuilder;
use apalis_sqlite::{SqliteConnectOptions, SqlitePoolOptions, SqliteStorage};
use sea_orm::sqlx;
use tokio::sync::broadcast;
use tracing::info;

use super::{Bookkeeping, JobCounts, QueueError, RegisteredWorker, SyncJob, queue_name};
use crate::settings::QueueSettings;

/// The apalis storage of sync jobs on SQLite.
pub type Storage = SqliteStorage<SyncJob>;

/// Connections of one queue handle. SQLite has one writer at a time; a few connections cover a
/// heartbeat, a fetch and a push at once.
const POOL_SIZE: u32 = 4;

/// Setting the schema up twice at once in one process would race on apalis' migration table.
static SETUP: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// In-process doorbells, one per (queue file, queue name): the SQLite queue has no pub/sub, and in
/// one-process mode the pusher and the workers share the process. Workers in another process find the
/// job at their next poll (`worker.poll_interval_ms`).
static DOORBELLS: LazyLock<Mutex<HashMap<String, broadcast::Sender<()>>>> =
    LazyLock::new(Mutex::default);

/// Opens the SQLite queue, creating the file and apalis' tables when missing, with the same explicit
/// heartbeat settings as the Redis queue.
pub(super) async fn storage(
    settings: &QueueSettings,
    heartbeat: Duration,
) -> Result<Storage, QueueError> {
    let at = crate::reach::address(&settings.url);
    let connect = |e: apalis_sqlite::SqlxError| QueueError::Connect(format!("{at}: {e}"));
    let options = crate::storage::sqlite_options(
        SqliteConnectOptions::from_str(&settings.url).map_err(connect)?,
    );
    let file = options.get_filename().to_path_buf();
    let setup = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options.clone())
        .await
        .map_err(connect)?;
    {
        let _one_at_a_time = SETUP.lock().await;
        let _no_other_process = setup_lock(file)
            .await
            .map_err(|e| QueueError::Connect(format!("{at}: locking the file for setup: {e}")))?;
        SqliteStorage::<()>::setup(&setup)
            .await
            .map_err(|e| QueueError::Connect(format!("{at}: {e}")))?;
    }
    // The queue is served from connections opened after the setup: one opened while another handle
    // was still migrating apalis' tables could prepare a statement against their old shape ("table
    // Jobs has 11 columns but 14 values were supplied") and fail a push.
    setup.close().await;
    let pool = SqlitePoolOptions::new()
        .max_connections(POOL_SIZE)
        .connect_with(options)
        .await
        .map_err(connect)?;
    let config = apalis_sqlite::Config::default()
        .queue(queue_name(settings))
        .database_url(settings.url.clone())
        .heartbeat_interval(heartbeat)
        .missed_heartbeats(3)
        .batch_size(1);
    Ok(SqliteStorage::new(&pool).with_config(config))
}

/// Holds an exclusive `flock` on the queue file while apalis sets its tables up. Its migrations take no
/// lock on SQLite, so two processes starting on one file at once (a `ferry worker` beside `ferry
/// serve`) could interleave them (one renames `Jobs` while the other copies it) and leave a table
/// without its newer columns. On Linux `flock` does not interact with SQLite's own `fcntl` locks.
/// `None` for an in-memory database or a file not created yet (then no other process can hold it).
async fn setup_lock(file: std::path::PathBuf) -> std::io::Result<Option<std::fs::File>> {
    tokio::task::spawn_blocking(move || {
        let Ok(handle) = std::fs::File::open(&file) else {
            return Ok(None);
        };
        handle.lock()?;
        Ok(Some(handle))
    })
    .await
    .map_err(std::io::Error::other)?
}

fn doorbell(key: String) -> broadcast::Sender<()> {
    let mut bells = DOORBELLS.lock().unwrap_or_else(|e| e.into_inner());
    bells
        .entry(key)
        .or_insert_with(|| broadcast::channel(1).0)
        .clone()
}

fn key(url: &str, queue: &str) -> String {
    format!("{url}#{queue}")
}

/// Whether the queue's database answers.
pub(super) async fn ping(storage: &Storage) -> bool {
    sqlx::query("SELECT 1")
        .execute(storage.pool())
        .await
        .is_ok()
}

/// Pushes `task`; a job due now rings this process' doorbell, so its idle workers start it at once.
pub(super) async fn push(
    storage: &mut Storage,
    task: TaskBuilder<SyncJob>,
    now: bool,
) -> Result<(), QueueError> {
    storage
        .push_task(task.build())
        .await
        .map_err(|e| QueueError::Push(e.to_string()))?;
    if now {
        ring(storage);
    }
    Ok(())
}

/// Wakes this process' idle workers of `storage`'s queue after a push.
fn ring(storage: &Storage) {
    let config = storage.config();
    let url = config.database_url.clone().unwrap_or_default();
    // No receiver means no idle worker here: nothing to do.
    let _ = doorbell(key(&url, config.queue.as_ref())).send(());
}

/// A stream that yields whenever a job is pushed to this queue in this process. Ends when the returned
/// task is aborted.
pub(super) fn wake_ups(
    settings: &QueueSettings,
) -> (
    futures::channel::mpsc::Receiver<()>,
    tokio::task::JoinHandle<()>,
) {
    let (mut tx, rx) = futures::channel::mpsc::channel::<()>(1);
    let mut rings = doorbell(key(&settings.url, &queue_name(settings))).subscribe();
    let task = tokio::spawn(async move {
        // A lagged receiver still means "something was pushed"; only a closed bell ends the loop.
        while let Ok(()) | Err(broadcast::error::RecvError::Lagged(_)) = rings.recv().await {
            // A full channel means a wake-up is already pending: dropping this one is fine.
            let _ = tx.try_send(());
        }
    });
    (rx, task)
}

/// Workers and raw job counts, read from the queue's own tables directly (apalis-sqlite's `Jobs` and
/// `Workers`).
pub(super) async fn bookkeeping(storage: &Storage) -> Result<Bookkeeping, QueueError> {
    let read = |e: apalis_sqlite::SqlxError| QueueError::Read(e.to_string());
    let queue = storage.config().queue.to_string();
    let workers = sqlx::query_as::<_, (String, i64)>(
        "SELECT id, last_seen FROM Workers WHERE worker_type = ? ORDER BY id",
    )
    .bind(&queue)
    .fetch_all(storage.pool())
    .await
    .map_err(read)?
    .into_iter()
    .map(|(name, seen)| RegisteredWorker {
        name,
        last_heartbeat: seen as f64,
    })
    .collect();
    let (active, scheduled, dead) = sqlx::query_as::<_, (i64, i64, i64)>(
        "SELECT \
           COALESCE(SUM(status = 'Running' OR (status = 'Pending' AND run_at <= unixepoch())), 0), \
           COALESCE(SUM(status = 'Pending' AND run_at > unixepoch()), 0), \
           COALESCE(SUM(status IN ('Failed', 'Killed')), 0) \
         FROM Jobs WHERE job_type = ?",
    )
    .bind(&queue)
    .fetch_one(storage.pool())
    .await
    .map_err(read)?;
    Ok(Bookkeeping {
        workers,
        jobs: JobCounts {
            active,
            scheduled,
            dead,
        },
    })
}

/// Deletes finished jobs older than `age`. apalis' own `vacuum_before` would also `VACUUM` — rewriting
/// the whole file, which in one-process mode is Ferry's whole database.
pub(super) async fn prune(storage: &Storage, age: Duration) -> Result<(), QueueError> {
    let done = sqlx::query(
        "DELETE FROM Jobs WHERE job_type = ? AND status IN ('Done', 'Failed', 'Killed') \
         AND COALESCE(done_at, run_at) < unixepoch() - ?",
    )
    .bind(storage.config().queue.to_string())
    .bind(age.as_secs() as i64)
    .execute(storage.pool())
    .await
    .map_err(|e| QueueError::Prune(e.to_string()))?;
    let pruned = done.rows_affected();
    if pruned > 0 {
        info!(pruned, "old jobs pruned in the SQLite queue");
    }
    Ok(())
}

/// How many finished jobs the queue holds.
pub(super) async fn done_count(storage: &Storage) -> Result<u64, QueueError> {
    let (done,) = sqlx::query_as::<_, (i64,)>(
        "SELECT COUNT(*) FROM Jobs WHERE job_type = ? AND status = 'Done'",
    )
    .bind(storage.config().queue.to_string())
    .fetch_one(storage.pool())
    .await
    .map_err(|e| QueueError::Read(e.to_string()))?;
    Ok(done as u64)
}

/// Deletes the queue's jobs and registered workers. The tables stay: other queues may share the file,
/// and in one-process mode it is Ferry's whole database.
pub(super) async fn clear(settings: &QueueSettings) -> Result<(), QueueError> {
    let clear = |e: apalis_sqlite::SqlxError| QueueError::Clear(e.to_string());
    // No worker heartbeats through this handle, so its interval does not matter.
    let storage = storage(settings, Duration::from_secs(30)).await?;
    let queue = queue_name(settings);
    sqlx::query("DELETE FROM Jobs WHERE job_type = ?")
        .bind(&queue)
        .execute(storage.pool())
        .await
        .map_err(clear)?;
    sqlx::query("DELETE FROM Workers WHERE worker_type = ?")
        .bind(&queue)
        .execute(storage.pool())
        .await
        .map_err(clear)?;
    Ok(())
}
