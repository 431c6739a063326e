//! Memory on the paths that walk what is owed (invariant 5): a reconcile of the whole key set and a
//! `--retry-failed` of one open failure per row, each in a fresh `ferry worker` process so its peak
//! RSS is that path's alone.

use std::time::Duration;

use ferry_sandbox::MutateRequest;
use ferry_shared::runs::Mode;
use ferry_shared::storage::statement;
use sea_orm::{ConnectionTrait, Value};
use serde::Serialize;

use super::{Args, BenchEnv};
use crate::cli::{trigger, wait_for};

const RUN_TIMEOUT: Duration = Duration::from_secs(3600);

/// One size's figures.
#[derive(Debug, Serialize)]
pub struct OwedFigures {
    pub rows: usize,
    /// Peak RSS of a worker reconciling `rows` source keys (1 % vanished).
    pub reconcile_peak_rss_mb: f64,
    pub reconcile_ms: i64,
    /// Peak RSS of a worker replaying one open failure per remaining row.
    pub retry_peak_rss_mb: f64,
    pub retry_failures: usize,
    pub retry_ms: i64,
}

pub async fn owed(args: &Args, rows: usize) -> anyhow::Result<OwedFigures> {
    eprintln!("reconcile and --retry-failed over {rows} rows");
    let mut env = BenchEnv::start(&args.database_url, &args.redis_url, rows).await?;
    env.start_worker()?;
    let import = run(&env, Mode::Incremental).await?;
    anyhow::ensure!(import.inserted == rows as i64, "import wrote {import:?}");
    env.stop_worker().await;

    let vanish = rows / 100;
    env.sandbox.mutate(MutateRequest {
        entity: "RescoCustomer".into(),
        insert: 0,
        update: 0,
        delete: vanish,
    })?;
    env.start_worker()?;
    let reconcile = run(&env, Mode::Reconcile).await?;
    anyhow::ensure!(
        reconcile.deleted == vanish as i64,
        "reconcile deleted {reconcile:?}"
    );
    let reconcile_peak_rss_mb = env.worker_peak_rss_mb();
    env.stop_worker().await;

    let failures = record_failures(&env, import.run_id).await?;
    env.start_worker()?;
    let retry = run(&env, Mode::RetryFailed).await?;
    anyhow::ensure!(
        retry.rows_read == failures as i64,
        "retry read {retry:?} of {failures} failures"
    );
    let retry_peak_rss_mb = env.worker_peak_rss_mb();
    env.finish().await?;
    Ok(OwedFigures {
        rows,
        reconcile_peak_rss_mb,
        reconcile_ms: reconcile.duration_ms.unwrap_or(0),
        retry_peak_rss_mb,
        retry_failures: failures,
        retry_ms: retry.duration_ms.unwrap_or(0),
    })
}

async fn run(env: &BenchEnv, mode: Mode) -> anyhow::Result<ferry_shared::runs::RunSummary> {
    let run_id = trigger(&env.db, &env.settings, "customers", mode).await?;
    let run = wait_for(&env.db, run_id, RUN_TIMEOUT).await?;
    anyhow::ensure!(run.status == "succeeded", "{mode:?} run failed: {run:?}");
    Ok(run)
}

/// One open failure per source row, recorded under `run_id` as the writer records one: the record key,
/// a message, the source row as read (its payload) and the mapped values.
async fn record_failures(env: &BenchEnv, run_id: i64) -> anyhow::Result<usize> {
    let rows = env.sandbox.rows("RescoCustomer");
    let now = chrono::Utc::now().fixed_offset();
    for chunk in rows.chunks(2_000) {
        let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * 7);
        for row in chunk {
            values.extend([
                run_id.into(),
                "customers".into(),
                row["No"].as_str().unwrap_or_default().into(),
                "name: benchmark failure".into(),
                serde_json::to_string(row)?.into(),
                "{}".into(),
                now.into(),
            ]);
        }
        let tuples = vec!["(?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
        env.db
            .execute_raw(statement(
                env.db.get_database_backend(),
                &format!(
                    "INSERT INTO ferry_run_errors (run_id, integration, record_key, message, payload, \
                     mapped, created_at) VALUES {tuples}"
                ),
                values,
            ))
            .await?;
    }
    Ok(rows.len())
}
