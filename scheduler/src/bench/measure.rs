//! The measurements: full import vs COPY, delta, worker memory, dispatch latency, queue throughput
//! against BullMQ's.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ferry_sandbox::MutateRequest;
use ferry_shared::queue::{self, SyncStorage};
use ferry_shared::runs::Mode;
use futures::StreamExt;
use sea_orm::sqlx::postgres::PgPoolCopyExt;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde::Serialize;

use super::bullmq::{Bullmq, Shape};
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

/// Trigger → run started on an idle system (p50, p99 in ms).
pub async fn dispatch(args: &Args) -> anyhow::Result<(f64, f64)> {
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
    env.finish().await?;
    Ok((p50, p99))
}

/// No-op jobs per second through Ferry's queue path and through BullMQ's on the same Redis, each the
/// median of `--repeat`, the two measured in turn within each repetition.
#[derive(Debug, Serialize)]
pub struct QueueFigures {
    pub jobs: usize,
    /// Jobs one worker process handles at once, the same for both.
    pub concurrency: usize,
    /// Producer loops, each awaiting its push before the next, the same for both.
    pub pushers: usize,
    pub ferry_jobs_per_sec: f64,
    pub bullmq_jobs_per_sec: f64,
    pub bullmq_version: String,
    /// Ferry's rate as a share of BullMQ's.
    pub share_of_bullmq: f64,
}

/// Ferry's queue path is the real one: `queue::push` → a `ferry worker` process fetches the job and
/// claims its run in the database (the run is finished, so the claim is refused and the job does
/// nothing) → the ack. BullMQ's is a no-op processor (`bullmq.rs`). Each rate runs from the first
/// push to the last ack.
pub async fn queue_path(args: &Args) -> anyhow::Result<QueueFigures> {
    let shape = Shape {
        jobs: args.jobs,
        concurrency: args.queue_concurrency.max(1),
        pushers: args.queue_pushers.max(1),
    };
    let bullmq = Bullmq::install().await?;
    let mut env = BenchEnv::start(&args.database_url, &args.redis_url, 1_000).await?;
    let concurrency = shape.concurrency.to_string();
    env.start_worker_with(&[("FERRY__WORKER__CONCURRENCY", &concurrency)])?;
    let finished = trigger(&env.db, &env.settings, "customers", Mode::Incremental).await?;
    let before = wait_for(&env.db, finished, RUN_TIMEOUT).await?;
    let mut storage = queue::storage(&env.settings.queue, Duration::from_secs(10)).await?;
    // One job first, so the worker is registered and connected before anything is timed.
    noop_jobs(&mut storage, finished, Shape { jobs: 1, ..shape }).await?;
    let (mut ferry, mut peer) = (vec![], vec![]);
    for repetition in 0..args.repeat {
        eprintln!(
            "queue path, {} no-op jobs, repetition {}",
            shape.jobs,
            repetition + 1
        );
        ferry.push(noop_jobs(&mut storage, finished, shape).await?);
        let prefix = format!("{}-bullmq-{repetition}", env.settings.queue.prefix);
        peer.push(bullmq.rate(&args.redis_url, &prefix, shape).await?);
    }
    // The database stayed the truth: every job found its run finished and left it as it was.
    let after = wait_for(&env.db, finished, RUN_TIMEOUT).await?;
    anyhow::ensure!(
        after.status == before.status && after.attempt == before.attempt,
        "a no-op job changed its run: {before:?} → {after:?}"
    );
    env.finish().await?;
    let ferry_jobs_per_sec = median(&mut ferry);
    let bullmq_jobs_per_sec = median(&mut peer);
    Ok(QueueFigures {
        jobs: shape.jobs,
        concurrency: shape.concurrency,
        pushers: shape.pushers,
        ferry_jobs_per_sec,
        bullmq_jobs_per_sec,
        bullmq_version: bullmq.version,
        share_of_bullmq: ferry_jobs_per_sec / bullmq_jobs_per_sec,
    })
}

/// Pushes `shape.jobs` jobs of run `run_id` from `shape.pushers` tasks and waits until the worker
/// acked them all; jobs per second from the first push to the last ack.
async fn noop_jobs(storage: &mut SyncStorage, run_id: i64, shape: Shape) -> anyhow::Result<f64> {
    let before = queue::done_count(storage).await?;
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let pushers: Vec<_> = (0..shape.pushers)
        .map(|_| {
            let (mut storage, next) = (storage.clone(), next.clone());
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < shape.jobs {
                    queue::push(&mut storage, run_id, None).await?;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for pusher in pushers {
        pusher.await??;
    }
    let deadline = started + Duration::from_secs(300);
    while queue::done_count(storage).await? < before + shape.jobs as u64 {
        anyhow::ensure!(
            Instant::now() < deadline,
            "no-op jobs did not drain in 300 s"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Ok(shape.jobs as f64 / started.elapsed().as_secs_f64())
}
