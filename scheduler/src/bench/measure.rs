//! The measurements: full import vs COPY, delta, worker memory, dispatch latency, queue throughput.

use std::time::{Duration, Instant};

use ferry_sandbox::MutateRequest;
use ferry_shared::queue;
use ferry_shared::runs::Mode;
use futures::StreamExt;
use sea_orm::sqlx::postgres::PgPoolCopyExt;
use sea_orm::{ConnectionTrait, DatabaseConnection};

use super::cpu::{CpuSnapshot, CpuSplit};
use super::{Args, BenchEnv, DataverseFigures, ImportFigures, median, quantile};
use crate::cli::{trigger, wait_for};

/// Longest any single measured run may take.
const RUN_TIMEOUT: Duration = Duration::from_secs(1800);

/// Full import of `rows` customers through one worker, the COPY reference, a delta, and peak RSS.
pub async fn import(args: &Args, rows: usize) -> anyhow::Result<ImportFigures> {
    let (mut imports, mut copies, mut deltas, mut rss) = (vec![], vec![], vec![], vec![]);
    let mut splits: Vec<CpuSplit> = Vec::new();
    for repetition in 0..args.repeat {
        eprintln!("full import of {rows} rows, repetition {}", repetition + 1);
        let mut env = BenchEnv::start(&args.database_url, &args.redis_url, rows).await?;
        let worker = env.start_worker()?;
        let before = CpuSnapshot::take(&env.db, worker).await;
        let run_id = trigger(&env.db, &env.settings, "customers", Mode::Incremental).await?;
        let run = wait_for(&env.db, run_id, RUN_TIMEOUT).await?;
        splits.push(before.until(&CpuSnapshot::take(&env.db, worker).await));
        anyhow::ensure!(
            run.status == "succeeded" && run.inserted == rows as i64,
            "import did not succeed: {run:?}"
        );
        let seconds = run.duration_ms.unwrap_or(1).max(1) as f64 / 1000.0;
        imports.push(rows as f64 / seconds);
        copies.push(copy_rate(&env.db).await?);

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
        rss.push(env.worker_peak_rss_mb());
        env.finish().await?;
    }
    let cpu = |part: fn(&CpuSplit) -> f64| median(&mut splits.iter().map(part).collect::<Vec<_>>());
    let cpu = CpuSplit {
        worker_s: cpu(|c| c.worker_s),
        sandbox_s: cpu(|c| c.sandbox_s),
        postgres_s: cpu(|c| c.postgres_s),
    };
    let import_rows_per_sec = median(&mut imports);
    let copy_rows_per_sec = median(&mut copies);
    Ok(ImportFigures {
        rows,
        import_rows_per_sec,
        copy_rows_per_sec,
        share_of_copy: import_rows_per_sec / copy_rows_per_sec,
        delta_ms: median(&mut deltas),
        worker_peak_rss_mb: median(&mut rss),
        cpu,
    })
}

/// Full import of `rows` Dataverse accounts by change tracking through one worker, then a delta
/// of `args.delta` changed accounts followed through the stored delta link, and the worker's peak RSS.
pub async fn dataverse(args: &Args, rows: usize) -> anyhow::Result<DataverseFigures> {
    let (mut imports, mut deltas, mut rss) = (vec![], vec![], vec![]);
    for repetition in 0..args.repeat {
        eprintln!(
            "Dataverse accounts, {rows} rows, repetition {}",
            repetition + 1
        );
        let config = ferry_sandbox::SandboxConfig {
            customers: 1,
            contacts: 1,
            accounts: rows,
            dv_contacts: 1,
            seed: 7,
            ..Default::default()
        };
        let mut env = BenchEnv::with_sandbox(&args.database_url, &args.redis_url, config).await?;
        env.start_worker()?;
        let run_id = trigger(&env.db, &env.settings, "accounts", Mode::Incremental).await?;
        let run = wait_for(&env.db, run_id, RUN_TIMEOUT).await?;
        anyhow::ensure!(
            run.status == "succeeded" && run.inserted == rows as i64,
            "import did not succeed: {run:?}"
        );
        let seconds = run.duration_ms.unwrap_or(1).max(1) as f64 / 1000.0;
        imports.push(rows as f64 / seconds);

        env.sandbox.mutate(MutateRequest {
            entity: "account".into(),
            insert: 0,
            update: args.delta,
            delete: 0,
        })?;
        let started = Instant::now();
        let run_id = trigger(&env.db, &env.settings, "accounts", Mode::Incremental).await?;
        let delta = wait_for(&env.db, run_id, RUN_TIMEOUT).await?;
        deltas.push(started.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(delta.updated == args.delta as i64, "delta wrote {delta:?}");
        rss.push(env.worker_peak_rss_mb());
        env.finish().await?;
    }
    Ok(DataverseFigures {
        rows,
        import_rows_per_sec: median(&mut imports),
        delta_ms: median(&mut deltas),
        worker_peak_rss_mb: median(&mut rss),
    })
}

/// The physical reference: `COPY` of the rows Ferry just wrote into a table of the same shape (same
/// primary key) in the same database.
async fn copy_rate(db: &DatabaseConnection) -> anyhow::Result<f64> {
    let pool = db.get_postgres_connection_pool();
    let mut data = Vec::new();
    let mut out = pool
        .copy_out_raw("COPY customer TO STDOUT (FORMAT csv)")
        .await?;
    while let Some(chunk) = out.next().await {
        data.extend_from_slice(&chunk?);
    }
    drop(out);
    db.execute_unprepared("CREATE TABLE customer_copy (LIKE customer INCLUDING ALL)")
        .await?;
    let started = Instant::now();
    let mut copy = pool
        .copy_in_raw("COPY customer_copy FROM STDIN (FORMAT csv)")
        .await?;
    for chunk in data.chunks(1 << 20) {
        copy.send(chunk).await?;
    }
    let rows = copy.finish().await?;
    Ok(rows as f64 / started.elapsed().as_secs_f64())
}

/// Trigger → run started on an idle system (p50, p99 in ms), and no-op jobs through the queue path
/// (push → claim refused → acked) per second.
pub async fn dispatch(args: &Args) -> anyhow::Result<(f64, f64, f64)> {
    eprintln!("dispatch latency, {} samples", args.samples);
    let mut env = BenchEnv::start(&args.database_url, &args.redis_url, 1_000).await?;
    env.start_worker()?;
    let first = trigger(&env.db, &env.settings, "customers", Mode::Incremental).await?;
    wait_for(&env.db, first, RUN_TIMEOUT).await?;
    let mut latencies = Vec::with_capacity(args.samples);
    for _ in 0..args.samples {
        let run_id = trigger(&env.db, &env.settings, "customers", Mode::Incremental).await?;
        let run = wait_for(&env.db, run_id, RUN_TIMEOUT).await?;
        if let Some(started) = run.started_at {
            latencies
                .push((started - run.queued_at).num_microseconds().unwrap_or(0) as f64 / 1000.0);
        }
    }
    let p50 = quantile(&mut latencies, 0.5);
    let p99 = quantile(&mut latencies, 0.99);

    eprintln!("queue throughput, {} no-op jobs", args.jobs);
    let mut storage = queue::storage(&env.settings.queue, Duration::from_secs(10)).await?;
    let before = queue::done_count(&mut storage).await?;
    let started = Instant::now();
    for _ in 0..args.jobs {
        queue::push(&mut storage, first, None).await?;
    }
    let deadline = started + Duration::from_secs(300);
    loop {
        let done = queue::done_count(&mut storage).await?;
        if done >= before + args.jobs as u64 {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "no-op jobs did not drain in 300 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let rate = args.jobs as f64 / started.elapsed().as_secs_f64();
    env.finish().await?;
    Ok((p50, p99, rate))
}
