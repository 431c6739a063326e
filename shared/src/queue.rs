//! The job queue (apalis on Redis). A job only carries a run id: the run row in the database is the
//! truth, and the job is the doorbell that tells a worker to look at it (invariant 1).

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

/// The apalis storage of sync jobs.
pub type SyncStorage = RedisStorage<SyncJob, ConnectionManager>;

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

/// Connects to Redis and opens the sync queue with explicit settings: apalis' serde defaults differ from
/// its `Default` (DESIGN §5), so nothing is left to either.
pub async fn storage(
    settings: &QueueSettings,
    heartbeat: Duration,
) -> Result<SyncStorage, QueueError> {
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

/// Pushes the job of a run, to run now or after `delay`.
pub async fn push(
    storage: &mut SyncStorage,
    run_id: i64,
    delay: Option<Duration>,
) -> Result<(), QueueError> {
    let mut task = TaskBuilder::new(SyncJob { run_id });
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
    storage
        .push_task(task.build())
        .await
        .map_err(|e| QueueError::Push(e.to_string()))
}
