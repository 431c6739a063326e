//! `ferry-bench --fleet N`: N generated integrations on a one-minute schedule (`0 * * * * *`), each
//! over its own customer of the sandbox (a filter on the key, so one row and a tiny delta: the sandbox
//! changes a few random customers every few seconds), run by the leader (`ferry scheduler`) and four
//! `ferry worker` processes for `--fleet-minutes` minutes after a first minute of first loads. Printed:
//! per minute, the ticks due against the runs enqueued and finished (within the minute); the schedule
//! lag (scheduled time → finished) and the enqueue latency (scheduled time → queued) at p50/p99; runs per
//! second; and CPU seconds per 1,000 runs of the scheduler, the workers, Postgres and this process
//! (the sandbox).

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use ferry_sandbox::faults::Limits;
use ferry_sandbox::{MutateRequest, SandboxConfig};
use ferry_shared::definitions::lifecycle::{self, State};
use ferry_shared::runs::Mode;
use ferry_shared::storage::statement;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde::Serialize;
use tokio::process::Child;

use super::cpu;
use super::{Args, BenchEnv, quantile};
use crate::cli::{trigger, wait_for};

/// Worker processes, as the issue asks.
const WORKERS: usize = 4;
/// Customers the sandbox changes every `CHANGE_EVERY`: a few rows per minute across the fleet.
const CHANGES: usize = 5;
const CHANGE_EVERY: Duration = Duration::from_secs(5);
/// How long after the last measured minute its runs may still finish before the benchmark stops.
const GRACE: TimeDelta = TimeDelta::seconds(120);

/// One minute of the fleet.
#[derive(Debug, Serialize)]
pub struct Minute {
    pub scheduled_for: DateTime<Utc>,
    /// Ticks due (every integration, once).
    pub due: usize,
    /// Runs the ticks created (a tick meeting a run still queued joins it).
    pub runs: usize,
    pub finished: usize,
    /// Finished before the next tick.
    pub finished_within_minute: usize,
    /// Scheduled time → the last of the minute's runs finished.
    pub busy_s: f64,
}

/// The fleet's figures over the measured minutes (the first minute, of first loads, is left out).
#[derive(Debug, Serialize)]
pub struct FleetFigures {
    pub integrations: usize,
    pub workers: usize,
    pub worker_concurrency: usize,
    pub apply_s: f64,
    pub minutes: Vec<Minute>,
    pub lag_p50_s: f64,
    pub lag_p99_s: f64,
    pub enqueue_p50_ms: f64,
    pub enqueue_p99_ms: f64,
    /// Measured runs finished per second of measured time.
    pub runs_per_sec: f64,
    /// Measured runs per second of the time the fleet was busy with them (the minutes' `busy_s`).
    pub runs_per_busy_sec: f64,
    pub scheduler_cpu_s_per_1000: f64,
    pub workers_cpu_s_per_1000: f64,
    pub postgres_cpu_s_per_1000: f64,
    pub sandbox_cpu_s_per_1000: f64,
}

/// The generated definitions: one connection (its budget raised: the fleet measures Ferry, not
/// Business Central's per-user limit) and `n` integrations, each over one customer.
fn definitions(base_url: &str, n: usize, concurrent: usize) -> String {
    let mut text = format!(
        r#"[[connection]]
name = "fleet"
kind = "business_central"
url = "{base_url}/v2.0/sandbox/production/api/Resco/RescoIntegrations/v2.0"
company = "CRONUS USA, Inc."
[connection.auth]
flow = "client_credentials"
authority = "{base_url}"
tenant = "sandbox"
client_id = "ferry"
client_secret_env = "BC_CLIENT_SECRET"
scope = "https://api.businesscentral.dynamics.com/.default"
[connection.budget]
concurrent = {concurrent}
requests = 1000000
per_secs = 300
"#
    );
    for i in 0..n {
        text.push_str(&format!(
            r#"
[[integration]]
name = "{name}"
connection = "fleet"
schedule = "0 * * * * *"
source = {{ entity = "RescoCustomer", key = ["No"], version = "RowVersionNumber", filter = "No eq 'C{seq:06}'" }}
target = {{ table = "fleet_customer", key = ["bc_no"], create = true, shared = true }}
fields = [
  {{ from = "No", to = "bc_no" }},
  {{ from = "Name", to = "name" }},
  {{ from = "City", to = "city" }},
  {{ from = "RowVersionNumber", to = "row_version" }},
]
"#,
            name = name(i),
            seq = i + 1,
        ));
    }
    text
}

fn name(i: usize) -> String {
    format!("fleet_{i:05}")
}

/// The fleet of `n` integrations, measured.
pub async fn fleet(args: &Args, n: usize) -> anyhow::Result<FleetFigures> {
    let concurrency = args.fleet_concurrency.max(1);
    let budget = (WORKERS * concurrency).max(5);
    let config = SandboxConfig {
        customers: n,
        contacts: 10,
        accounts: 1,
        dv_contacts: 1,
        seed: 7,
        limits: Limits {
            requests_per_window: 100_000_000,
            max_concurrent: budget,
            ..Limits::default()
        },
        ..SandboxConfig::default()
    };
    let env = BenchEnv::with_sandbox(&args.database_url, &args.redis_url, config).await?;
    // The examples the world applies are not part of the fleet.
    for example in names(&env.db).await? {
        lifecycle::set(&env.db, &example, State::Disabled, "bench").await?;
    }
    let file = env.file(
        "fleet.toml",
        &definitions(&env.sandbox.base_url(), n, budget),
    )?;
    eprintln!("fleet of {n}: applying the definitions");
    let applying = std::time::Instant::now();
    if let Err(errors) = crate::cli::apply(&env.db, &[file]).await? {
        anyhow::bail!("fleet definitions invalid: {errors:?}");
    }
    let apply_s = applying.elapsed().as_secs_f64();
    let concurrency_text = concurrency.to_string();
    let worker_env = [("FERRY__WORKER__CONCURRENCY", concurrency_text.as_str())];
    let mut workers = Vec::new();
    for _ in 0..WORKERS {
        workers.push(env.spawn_ferry("worker", &worker_env)?);
    }
    // One run first creates the shared target table, so the first minute's runs do not race to.
    let first = trigger(&env.db, &env.settings, &name(0), Mode::Incremental).await?;
    let run = wait_for(&env.db, first, Duration::from_secs(120)).await?;
    anyhow::ensure!(run.status == "succeeded", "first run: {run:?}");

    let mut scheduler = env.spawn_ferry("scheduler", &[("FERRY__API__LISTEN", "127.0.0.1:0")])?;
    let outcome = measure(args, &env, n, &scheduler, &workers).await;
    let _ = scheduler.kill().await;
    for mut worker in workers {
        let _ = worker.kill().await;
    }
    env.finish().await?;
    let (minutes, lag, enqueue, cpu) = outcome?;
    let runs: usize = minutes.iter().map(|m| m.finished).sum();
    let measured_s = (minutes.len() * 60) as f64;
    let busy_s: f64 = minutes.iter().map(|m| m.busy_s).sum();
    let per_1000 = |seconds: f64| seconds * 1000.0 / runs.max(1) as f64;
    let (mut lag, mut enqueue) = (lag, enqueue);
    Ok(FleetFigures {
        integrations: n,
        workers: WORKERS,
        worker_concurrency: concurrency,
        apply_s,
        lag_p50_s: quantile(&mut lag, 0.5),
        lag_p99_s: quantile(&mut lag, 0.99),
        enqueue_p50_ms: quantile(&mut enqueue, 0.5) * 1000.0,
        enqueue_p99_ms: quantile(&mut enqueue, 0.99) * 1000.0,
        runs_per_sec: runs as f64 / measured_s.max(1.0),
        runs_per_busy_sec: runs as f64 / busy_s.max(0.001),
        scheduler_cpu_s_per_1000: per_1000(cpu.scheduler_s),
        workers_cpu_s_per_1000: per_1000(cpu.workers_s),
        postgres_cpu_s_per_1000: per_1000(cpu.postgres_s),
        sandbox_cpu_s_per_1000: per_1000(cpu.own_s),
        minutes,
    })
}

type Measured = (Vec<Minute>, Vec<f64>, Vec<f64>, cpu::FleetCpu);

/// Waits for the first tick, lets the first minute pass, and measures the next `--fleet-minutes`.
async fn measure(
    args: &Args,
    env: &BenchEnv,
    n: usize,
    scheduler: &Child,
    workers: &[Child],
) -> anyhow::Result<Measured> {
    let first = first_tick(&env.db).await?;
    let minutes = args.fleet_minutes.max(1) as i32;
    let start = first + TimeDelta::minutes(1);
    let end = start + TimeDelta::minutes(minutes as i64);
    let pids: Vec<u32> = workers.iter().filter_map(Child::id).collect();
    let scheduler_pid = scheduler.id().unwrap_or_default();
    eprintln!("fleet of {n}: first tick at {first}; measuring {start} to {end}");
    // Just before the boundaries: the CPU of the measured minutes' ticks, not of the ticks around them.
    changing_until(env, start - TimeDelta::milliseconds(500)).await;
    let before = cpu::FleetSnapshot::take(&env.db, scheduler_pid, &pids).await;
    changing_until(env, end - TimeDelta::milliseconds(500)).await;
    // The last measured minute's runs may still be working: wait for them (bounded), without the
    // next minute's ticks, whose work is not measured.
    let until = end + GRACE;
    while Utc::now() < until && unfinished(&env.db, start, end).await? > 0 {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let after = cpu::FleetSnapshot::take(&env.db, scheduler_pid, &pids).await;
    let cpu = before.until(&after);
    let (mut rows, mut lag, mut enqueue) = (Vec::new(), Vec::new(), Vec::new());
    for m in 0..minutes {
        let at = start + TimeDelta::minutes(m as i64);
        let minute = minute(&env.db, at, n).await?;
        lag.extend(minute.1);
        enqueue.extend(minute.2);
        rows.push(minute.0);
    }
    Ok((rows, lag, enqueue, cpu))
}

/// The scheduled time of the first tick, once the leader enqueued it.
async fn first_tick(db: &DatabaseConnection) -> anyhow::Result<DateTime<Utc>> {
    for _ in 0..600 {
        let row = db
            .query_one_raw(statement(
                db.get_database_backend(),
                "SELECT min(scheduled_for) FROM ferry_runs WHERE trigger = 'schedule'",
                [],
            ))
            .await?;
        if let Some(at) = row
            .map(|r| r.try_get_by_index::<Option<DateTime<Utc>>>(0))
            .transpose()?
            .flatten()
        {
            return Ok(at);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    anyhow::bail!("no tick was enqueued within five minutes")
}

/// Runs scheduled in `[from, to)` not finished yet.
async fn unfinished(
    db: &DatabaseConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> anyhow::Result<i64> {
    let row = db
        .query_one_raw(statement(
            db.get_database_backend(),
            "SELECT count(*) FROM ferry_runs WHERE trigger = 'schedule' \
             AND scheduled_for >= ? AND scheduled_for < ? AND finished_at IS NULL",
            [from.into(), to.into()],
        ))
        .await?;
    Ok(row.map(|r| r.try_get_by_index(0)).transpose()?.unwrap_or(0))
}

/// One minute's runs: the row of the table, its lags and its enqueue latencies (seconds).
async fn minute(
    db: &DatabaseConnection,
    at: DateTime<Utc>,
    due: usize,
) -> anyhow::Result<(Minute, Vec<f64>, Vec<f64>)> {
    let rows = db
        .query_all_raw(statement(
            db.get_database_backend(),
            "SELECT CAST(EXTRACT(EPOCH FROM (queued_at - scheduled_for)) AS DOUBLE PRECISION), \
             CAST(EXTRACT(EPOCH FROM (finished_at - scheduled_for)) AS DOUBLE PRECISION) \
             FROM ferry_runs WHERE trigger = 'schedule' AND scheduled_for = ?",
            [at.into()],
        ))
        .await?;
    let (mut lags, mut enqueues) = (Vec::new(), Vec::new());
    for row in &rows {
        enqueues.push(row.try_get_by_index::<f64>(0)?);
        if let Some(lag) = row.try_get_by_index::<Option<f64>>(1)? {
            lags.push(lag);
        }
    }
    let figures = Minute {
        scheduled_for: at,
        due,
        runs: rows.len(),
        finished: lags.len(),
        finished_within_minute: lags.iter().filter(|l| **l < 60.0).count(),
        busy_s: lags.iter().copied().fold(0.0, f64::max),
    };
    Ok((figures, lags, enqueues))
}

/// The names of the integrations applied so far.
async fn names(db: &DatabaseConnection) -> anyhow::Result<Vec<String>> {
    let rows = db
        .query_all_raw(statement(
            db.get_database_backend(),
            "SELECT DISTINCT name FROM ferry_integrations",
            [],
        ))
        .await?;
    Ok(rows
        .iter()
        .map(|r| r.try_get_by_index(0))
        .collect::<Result<_, _>>()?)
}

/// Waits until `at`, changing `CHANGES` random customers every `CHANGE_EVERY` meanwhile, so a few
/// runs a minute have a delta.
async fn changing_until(env: &BenchEnv, at: DateTime<Utc>) {
    loop {
        let Ok(left) = (at - Utc::now()).to_std() else {
            return;
        };
        let _ = env.sandbox.mutate(MutateRequest {
            entity: "RescoCustomer".into(),
            insert: 0,
            update: CHANGES,
            delete: 0,
        });
        tokio::time::sleep(left.min(CHANGE_EVERY)).await;
    }
}

/// `--fleet`: each size measured, printed.
pub async fn main(args: &Args) -> anyhow::Result<()> {
    let mut figures = Vec::new();
    for &n in &args.fleet {
        figures.push(fleet(args, n).await?);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&figures)?);
        return Ok(());
    }
    println!("machine: {}", super::machine());
    for f in &figures {
        println!(
            "\nfleet of {} integrations, every minute, {} workers × {} (applied in {:.1} s)",
            f.integrations, f.workers, f.worker_concurrency, f.apply_s
        );
        println!(
            "{:>10} {:>7} {:>7} {:>9} {:>14} {:>8}",
            "MINUTE", "DUE", "RUNS", "FINISHED", "WITHIN MINUTE", "BUSY s"
        );
        for m in &f.minutes {
            println!(
                "{:>10} {:>7} {:>7} {:>9} {:>14} {:>8.1}",
                m.scheduled_for.format("%H:%M").to_string(),
                m.due,
                m.runs,
                m.finished,
                m.finished_within_minute,
                m.busy_s
            );
        }
        println!(
            "schedule lag (scheduled → finished): p50 {:.1} s, p99 {:.1} s; enqueue (scheduled → queued): p50 {:.0} ms, p99 {:.0} ms",
            f.lag_p50_s, f.lag_p99_s, f.enqueue_p50_ms, f.enqueue_p99_ms
        );
        println!(
            "runs/s: {:.1} over the measured minutes, {:.1} while busy",
            f.runs_per_sec, f.runs_per_busy_sec
        );
        println!(
            "CPU s per 1,000 runs: scheduler {:.2}, workers {:.2}, Postgres {:.2}, sandbox {:.2}",
            f.scheduler_cpu_s_per_1000,
            f.workers_cpu_s_per_1000,
            f.postgres_cpu_s_per_1000,
            f.sandbox_cpu_s_per_1000
        );
    }
    Ok(())
}
