//! Where an import's CPU goes: the sandbox, the worker and Postgres share two cores, so rows/s alone
//! does not say whose time it is. Read from `/proc/<pid>/stat` (user + system time) before and after.

use ferry_shared::storage::statement;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde::Serialize;

/// Clock ticks per second of `/proc/<pid>/stat` times (`USER_HZ`, 100 on every Linux we run on).
const TICKS_PER_SEC: f64 = 100.0;

/// CPU seconds spent by each side of one import.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct CpuSplit {
    /// The `ferry worker` process: fetch, parse, map, write.
    pub worker_s: f64,
    /// This process, which hosts the sandbox (serving pages) and polls the run.
    pub sandbox_s: f64,
    /// The Postgres backends connected to the benchmark database (the merge, WAL, commit).
    pub postgres_s: f64,
}

/// A snapshot of the processes' CPU times, to subtract from a later one.
#[derive(Debug, Default, Clone)]
pub struct CpuSnapshot {
    worker: f64,
    sandbox: f64,
    /// `(pid, seconds)` of each backend seen; a backend started later counts from zero.
    backends: Vec<(u32, f64)>,
}

/// User + system CPU seconds of `pid` (`self` for this process), 0 when it is gone.
fn seconds(pid: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // The command name may contain spaces; fields count from after its closing parenthesis.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); utime and stime are fields 14 and 15.
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (tick(11) + tick(12)) / TICKS_PER_SEC
}

/// Process ids of the backends serving the benchmark database.
async fn backends(db: &DatabaseConnection) -> Vec<u32> {
    let sql = "SELECT pid FROM pg_stat_activity WHERE datname = current_database()";
    let rows = db
        .query_all_raw(statement(db.get_database_backend(), sql, []))
        .await
        .unwrap_or_default();
    rows.iter()
        .filter_map(|r| r.try_get_by_index::<i32>(0).ok())
        .map(|pid| pid as u32)
        .collect()
}

impl CpuSnapshot {
    pub async fn take(db: &DatabaseConnection, worker: u32) -> CpuSnapshot {
        let backends = backends(db).await;
        CpuSnapshot {
            worker: seconds(&worker.to_string()),
            sandbox: seconds("self"),
            backends: backends
                .into_iter()
                .map(|pid| (pid, seconds(&pid.to_string())))
                .collect(),
        }
    }

    /// What was spent since `self`.
    pub fn until(&self, later: &CpuSnapshot) -> CpuSplit {
        let postgres = later
            .backends
            .iter()
            .map(|(pid, now)| {
                let before = self
                    .backends
                    .iter()
                    .find(|(p, _)| p == pid)
                    .map_or(0.0, |(_, s)| *s);
                now - before
            })
            .sum();
        CpuSplit {
            worker_s: later.worker - self.worker,
            sandbox_s: later.sandbox - self.sandbox,
            postgres_s: postgres,
        }
    }
}

/// CPU seconds of a fleet's processes over a stretch of time.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct FleetCpu {
    /// The `ferry scheduler` process (the leader: cron steps, recovery, the API).
    pub scheduler_s: f64,
    /// Every `ferry worker` process together.
    pub workers_s: f64,
    /// The Postgres backends of the benchmark database.
    pub postgres_s: f64,
    /// This process: the sandbox and the benchmark's own polling.
    pub own_s: f64,
}

/// `CpuSnapshot` for a scheduler and several workers.
#[derive(Debug, Default, Clone)]
pub struct FleetSnapshot {
    scheduler: f64,
    workers: f64,
    inner: CpuSnapshot,
}

impl FleetSnapshot {
    pub async fn take(db: &DatabaseConnection, scheduler: u32, workers: &[u32]) -> FleetSnapshot {
        FleetSnapshot {
            scheduler: seconds(&scheduler.to_string()),
            workers: workers.iter().map(|pid| seconds(&pid.to_string())).sum(),
            inner: CpuSnapshot::take(db, scheduler).await,
        }
    }

    /// What was spent since `self`.
    pub fn until(&self, later: &FleetSnapshot) -> FleetCpu {
        let split = self.inner.until(&later.inner);
        FleetCpu {
            scheduler_s: later.scheduler - self.scheduler,
            workers_s: later.workers - self.workers,
            postgres_s: split.postgres_s,
            own_s: split.sandbox_s,
        }
    }
}
