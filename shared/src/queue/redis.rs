//! The sync queue on Redis (apalis-redis): the only place that knows apalis' Redis keys. Depth and
//! workers are read from those keys directly, because apalis' own stats scripts fail (ARCHITECTURE.md, "The queue's traps").

use std::time::Duration;

use ::redis::AsyncCommands;
use apalis_core::backend::{TaskSink, Vacuum};
use apalis_core::task::builder::TaskBuilder;
use apalis_redis::{ConnectionManager, RedisStorage};
use tracing::info;

use super::redis_client;
use super::{Bookkeeping, JobCounts, QueueError, RegisteredWorker, SyncJob, queue_name};
use crate::settings::QueueSettings;

/// The apalis storage of sync jobs on Redis.
pub type Storage = RedisStorage<SyncJob, ConnectionManager>;

/// How many done-set members one prune pass looks at, so a huge backlog cannot stall the leader.
const PRUNE_BATCH: isize = 5_000;

/// Connects to Redis (`redis_client`: TLS, CA and password) and opens the sync queue with explicit settings: apalis' serde defaults differ from
/// its `Default` (ARCHITECTURE.md, "The queue's traps"), so nothing is left to either.
///
/// A job costs one fetch and one ack (batched with the other acks due) in Redis, nothing more:
/// - no task locks: apalis' lock is a second script per job (run before the ack, so it also holds
///   up the next fetch) that marks the job "Running" and rescans the active list for it. What keeps
///   a job from being lost is the worker's in-flight set, filled by the fetch itself and handed back
///   by orphan recovery; what keeps a run from being worked twice is the database claim
///   (invariant 1), so the lock adds nothing.
/// - no events: apalis publishes every push, lock and ack for its web board, which Ferry has not;
///   idle workers are woken through `wake_channel` instead.
/// - one job per fetch, so a worker whose slots are busy never holds jobs another could start.
pub(super) async fn storage(
    settings: &QueueSettings,
    heartbeat: Duration,
) -> Result<Storage, QueueError> {
    let conn = redis_client::connection_manager(settings).await?;
    let config = apalis_redis::Config::default()
        .queue(queue_name(settings))
        .heartbeat_interval(heartbeat)
        .missed_heartbeats(3)
        .batch_size(1)
        .lock_tasks(false)
        .emit_events(false)
        .persist_results(true);
    Ok(RedisStorage::new(conn).with_config(config))
}

/// Whether Redis answers.
pub(super) async fn ping(storage: &mut Storage) -> bool {
    ::redis::cmd("PING")
        .query_async::<String>(storage.get_connection())
        .await
        .is_ok()
}

/// The Redis pub/sub channel that wakes idle workers the moment a job is pushed. apalis itself parks an
/// idle worker until its poll interval (every push goes through its scheduled set, which publishes
/// nothing), so without this the interval would bound trigger → start latency.
fn wake_channel(settings: &QueueSettings) -> String {
    format!("{}:sync:wake", settings.prefix)
}

/// Moves one job from apalis' scheduled set onto its active list, in one step, and wakes idle workers
/// (`wake_channel`, best effort: a worker that misses it finds the job at its next poll). apalis
/// schedules every push at the pushing process's clock and promotes it once the *fetching* worker's
/// clock has passed that second, so a worker whose clock is behind would not see a job that is due
/// now for as long as it lags. A job pushed to run now skips that comparison: no process clock
/// decides when it starts. One script, so a push due now costs two round trips (apalis' push, this).
static DUE_NOW: std::sync::LazyLock<::redis::Script> = std::sync::LazyLock::new(|| {
    ::redis::Script::new(
        r"if redis.call('zrem', KEYS[1], ARGV[1]) == 1 then
            redis.call('rpush', KEYS[2], ARGV[1])
            redis.call('del', KEYS[3])
            redis.call('lpush', KEYS[3], 1)
          end
          redis.call('publish', ARGV[2], ARGV[3])
          return 1",
    )
});

/// Pushes `task` (whose id is `id`); a job due now is made due at once and idle workers are woken.
pub(super) async fn push(
    storage: &mut Storage,
    task: TaskBuilder<SyncJob>,
    id: &str,
    run_id: i64,
    now: bool,
) -> Result<(), QueueError> {
    storage
        .push_task(task.build())
        .await
        .map_err(|e| QueueError::Push(e.to_string()))?;
    if now {
        let config = storage.get_config();
        let channel = format!("{}:wake", config.queue.as_ref());
        let mut due = DUE_NOW.prepare_invoke();
        due.key(config.scheduled_jobs_set())
            .key(config.active_jobs_list())
            .key(config.signal_list())
            .arg(id)
            .arg(channel)
            .arg(run_id);
        due.invoke_async::<i64>(storage.get_connection())
            .await
            .map_err(|e| QueueError::Push(e.to_string()))?;
    }
    Ok(())
}

/// A stream that yields whenever a job is pushed (see `wake_channel`), resubscribing after Redis drops
/// the connection. Ends when the returned task is aborted.
pub(super) fn wake_ups(
    settings: &QueueSettings,
) -> (
    futures::channel::mpsc::Receiver<()>,
    tokio::task::JoinHandle<()>,
) {
    let (mut tx, rx) = futures::channel::mpsc::channel::<()>(1);
    let settings = settings.clone();
    let channel = wake_channel(&settings);
    let task = tokio::spawn(async move {
        use futures::StreamExt;
        loop {
            let subscribed = async {
                let client = redis_client::client(&settings)?;
                let subscribe = async {
                    let mut pubsub = client.get_async_pubsub().await?;
                    pubsub.subscribe(&channel).await?;
                    Ok::<_, ::redis::RedisError>(pubsub.into_on_message())
                };
                subscribe
                    .await
                    .map_err(|e| redis_client::refused(&settings, &e))
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

/// Workers and raw job counts from the queue's keys: LLEN of the active list, ZCARD of the scheduled
/// set, SCARD of the dead set, and the workers set scored by last heartbeat.
pub(super) async fn bookkeeping(storage: &mut Storage) -> Result<Bookkeeping, QueueError> {
    let read = |e: ::redis::RedisError| QueueError::Read(e.to_string());
    let config = storage.get_config().clone();
    let conn = storage.get_connection();
    let registered: Vec<(String, f64)> = conn
        .zrange_withscores(config.workers_set(), 0, -1)
        .await
        .map_err(read)?;
    let workers = registered
        .into_iter()
        .map(|(name, last_heartbeat)| RegisteredWorker {
            name,
            last_heartbeat,
        })
        .collect();
    let jobs = JobCounts {
        active: conn.llen(config.active_jobs_list()).await.map_err(read)?,
        scheduled: conn
            .zcard(config.scheduled_jobs_set())
            .await
            .map_err(read)?,
        dead: conn.scard(config.dead_jobs_set()).await.map_err(read)?,
    };
    Ok(Bookkeeping { workers, jobs })
}

/// Removes finished jobs older than `age` (`vacuum_before`), then the done-set members whose data that
/// removed: apalis never prunes its done set (ARCHITECTURE.md, "The queue's traps").
pub(super) async fn prune(storage: &mut Storage, age: Duration) -> Result<(), QueueError> {
    let prune = |e: ::redis::RedisError| QueueError::Prune(e.to_string());
    let vacuumed = storage
        .vacuum_before(age)
        .await
        .map_err(|e| QueueError::Prune(e.to_string()))?;
    let config = storage.get_config().clone();
    let conn = storage.get_connection();
    // Members of the done set whose data `vacuum_before` removed are gone for good.
    let done: Vec<String> = conn
        .srandmember_multiple(config.done_jobs_set(), PRUNE_BATCH)
        .await
        .map_err(prune)?;
    let mut gone = Vec::new();
    for id in done {
        let exists: bool = conn
            .hexists(config.job_data_hash(), &id)
            .await
            .map_err(prune)?;
        if !exists {
            gone.push(id);
        }
    }
    if !gone.is_empty() {
        let _: () = conn
            .srem(config.done_jobs_set(), &gone)
            .await
            .map_err(prune)?;
    }
    if vacuumed > 0 || !gone.is_empty() {
        info!(
            vacuumed,
            done_pruned = gone.len(),
            "old jobs pruned in Redis"
        );
    }
    Ok(())
}

/// How many jobs the done set holds.
pub(super) async fn done_count(storage: &mut Storage) -> Result<u64, QueueError> {
    let done_set = storage.get_config().done_jobs_set();
    storage
        .get_connection()
        .scard(&done_set)
        .await
        .map_err(|e| QueueError::Read(e.to_string()))
}

/// Deletes every key under the installation's prefix.
pub(super) async fn clear(settings: &QueueSettings) -> Result<(), QueueError> {
    let clear = |e: ::redis::RedisError| QueueError::Clear(e.to_string());
    let mut conn = redis_client::client(settings)?
        .get_multiplexed_async_connection()
        .await
        .map_err(|e| redis_client::refused(settings, &e))?;
    let keys: Vec<String> = ::redis::cmd("KEYS")
        .arg(format!("{}*", settings.prefix))
        .query_async(&mut conn)
        .await
        .map_err(clear)?;
    if !keys.is_empty() {
        let _: () = ::redis::cmd("DEL")
            .arg(keys)
            .query_async(&mut conn)
            .await
            .map_err(clear)?;
    }
    Ok(())
}
