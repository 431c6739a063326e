//! The job queue: apalis on Redis, or on SQLite for one-process mode (`queue.url = "sqlite:…"`). A job
//! only carries a run id: the run row in the database is the truth, and the job is the doorbell that
//! tells a worker to look at it (invariant 1).

pub mod sqlite;

use std::time::Duration;

use apalis_core::backend::TaskSink;
use apalis_core::task::builder::TaskBuilder;
use apalis_redis::{ConnectionManager, RedisStorage};
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
    Redis(RedisStorage<SyncJob, ConnectionManager>),
    Sqlite(apalis_sqlite::SqliteStorage<SyncJob>),
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("cannot reach the queue: {0}")]
    Connect(String),
    #[error("failed to push a job: {0}")]
    Push(String),
}

/// The Redis queue name, under the installation's prefix so installations and tests never share jobs.
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
        redis_storage(settings, heartbeat)
            .await
            .map(SyncStorage::Redis)
    }
}

/// Connects to Redis and opens the sync queue with explicit settings: apalis' serde defaults differ from
/// its `Default` (DESIGN §5), so nothing is left to either.
async fn redis_storage(
    settings: &QueueSettings,
    heartbeat: Duration,
) -> Result<RedisStorage<SyncJob, ConnectionManager>, QueueError> {
    let conn = apalis_redis::connect(settings.url.as_str())
        .await
        .map_err(|e| QueueError::Connect(e.to_string()))?;
    let config = apalis_redis::Config::default()
        .queue(queue_name(settings))
        .heartbeat_interval(heartbeat)
        .missed_heartbeats(3)
        .batch_size(1);
    Ok(RedisStorage::new(conn).with_config(config))
}

/// Whether the queue answers (for readiness checks).
pub async fn ping(storage: &mut SyncStorage) -> bool {
    match storage {
        SyncStorage::Redis(storage) => redis::cmd("PING")
            .query_async::<String>(storage.get_connection())
            .await
            .is_ok(),
        SyncStorage::Sqlite(storage) => sea_orm::sqlx::query("SELECT 1")
            .execute(storage.pool())
            .await
            .is_ok(),
    }
}

/// The Redis pub/sub channel that wakes idle workers the moment a job is pushed. apalis itself parks an
/// idle worker until its poll interval (every push goes through its scheduled set, which publishes
/// nothing), so without this the interval would bound trigger → start latency.
pub fn wake_channel(settings: &QueueSettings) -> String {
    format!("{}:sync:wake", settings.prefix)
}

/// Moves one job from apalis' scheduled set onto its active list, in one step. apalis schedules every
/// push at the pushing process's clock and promotes it once the *fetching* worker's clock has passed
/// that second, so a worker whose clock is behind would not see a job that is due now for as long as
/// it lags. A job pushed to run now skips that comparison: no process clock decides when it starts.
static DUE_NOW: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        r"if redis.call('zrem', KEYS[1], ARGV[1]) == 1 then
            redis.call('rpush', KEYS[2], ARGV[1])
            redis.call('del', KEYS[3])
            redis.call('lpush', KEYS[3], 1)
          end
          return 1",
    )
});

/// Pushes the job of a run, to run now or after `delay`.
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
    let storage = match storage {
        SyncStorage::Redis(storage) => storage,
        SyncStorage::Sqlite(storage) => {
            storage
                .push_task(task.build())
                .await
                .map_err(|e| QueueError::Push(e.to_string()))?;
            if delay.is_none() {
                sqlite::ring(storage);
            }
            return Ok(());
        }
    };
    storage
        .push_task(task.build())
        .await
        .map_err(|e| QueueError::Push(e.to_string()))?;
    if delay.is_none() {
        let config = storage.get_config().clone();
        DUE_NOW
            .key(config.scheduled_jobs_set())
            .key(config.active_jobs_list())
            .key(config.signal_list())
            .arg(&id)
            .invoke_async::<i64>(storage.get_connection())
            .await
            .map_err(|e| QueueError::Push(e.to_string()))?;
        // Best effort: a worker that misses the wake-up still finds the job at its next poll.
        let channel = format!("{}:wake", storage.get_config().queue.as_ref());
        let _: Result<i64, _> = redis::cmd("PUBLISH")
            .arg(channel)
            .arg(run_id)
            .query_async(storage.get_connection())
            .await;
    }
    Ok(())
}

/// A stream that yields whenever a job is pushed (see `wake_channel`; on SQLite, a push in this process:
/// see `sqlite::wake_ups`), resubscribing after Redis drops the connection. Ends when the returned task
/// is aborted.
pub fn wake_ups(
    settings: &QueueSettings,
) -> (
    futures::channel::mpsc::Receiver<()>,
    tokio::task::JoinHandle<()>,
) {
    if is_sqlite(&settings.url) {
        return sqlite::wake_ups(settings);
    }
    let (mut tx, rx) = futures::channel::mpsc::channel::<()>(1);
    let url = settings.url.clone();
    let channel = wake_channel(settings);
    let task = tokio::spawn(async move {
        use futures::StreamExt;
        loop {
            let subscribed = async {
                let client = redis::Client::open(url.as_str())?;
                let mut pubsub = client.get_async_pubsub().await?;
                pubsub.subscribe(&channel).await?;
                Ok::<_, redis::RedisError>(pubsub.into_on_message())
            }
            .await;
            if let Ok(mut messages) = subscribed {
                while messages.next().await.is_some() {
                    // A full channel means a wake-up is already pending: dropping this one is fine.
                    let _ = tx.try_send(());
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    (rx, task)
}
