//! `ferry-bench --first-load`: a first load of a Business Central entity whose row version has no
//! index (the sandbox charges `--sort-cost-us-per-row` per row of the entity to every query ordered by
//! the version), read in key order after one high-water query (`sync/scan.rs`) against the
//! version-ordered read of before (`worker.scan_in_key_order = false`), each in a fresh world; and a
//! 1,000-row delta behind a 10,000-version overlap window read by key and version (`sync/window.rs`).

use std::time::{Duration, Instant};

use ferry_sandbox::{MutateRequest, SandboxConfig};
use ferry_shared::runs::{self, Mode, RunState};
use ferry_shared::storage::entities::run;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde::Serialize;

use super::{Args, BenchEnv, median};
use crate::cli::{trigger, wait_for};

/// Longest any single measured run may take.
const RUN_TIMEOUT: Duration = Duration::from_secs(3600);

/// One size's first load, both ways, under the same sort cost.
#[derive(Debug, Serialize)]
pub struct FirstLoadFigures {
    pub rows: usize,
    pub sort_cost_us_per_row: u64,
    /// High-water query, then pages in key order (the default).
    pub key_order_s: f64,
    /// Every page ordered by the version (`worker.scan_in_key_order = false`).
    pub version_order_s: f64,
}

/// A delta of `changed` rows in an entity of `rows`, with the overlap window of the example
/// definition (`overlap = 10000`) read by key and version.
#[derive(Debug, Serialize)]
pub struct WindowFigures {
    pub rows: usize,
    pub changed: usize,
    pub overlap: i64,
    /// Trigger → finished, median: from before the trigger until the benchmark sees the run final
    /// (polled every [`POLL`]).
    pub delta_ms: f64,
    pub delta_ms_min: f64,
    pub delta_ms_max: f64,
    /// The same on the database's clock (the run row's `queued_at` → `finished_at`), median: what
    /// the run itself took, without the benchmark's trigger call and poll.
    pub queued_to_finished_ms: f64,
    /// The run row's `started_at` → `finished_at` (claim → finished), median.
    pub claimed_to_finished_ms: f64,
}

/// How often the benchmark looks whether a delta finished: short against the figure it measures
/// (the CLI's `wait_for` looks every 100 ms, which would round a 50 ms run up to 100).
const POLL: Duration = Duration::from_millis(2);

/// Waits (at most [`RUN_TIMEOUT`]) until run `run_id` is final, looking every [`POLL`].
async fn until_final(db: &DatabaseConnection, run_id: i64) -> anyhow::Result<run::Model> {
    let deadline = Instant::now() + RUN_TIMEOUT;
    loop {
        let run = runs::get(db, run_id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("run {run_id} does not exist"))?;
        if RunState::parse(&run.state).is_some_and(RunState::is_final) {
            return Ok(run);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "run {run_id} still {}",
            run.state
        );
        tokio::time::sleep(POLL).await;
    }
}

/// Milliseconds between two of a run row's times (database clock).
fn between(
    from: Option<chrono::DateTime<chrono::FixedOffset>>,
    to: Option<chrono::DateTime<chrono::FixedOffset>>,
) -> f64 {
    match (from, to) {
        (Some(from), Some(to)) => (to - from).num_microseconds().unwrap_or(0) as f64 / 1000.0,
        _ => 0.0,
    }
}

/// `FERRY_BENCH_LOG_STATEMENTS_MS=N` makes Postgres log every statement of the window benchmark's
/// database that takes N ms or more (`log_min_duration_statement`; the server's own log), to see
/// what a delta's time is spent on. Set before the worker connects, so its sessions take it.
async fn log_statements(db: &DatabaseConnection) -> anyhow::Result<()> {
    let Some(ms) = std::env::var("FERRY_BENCH_LOG_STATEMENTS_MS")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
    else {
        return Ok(());
    };
    db.execute_unprepared(&format!(
        "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET log_min_duration_statement = {ms}', \
         current_database()); END $$"
    ))
    .await?;
    Ok(())
}

fn sandbox(rows: usize, sort_cost_us_per_row: u64) -> SandboxConfig {
    SandboxConfig {
        customers: rows,
        contacts: 1_000,
        accounts: 1,
        dv_contacts: 1,
        seed: 7,
        sort_cost_us_per_row,
        ..SandboxConfig::default()
    }
}

/// Seconds of one first load of `rows` customers, in key order or not.
async fn one_load(args: &Args, rows: usize, key_order: bool) -> anyhow::Result<f64> {
    let config = sandbox(rows, args.sort_cost_us_per_row);
    let mut env = BenchEnv::with_sandbox(&args.database_url, &args.redis_url, config).await?;
    let setting = if key_order { "true" } else { "false" };
    env.start_worker_with(&[("FERRY__WORKER__SCAN_IN_KEY_ORDER", setting)])?;
    let run_id = trigger(&env.db, &env.settings, "customers", Mode::Incremental).await?;
    let run = wait_for(&env.db, run_id, RUN_TIMEOUT).await?;
    anyhow::ensure!(
        run.status == "succeeded" && run.inserted == rows as i64,
        "first load did not succeed: {run:?}"
    );
    env.finish().await?;
    Ok(run.duration_ms.unwrap_or(0) as f64 / 1000.0)
}

pub async fn first_load(args: &Args, rows: usize) -> anyhow::Result<FirstLoadFigures> {
    let (mut keyed, mut versioned) = (vec![], vec![]);
    for repetition in 0..args.repeat {
        eprintln!(
            "first load of {rows} rows at {} µs/row per version sort, repetition {}",
            args.sort_cost_us_per_row,
            repetition + 1
        );
        keyed.push(one_load(args, rows, true).await?);
        versioned.push(one_load(args, rows, false).await?);
    }
    Ok(FirstLoadFigures {
        rows,
        sort_cost_us_per_row: args.sort_cost_us_per_row,
        key_order_s: median(&mut keyed),
        version_order_s: median(&mut versioned),
    })
}

/// One load of `rows`, then `args.repeat` deltas of `args.delta` changed rows each, trigger →
/// finished. The sandbox charges no sort cost here: the figure is Ferry's own.
pub async fn window(args: &Args, rows: usize) -> anyhow::Result<WindowFigures> {
    eprintln!("overlap window: loading {rows} rows");
    let mut env =
        BenchEnv::with_sandbox(&args.database_url, &args.redis_url, sandbox(rows, 0)).await?;
    log_statements(&env.db).await?;
    env.start_worker()?;
    let run_id = trigger(&env.db, &env.settings, "customers", Mode::Incremental).await?;
    let run = wait_for(&env.db, run_id, RUN_TIMEOUT).await?;
    anyhow::ensure!(run.status == "succeeded", "load did not succeed: {run:?}");
    // The first delta after a load reads the window the load's high-water mark leaves; take it out
    // of the measurement, as a worker that has run before would have.
    let run_id = trigger(&env.db, &env.settings, "customers", Mode::Incremental).await?;
    wait_for(&env.db, run_id, RUN_TIMEOUT).await?;
    let (mut deltas, mut queued, mut claimed) = (Vec::new(), Vec::new(), Vec::new());
    for repetition in 0..args.repeat {
        eprintln!(
            "overlap window: delta of {} rows, repetition {}",
            args.delta,
            repetition + 1
        );
        env.sandbox.mutate(MutateRequest {
            entity: "RescoCustomer".into(),
            insert: 0,
            update: args.delta,
            delete: 0,
        })?;
        let started = Instant::now();
        let run_id = trigger(&env.db, &env.settings, "customers", Mode::Incremental).await?;
        let delta = until_final(&env.db, run_id).await?;
        deltas.push(started.elapsed().as_secs_f64() * 1000.0);
        queued.push(between(Some(delta.queued_at), delta.finished_at));
        claimed.push(between(delta.started_at, delta.finished_at));
        anyhow::ensure!(
            delta.state == "succeeded" && delta.updated == args.delta as i64,
            "delta wrote {delta:?}"
        );
    }
    env.finish().await?;
    let (min, max) = (
        deltas.iter().copied().fold(f64::INFINITY, f64::min),
        deltas.iter().copied().fold(0.0, f64::max),
    );
    Ok(WindowFigures {
        rows,
        changed: args.delta,
        overlap: OVERLAP,
        delta_ms: median(&mut deltas),
        delta_ms_min: min,
        delta_ms_max: max,
        queued_to_finished_ms: median(&mut queued),
        claimed_to_finished_ms: median(&mut claimed),
    })
}

/// The overlap of `config/examples/customers.toml`, which the benchmark applies.
const OVERLAP: i64 = 10_000;

/// `--first-load`: both figures, printed.
pub async fn main(args: &Args) -> anyhow::Result<()> {
    let mut loads = Vec::new();
    // `--first-load 0`: the window's delta alone.
    for &rows in args.first_load.iter().filter(|&&rows| rows > 0) {
        loads.push(first_load(args, rows).await?);
    }
    let window = match args.window_rows {
        0 => None,
        rows => Some(window(args, rows).await?),
    };
    if args.json {
        let report = serde_json::json!({ "first_loads": loads, "window": window });
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!("machine: {}", super::machine());
    if !loads.is_empty() {
        print_loads(&loads);
    }
    if let Some(w) = window {
        println!(
            "\ndelta of {} rows in {} rows, overlap window {} versions: {:.0} ms trigger → finished (median; {:.0}–{:.0}); \
             on the database's clock {:.0} ms queued → finished, {:.0} ms claimed → finished",
            w.changed,
            w.rows,
            w.overlap,
            w.delta_ms,
            w.delta_ms_min,
            w.delta_ms_max,
            w.queued_to_finished_ms,
            w.claimed_to_finished_ms
        );
    }
    Ok(())
}

fn print_loads(loads: &[FirstLoadFigures]) {
    println!(
        "\n{:>10} {:>16} {:>16} {:>18} {:>8}",
        "ROWS", "SORT µs/row", "KEY ORDER s", "VERSION ORDER s", "SPEEDUP"
    );
    for f in loads {
        println!(
            "{:>10} {:>16} {:>16.2} {:>18.2} {:>7.1}×",
            f.rows,
            f.sort_cost_us_per_row,
            f.key_order_s,
            f.version_order_s,
            f.version_order_s / f.key_order_s.max(0.001)
        );
    }
}
