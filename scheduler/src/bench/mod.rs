//! The benchmark behind `ferry-bench`: every figure is measured against real PostgreSQL, Redis and the BC
//! sandbox on this machine, each as the median of several repetitions, with the physical reference
//! (`COPY` of the same rows into the same database) measured in the same run.

mod bullmq;
mod cpu;
mod env;
mod export;
mod first_load;
mod fleet;
mod measure;
mod owed;

use clap::Parser;
use serde::Serialize;

pub use env::BenchEnv;

/// Measures Ferry's full import, delta, memory and dispatch latency.
#[derive(Debug, Parser)]
#[command(name = "ferry-bench", version)]
pub struct Args {
    /// Entity sizes for the full import (RescoCustomer rows).
    #[arg(long, value_delimiter = ',', default_values_t = vec![100_000usize, 1_000_000])]
    pub rows: Vec<usize>,
    /// Repetitions per figure; the median is reported.
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
    /// Entity sizes for the Dataverse full import (accounts, by change tracking); the flag alone:
    /// none.
    #[arg(long, value_delimiter = ',', num_args = 0.., default_values_t = vec![100_000usize])]
    pub dataverse_rows: Vec<usize>,
    /// Local rows for the export throughput (to Business Central and to Dataverse); the flag alone:
    /// none.
    #[arg(long, value_delimiter = ',', num_args = 0.., default_values_t = vec![10_000usize])]
    pub export_rows: Vec<usize>,
    /// Changed rows for the delta measurement.
    #[arg(long, default_value_t = 1_000)]
    pub delta: usize,
    /// Samples for the dispatch latency.
    #[arg(long, default_value_t = 50)]
    pub samples: usize,
    /// No-op jobs pushed for the queue throughput (Ferry's and BullMQ's alike).
    #[arg(long, default_value_t = 10_000)]
    pub jobs: usize,
    /// Jobs one worker handles at once for the queue throughput, Ferry's and BullMQ's alike (2 is
    /// the default `worker.concurrency`).
    #[arg(long, default_value_t = 2)]
    pub queue_concurrency: usize,
    /// Producer tasks pushing the queue throughput's jobs, each awaiting its push before the next.
    #[arg(long, default_value_t = 16)]
    pub queue_pushers: usize,
    /// A PostgreSQL database where benchmark databases can be created.
    #[arg(
        long,
        env = "FERRY_TEST_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pub database_url: String,
    #[arg(
        long,
        env = "FERRY_TEST_REDIS_URL",
        default_value = "redis://127.0.0.1:6379"
    )]
    pub redis_url: String,
    /// Instead of the other figures: the worker's peak RSS reconciling an entity of each size and
    /// replaying one open failure per row (`--retry-failed`), each in a fresh worker process.
    #[arg(long, value_delimiter = ',')]
    pub owed: Vec<usize>,
    /// Instead of the other figures: the first load of an entity of each size in key order against
    /// the version-ordered read, under `--sort-cost-us-per-row`, and the `--window-rows` delta
    /// (`--first-load 0`: the delta alone).
    #[arg(long, value_delimiter = ',')]
    pub first_load: Vec<usize>,
    /// Microseconds the sandbox charges per row of the entity to a query ordered by the row version
    /// (BC sorts an unindexed `RowVersionNumber` for every such page), with `--first-load`.
    #[arg(long, default_value_t = 1)]
    pub sort_cost_us_per_row: u64,
    /// With `--first-load`: the entity size for the `--delta`-row delta behind the example's
    /// 10,000-version overlap window (0: none).
    #[arg(long, default_value_t = 1_000_000)]
    pub window_rows: usize,
    /// Instead of the other figures: a fleet of this many generated integrations on a one-minute
    /// schedule, run by the leader and four worker processes (`bench/fleet.rs`); several sizes run
    /// one after the other.
    #[arg(long, value_delimiter = ',')]
    pub fleet: Vec<usize>,
    /// With `--fleet`: the minutes measured, after the first minute (of first loads).
    #[arg(long, default_value_t = 2)]
    pub fleet_minutes: usize,
    /// With `--fleet`: runs each worker process executes at once.
    #[arg(long, default_value_t = 4)]
    pub fleet_concurrency: usize,
    /// Instead of the other figures: only the no-op queue throughput, Ferry's against BullMQ's.
    #[arg(long)]
    pub queue_only: bool,
    /// One JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// One size's results.
#[derive(Debug, Serialize)]
pub struct ImportFigures {
    pub rows: usize,
    pub import_rows_per_sec: f64,
    pub copy_rows_per_sec: f64,
    /// Ferry's import throughput as a share of COPY's.
    pub share_of_copy: f64,
    pub delta_ms: f64,
    pub worker_peak_rss_mb: f64,
    /// CPU seconds of the import per process (median over repetitions), so a slow import names its
    /// bottleneck: the sandbox serving pages, the worker, or Postgres.
    pub cpu: cpu::CpuSplit,
}

/// One size's results for Dataverse accounts (change tracking: the delta follows a delta link).
#[derive(Debug, Serialize)]
pub struct DataverseFigures {
    pub rows: usize,
    pub import_rows_per_sec: f64,
    pub delta_ms: f64,
    pub worker_peak_rss_mb: f64,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub machine: String,
    pub imports: Vec<ImportFigures>,
    pub dataverse: Vec<DataverseFigures>,
    pub exports: Vec<export::ExportFigures>,
    pub dispatch_p50_ms: f64,
    pub dispatch_p99_ms: f64,
    pub queue: measure::QueueFigures,
}

pub async fn main(args: Args) -> anyhow::Result<()> {
    if !args.owed.is_empty() {
        return owed_main(&args).await;
    }
    if !args.first_load.is_empty() {
        return first_load::main(&args).await;
    }
    if !args.fleet.is_empty() {
        return fleet::main(&args).await;
    }
    if args.queue_only {
        let queue = measure::queue_path(&args).await?;
        return print_queue(&queue, args.json);
    }
    let mut imports = Vec::new();
    for &rows in &args.rows {
        imports.push(measure::import(&args, rows).await?);
    }
    let mut dataverse = Vec::new();
    for &rows in &args.dataverse_rows {
        dataverse.push(measure::dataverse(&args, rows).await?);
    }
    let mut exports = Vec::new();
    for &rows in &args.export_rows {
        exports.push(export::export(&args, rows).await?);
    }
    let (p50, p99) = measure::dispatch(&args).await?;
    let queue = measure::queue_path(&args).await?;
    let report = Report {
        machine: machine(),
        imports,
        dataverse,
        exports,
        dispatch_p50_ms: p50,
        dispatch_p99_ms: p99,
        queue,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&report);
    }
    Ok(())
}

/// `--owed`: the memory of the paths that walk what is owed, per size.
async fn owed_main(args: &Args) -> anyhow::Result<()> {
    let mut figures = Vec::new();
    for &rows in &args.owed {
        figures.push(owed::owed(args, rows).await?);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&figures)?);
        return Ok(());
    }
    println!("machine: {}", machine());
    println!(
        "\n{:>10} {:>18} {:>13} {:>10} {:>14} {:>10}",
        "ROWS", "RECONCILE RSS MB", "RECONCILE ms", "FAILURES", "RETRY RSS MB", "RETRY ms"
    );
    for f in &figures {
        println!(
            "{:>10} {:>18.1} {:>13} {:>10} {:>14.1} {:>10}",
            f.rows,
            f.reconcile_peak_rss_mb,
            f.reconcile_ms,
            f.retry_failures,
            f.retry_peak_rss_mb,
            f.retry_ms
        );
    }
    Ok(())
}

fn print_table(report: &Report) {
    println!("machine: {}", report.machine);
    println!(
        "\n{:>10} {:>14} {:>14} {:>9} {:>10} {:>14}",
        "ROWS", "IMPORT rows/s", "COPY rows/s", "OF COPY", "DELTA ms", "WORKER RSS MB"
    );
    for i in &report.imports {
        println!(
            "{:>10} {:>14.0} {:>14.0} {:>8.0}% {:>10.0} {:>14.1}",
            i.rows,
            i.import_rows_per_sec,
            i.copy_rows_per_sec,
            i.share_of_copy * 100.0,
            i.delta_ms,
            i.worker_peak_rss_mb
        );
    }
    println!(
        "\n{:>10} {:>13} {:>13} {:>14} {:>19}",
        "ROWS", "WORKER cpu s", "SANDBOX cpu s", "POSTGRES cpu s", "SANDBOX rows/cpu-s"
    );
    for i in &report.imports {
        println!(
            "{:>10} {:>13.2} {:>13.2} {:>14.2} {:>19.0}",
            i.rows,
            i.cpu.worker_s,
            i.cpu.sandbox_s,
            i.cpu.postgres_s,
            i.rows as f64 / i.cpu.sandbox_s.max(0.01)
        );
    }
    if !report.dataverse.is_empty() {
        println!(
            "\n{:>10} {:>24} {:>10} {:>14}",
            "ACCOUNTS", "DATAVERSE IMPORT rows/s", "DELTA ms", "WORKER RSS MB"
        );
    }
    for d in &report.dataverse {
        println!(
            "{:>10} {:>24.0} {:>10.0} {:>14.1}",
            d.rows, d.import_rows_per_sec, d.delta_ms, d.worker_peak_rss_mb
        );
    }
    if !report.exports.is_empty() {
        println!(
            "\n{:>10} {:>16} {:>16} {:>16} {:>16} {:>14}",
            "EXPORTED", "BC create/s", "BC update/s", "DV create/s", "DV update/s", "WORKER RSS MB"
        );
    }
    for e in &report.exports {
        println!(
            "{:>10} {:>16.0} {:>16.0} {:>16.0} {:>16.0} {:>14.1}",
            e.rows,
            e.bc_create_per_sec,
            e.bc_update_per_sec,
            e.dataverse_create_per_sec,
            e.dataverse_update_per_sec,
            e.worker_peak_rss_mb
        );
    }
    println!(
        "\ndispatch (trigger → run started): p50 {:.1} ms, p99 {:.1} ms",
        report.dispatch_p50_ms, report.dispatch_p99_ms
    );
    print_queue(&report.queue, false).ok();
}

/// The queue throughput's line (or its JSON).
fn print_queue(q: &measure::QueueFigures, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(q)?);
        return Ok(());
    }
    println!(
        "no-op jobs through the queue ({} jobs, concurrency {}, {} pushers each): Ferry {:.0} jobs/s, \
         BullMQ {} {:.0} jobs/s, Ferry at {:.0} % of BullMQ",
        q.jobs,
        q.concurrency,
        q.pushers,
        q.ferry_jobs_per_sec,
        q.bullmq_version,
        q.bullmq_jobs_per_sec,
        q.share_of_bullmq * 100.0
    );
    Ok(())
}

/// CPU model and core count, for the record.
fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    format!("{cpu}, {cores} cores")
}

/// The median of `values` (sorted in place).
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// The `q` quantile (0..1) of `values` (sorted in place).
pub fn quantile(values: &mut [f64], q: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    if values.is_empty() {
        return 0.0;
    }
    let at = ((values.len() - 1) as f64 * q).round() as usize;
    values[at]
}
