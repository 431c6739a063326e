//! `ferry-bench --first-load`: a first load of a Business Central entity whose row version has no
//! index (the sandbox charges `--sort-cost-us-per-row` per row of the entity to every query ordered by
//! the version), read in key order after one high-water query (`sync/scan.rs`) against the
//! version-ordered read of before (`worker.scan_in_key_order = false`), each in a fresh world; and a
//! 1,000-row delta behind a 10,000-version overlap window read by key and version (`sync/window.rs`).

use std::time::{Duration, Instant};

use ferry_sandbox::{MutateRequest, SandboxConfig};
use ferry_shared::runs::Mode;
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
    /// Trigger → finished, median.
    pub delta_ms: f64,
    pub delta_ms_min: f64,
    pub delta_ms_max: f64,
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
    env.start_worker()?;
    let run_id = trigger(&env.db, &env.settings, "customers", Mode::Incremental).await?;
    let run = wait_for(&env.db, run_id, RUN_TIMEOUT).await?;
    anyhow::ensure!(run.status == "succeeded", "load did not succeed: {run:?}");
    // The first delta after a load reads the window the load's high-water mark leaves; take it out
    // of the measurement, as a worker that has run before would have.
    let run_id = trigger(&env.db, &env.settings, "customers", Mode::Incremental).await?;
    wait_for(&env.db, run_id, RUN_TIMEOUT).await?;
    let mut deltas = Vec::new();
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
        let delta = wait_for(&env.db, run_id, RUN_TIMEOUT).await?;
        deltas.push(started.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(delta.updated == args.delta as i64, "delta wrote {delta:?}");
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
    })
}

/// The overlap of `config/examples/customers.toml`, which the benchmark applies.
const OVERLAP: i64 = 10_000;

/// `--first-load`: both figures, printed.
pub async fn main(args: &Args) -> anyhow::Result<()> {
    let mut loads = Vec::new();
    for &rows in &args.first_load {
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
    println!(
        "\n{:>10} {:>16} {:>16} {:>18} {:>8}",
        "ROWS", "SORT µs/row", "KEY ORDER s", "VERSION ORDER s", "SPEEDUP"
    );
    for f in &loads {
        println!(
            "{:>10} {:>16} {:>16.2} {:>18.2} {:>7.1}×",
            f.rows,
            f.sort_cost_us_per_row,
            f.key_order_s,
            f.version_order_s,
            f.version_order_s / f.key_order_s.max(0.001)
        );
    }
    if let Some(w) = window {
        println!(
            "\ndelta of {} rows in {} rows, overlap window {} versions: {:.0} ms trigger → finished (median; {:.0}–{:.0})",
            w.changed, w.rows, w.overlap, w.delta_ms, w.delta_ms_min, w.delta_ms_max
        );
    }
    Ok(())
}
