//! Queue depth for operators (`ferry queue`, `GET /api/v1/queue`, `/metrics`): runs by state from the
//! database (the truth), workers alive and raw job counts from the queue engine's own bookkeeping
//! (`queue::bookkeeping`).

use std::collections::BTreeMap;

use std::time::Duration;

use chrono::Utc;
use ferry_shared::queue::{self, JobCounts, RegisteredWorker, SyncStorage};
use ferry_shared::storage::statement;
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
pub struct QueueJobs {
    pub active: i64,
    pub scheduled: i64,
    pub dead: i64,
}

impl From<JobCounts> for QueueJobs {
    fn from(counts: JobCounts) -> QueueJobs {
        QueueJobs {
            active: counts.active,
            scheduled: counts.scheduled,
            dead: counts.dead,
        }
    }
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
    pub jobs: QueueJobs,
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
    let kept = queue::bookkeeping(queue).await?;
    let workers = kept
        .workers
        .into_iter()
        .map(|registered| worker(registered, now.timestamp(), alive_within))
        .collect();
    let jobs = kept.jobs.into();
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

fn worker(registered: RegisteredWorker, now: i64, alive_within: Duration) -> Worker {
    let alive = registered.alive(now, alive_within);
    Worker {
        name: registered.name,
        last_heartbeat: chrono::DateTime::from_timestamp(registered.last_heartbeat as i64, 0)
            .map(|t| t.to_rfc3339())
            .unwrap_or_default(),
        alive,
    }
}
