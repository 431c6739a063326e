//! The job queue: apalis on Redis, or on SQLite for one-process mode (`queue.url = "sqlite:…"`). A job
//! only carries a run id: the run row in the database is the truth, and the job is the doorbell that
//! tells a worker to look at it (invariant 1).
//!
//! This module is the seam: push, wake-ups, depth, pruning and worker liveness, the same for both
//! engines. Only `redis` and `sqlite` below know an engine's keys or tables (and `redis_client` how to
//! open Redis: TLS, CA, password); nothing outside matches on the engine except to hand apalis its
//! backend (the worker).

mod redis;
pub(crate) mod redis_client;
mod sqlite;

use std::time::Duration;

use apalis_core::task::builder::TaskBuilder;
use serde::{Deserialize, Serialize};

use crate::settings::QueueSettings;

/// The one job type: "execute run N".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncJob {
    pub run_id: i64,
}

/// The apalis storage of sync jobs, on whichever engine `queue.url` names.
#[derive(Debug, Clone)]
pub enum SyncStorage {
    Redis(redis::Storage),
    Sqlite(sqlite::Storage),
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// Where (`reach::address`) and why.
    #[error("cannot reach the queue at {0}")]
    Connect(String),
    #[error("failed to push a job: {0}")]
    Push(String),
    #[error("failed to read the queue: {0}")]
    Read(String),
    #[error("failed to prune the queue: {0}")]
    Prune(String),
    #[error("failed to clear the queue: {0}")]
    Clear(String),
}

/// A worker registered with the queue, as the engine last heard from it.
#[derive(Debug, Clone, PartialEq)]
pub struct RegisteredWorker {
    pub name: String,
    /// Its last heartbeat, as Unix seconds.
    pub last_heartbeat: f64,
}

impl RegisteredWorker {
    /// Whether its last heartbeat is at most `within` before `now` (Unix seconds): a worker that stopped
    /// beating is dead even while the engine still lists it.
    pub fn alive(&self, now: i64, within: Duration) -> bool {
        now as f64 - self.last_heartbeat <= within.as_secs_f64()
    }
}

/// Raw counts of the queue engine's own bookkeeping (Redis keys, or apalis-sqlite's `Jobs` table). The
/// database's run states are the truth; these show what the engine holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobCounts {
    /// Jobs due now or being worked on.
    pub active: i64,
    /// Jobs waiting for a later time.
    pub scheduled: i64,
    pub dead: i64,
}

/// What the engine holds: its registered workers and raw job counts, for `ferry queue` and `/metrics`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bookkeeping {
    pub workers: Vec<RegisteredWorker>,
    pub jobs: JobCounts,
}

/// The queue name, under the installation's prefix so installations and tests never share jobs.
pub fn queue_name(settings: &QueueSettings) -> String {
    format!("{}:sync", settings.prefix)
}

/// Whether `url` names a SQLite queue (`sqlite:…`); anything else is a Redis URL.
pub fn is_sqlite(url: &str) -> bool {
    url.starts_with("sqlite:")
}

/// Opens the sync queue `settings.url` names.
pub async fn storage(
    settings: &QueueSettings,
    heartbeat: Duration,
) -> Result<SyncStorage, QueueError> {
    if is_sqlite(&settings.url) {
        sqlite::storage(settings, heartbeat)
            .await
            .map(SyncStorage::Sqlite)
    } else {
        redis::storage(settings, heartbeat)
            .await
            .map(SyncStorage::Redis)
    }
}

/// Whether the queue answers (for readiness checks).
pub async fn ping(storage: &mut SyncStorage) -> bool {
    match storage {
        SyncStorage::Redis(storage) => redis::ping(storage).await,
        SyncStorage::Sqlite(storage) => sqlite::ping(storage).await,
    }
}

/// Pushes the job of a run, to run now or after `delay`. A job due now wakes idle workers at once.
pub async fn push(
    storage: &mut SyncStorage,
    run_id: i64,
    delay: Option<Duration>,
) -> Result<(), QueueError> {
    let id = ulid::Ulid::generate().to_string();
    let mut task = TaskBuilder::new(SyncJob { run_id })
        .task_id(apalis_core::task::task_id::TaskId::from_string(id.clone()));
    if let Some(delay) = delay {
        // apalis schedules in whole seconds; round up so the job never arrives before it is due.
        let due = std::time::SystemTime::now() + delay;
        let seconds = due
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64()
            .ceil() as u64;
        task = task.run_at_timestamp(seconds);
    }
    let now = delay.is_none();
    match storage {
        SyncStorage::Redis(storage) => redis::push(storage, task, &id, run_id, now).await,
        SyncStorage::Sqlite(storage) => sqlite::push(storage, task, now).await,
    }
}

/// A stream that yields whenever a job is pushed (on Redis, by any process; on SQLite, by this one),
/// so an idle worker need not wait for its poll interval. Ends when the returned task is aborted.
pub fn wake_ups(
    settings: &QueueSettings,
) -> (
    futures::channel::mpsc::Receiver<()>,
    tokio::task::JoinHandle<()>,
) {
    if is_sqlite(&settings.url) {
        sqlite::wake_ups(settings)
    } else {
        redis::wake_ups(settings)
    }
}

/// Reads the engine's registered workers and raw job counts now.
pub async fn bookkeeping(storage: &mut SyncStorage) -> Result<Bookkeeping, QueueError> {
    match storage {
        SyncStorage::Redis(storage) => redis::bookkeeping(storage).await,
        SyncStorage::Sqlite(storage) => sqlite::bookkeeping(storage).await,
    }
}

/// Deletes finished jobs older than `age`: apalis never prunes them itself (ARCHITECTURE.md, "The queue's traps").
pub async fn prune(storage: &mut SyncStorage, age: Duration) -> Result<(), QueueError> {
    match storage {
        SyncStorage::Redis(storage) => redis::prune(storage, age).await,
        SyncStorage::Sqlite(storage) => sqlite::prune(storage, age).await,
    }
}

/// How many jobs the engine has recorded as done, so a benchmark can tell when pushed jobs drained.
pub async fn done_count(storage: &mut SyncStorage) -> Result<u64, QueueError> {
    match storage {
        SyncStorage::Redis(storage) => redis::done_count(storage).await,
        SyncStorage::Sqlite(storage) => sqlite::done_count(storage).await,
    }
}

/// Deletes everything the queue of `settings` holds, for a benchmark or test that is done with its
/// installation.
pub async fn clear(settings: &QueueSettings) -> Result<(), QueueError> {
    if is_sqlite(&settings.url) {
        sqlite::clear(settings).await
    } else {
        redis::clear(settings).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_is_alive_until_its_heartbeat_is_older_than_the_window() {
        let worker = RegisteredWorker {
            name: "host-1-0".into(),
            last_heartbeat: 1_000.0,
        };
        let window = Duration::from_secs(30);
        assert!(worker.alive(1_000, window));
        assert!(
            worker.alive(1_030, window),
            "the window's edge still counts"
        );
        assert!(!worker.alive(1_031, window));
    }
}
