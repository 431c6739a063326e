//! Queue depth for operators (`ferry queue`, `GET /api/v1/queue`, `/metrics`): runs by state from the
//! database (the truth), workers alive and raw job counts from Redis' keys directly (apalis' own stats
//! scripts fail; DESIGN §5).

use std::collections::BTreeMap;

use std::time::Duration;

use apalis_redis::{ConnectionManager, RedisStorage};
use chrono::{DateTime, Utc};
use ferry_shared::queue::{SyncJob, SyncStorage};
use ferry_shared::storage::statement;
use redis::AsyncCommands;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde::Serialize;

/// Runs of one integration by where they are.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct IntegrationDepth {
    /// Due now, waiting for a worker.
    pub queued: i64,
    /// Queued, waiting for their retry time after a retriable failure.
    pub retrying: i64,
    pub running: i64,
    /// Failed for good in the last 24 hours.
    pub dead: i64,
}

/// A worker registered with the queue.
#[derive(Debug, Clone, Serialize)]
pub struct Worker {
    pub name: String,
    pub last_heartbeat: String,
    pub alive: bool,
}

/// Raw counts of the queue engine's own bookkeeping (Redis keys, or apalis-sqlite's `Jobs` table).
#[derive(Debug, Clone, Default, Serialize)]
pub struct RedisJobs {
    pub active: i64,
    pub scheduled: i64,
    pub dead: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct QueueDepth {
    pub queued: i64,
    pub retrying: i64,
    pub running: i64,
    pub dead: i64,
    pub oldest_queued_seconds: Option<f64>,
    pub integrations: BTreeMap<String, IntegrationDepth>,
    pub workers: Vec<Worker>,
    pub jobs: RedisJobs,
}

/// Reads the depth now. `alive_within` is how recent a heartbeat must be to count a worker alive.
pub async fn read(
    db: &DatabaseConnection,
    queue: &mut SyncStorage,
    alive_within: Duration,
) -> anyhow::Result<QueueDepth> {
    let now = Utc::now();
    let day_ago = (now - chrono::Duration::days(1)).fixed_offset();
    let rows = db
        .query_all_raw(statement(
            db.get_database_backend(),
            "SELECT integration, \
               SUM(CASE WHEN state = 'queued' AND (retry_at IS NULL OR retry_at <= ?) THEN 1 ELSE 0 END), \
               SUM(CASE WHEN state = 'queued' AND retry_at > ? THEN 1 ELSE 0 END), \
               SUM(CASE WHEN state = 'running' THEN 1 ELSE 0 END), \
               SUM(CASE WHEN state = 'failed' AND finished_at > ? THEN 1 ELSE 0 END) \
             FROM ferry_runs WHERE state IN ('queued', 'running') OR finished_at > ? GROUP BY integration",
            [
                now.fixed_offset().into(),
                now.fixed_offset().into(),
                day_ago.into(),
                day_ago.into(),
            ],
        ))
        .await?;
    let mut integrations = BTreeMap::new();
    for row in &rows {
        let depth = IntegrationDepth {
            queued: row.try_get_by_index::<Option<i64>>(1)?.unwrap_or(0),
            retrying: row.try_get_by_index::<Option<i64>>(2)?.unwrap_or(0),
            running: row.try_get_by_index::<Option<i64>>(3)?.unwrap_or(0),
            dead: row.try_get_by_index::<Option<i64>>(4)?.unwrap_or(0),
        };
        integrations.insert(row.try_get_by_index::<String>(0)?, depth);
    }
    let oldest = db
        .query_one_raw(statement(
            db.get_database_backend(),
            "SELECT MIN(queued_at) FROM ferry_runs WHERE state = 'queued'",
            [],
        ))
        .await?
        .and_then(|row| {
            row.try_get_by_index::<Option<chrono::DateTime<chrono::FixedOffset>>>(0)
                .ok()
                .flatten()
        })
        .map(|at| (now - at.with_timezone(&Utc)).num_milliseconds().max(0) as f64 / 1000.0);
    let sum = |f: fn(&IntegrationDepth) -> i64| integrations.values().map(f).sum::<i64>();
    let (workers, jobs) = match queue {
        SyncStorage::Redis(queue) => redis_bookkeeping(queue, now, alive_within).await?,
        SyncStorage::Sqlite(queue) => {
            let kept = ferry_shared::queue::sqlite::bookkeeping(queue).await?;
            let workers = kept
                .workers
                .into_iter()
                .map(|(name, seen)| worker(name, seen as f64, now, alive_within))
                .collect();
            let jobs = RedisJobs {
                active: kept.active,
                scheduled: kept.scheduled,
                dead: kept.dead,
            };
            (workers, jobs)
        }
    };
    Ok(QueueDepth {
        queued: sum(|d| d.queued),
        retrying: sum(|d| d.retrying),
        running: sum(|d| d.running),
        dead: sum(|d| d.dead),
        oldest_queued_seconds: oldest,
        integrations,
        workers,
        jobs,
    })
}

fn worker(name: String, seen: f64, now: DateTime<Utc>, alive_within: Duration) -> Worker {
    let age = now.timestamp() as f64 - seen;
    Worker {
        name,
        last_heartbeat: chrono::DateTime::from_timestamp(seen as i64, 0)
            .map(|t| t.to_rfc3339())
            .unwrap_or_default(),
        alive: age <= alive_within.as_secs_f64(),
    }
}

/// Workers and raw job counts from the Redis queue's keys.
async fn redis_bookkeeping(
    queue: &mut RedisStorage<SyncJob, ConnectionManager>,
    now: DateTime<Utc>,
    alive_within: Duration,
) -> anyhow::Result<(Vec<Worker>, RedisJobs)> {
    let config = queue.get_config().clone();
    let conn = queue.get_connection();
    let registered: Vec<(String, f64)> =
        conn.zrange_withscores(config.workers_set(), 0, -1).await?;
    let workers = registered
        .into_iter()
        .map(|(name, seen)| worker(name, seen, now, alive_within))
        .collect();
    let jobs = RedisJobs {
        active: conn.llen(config.active_jobs_list()).await?,
        scheduled: conn.zcard(config.scheduled_jobs_set()).await?,
        dead: conn.scard(config.dead_jobs_set()).await?,
    };
    Ok((workers, jobs))
}
