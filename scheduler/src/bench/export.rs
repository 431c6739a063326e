//! Export throughput: local rows created, then changed, and exported through one `ferry worker` to
//! Business Central (JSON `$batch` of 100, `Isolation: snapshot`) and to Dataverse (multipart
//! `$batch` of 1,000, continue-on-error), against the sandbox over real HTTP.

use std::time::Duration;

use ferry_shared::runs::{Mode, RunSummary};
use sea_orm::ConnectionTrait;
use serde::Serialize;

use super::{Args, BenchEnv, median};
use crate::cli::{trigger, wait_for};

const RUN_TIMEOUT: Duration = Duration::from_secs(1800);

/// Records per second for one size, median of `--repeat`.
#[derive(Debug, Serialize)]
pub struct ExportFigures {
    pub rows: usize,
    /// New local rows created remotely (a lookup GET and a POST `$batch` per page of 100).
    pub bc_create_per_sec: f64,
    /// Changed local rows PATCHed with `If-Match`.
    pub bc_update_per_sec: f64,
    /// New local rows created by PATCH with `If-None-Match: *`, 1,000 per batch.
    pub dataverse_create_per_sec: f64,
    pub dataverse_update_per_sec: f64,
    pub worker_peak_rss_mb: f64,
}

const DEFINITIONS: &str = r#"
[[integration]]
name = "bc_out"
connection = "bc"
direction = "export"
source = { entity = "RescoCustomer", key = ["No"], version = "RowVersionNumber" }
target = { table = "bc_out", key = ["no"] }
fields = [
  { from = "No", to = "no" },
  { from = "Name", to = "name" },
  { from = "City", to = "city" },
]

[[integration]]
name = "dv_out"
connection = "dataverse"
direction = "export"
source = { entity = "accounts", key = ["accountid"], version = "versionnumber" }
target = { table = "dv_out", key = ["id"] }
fields = [
  { from = "accountid", to = "id" },
  { from = "name", to = "name" },
  { from = "telephone1", to = "phone" },
]
"#;

pub async fn export(args: &Args, rows: usize) -> anyhow::Result<ExportFigures> {
    let mut figures: [Vec<f64>; 5] = Default::default();
    for repetition in 0..args.repeat {
        eprintln!("export, {rows} rows, repetition {}", repetition + 1);
        let mut env = BenchEnv::start(&args.database_url, &args.redis_url, 1).await?;
        env.start_worker()?;
        env.db
            .execute_unprepared(
                "CREATE TABLE bc_out (no varchar(20) PRIMARY KEY, name text, city text); \
                 CREATE TABLE dv_out (id varchar(36) PRIMARY KEY, name text, phone text)",
            )
            .await?;
        let file = env.file("export.toml", DEFINITIONS)?;
        if let Err(errors) = crate::cli::apply(&env.db, &[file]).await? {
            anyhow::bail!("export definitions invalid: {errors:?}");
        }
        env.db
            .execute_unprepared(&format!(
                "INSERT INTO bc_out SELECT 'X' || lpad(g::text, 8, '0'), 'Name ' || g, 'Lisbon' \
                 FROM generate_series(1, {rows}) g; \
                 INSERT INTO dv_out SELECT '00000000-0000-4000-8000-' || lpad(g::text, 12, '0'), \
                 'Account ' || g, '+351 ' || g FROM generate_series(1, {rows}) g"
            ))
            .await?;
        figures[0].push(per_sec(&env, "bc_out", rows, |r| r.export.map(|e| e.inserted)).await?);
        figures[2].push(per_sec(&env, "dv_out", rows, |r| r.export.map(|e| e.inserted)).await?);
        env.db
            .execute_unprepared(
                "UPDATE bc_out SET city = 'Porto'; UPDATE dv_out SET phone = phone || '0'",
            )
            .await?;
        figures[1].push(per_sec(&env, "bc_out", rows, |r| r.export.map(|e| e.updated)).await?);
        figures[3].push(per_sec(&env, "dv_out", rows, |r| r.export.map(|e| e.updated)).await?);
        figures[4].push(env.worker_peak_rss_mb());
        env.finish().await?;
    }
    let [mut bc_c, mut bc_u, mut dv_c, mut dv_u, mut rss] = figures;
    Ok(ExportFigures {
        rows,
        bc_create_per_sec: median(&mut bc_c),
        bc_update_per_sec: median(&mut bc_u),
        dataverse_create_per_sec: median(&mut dv_c),
        dataverse_update_per_sec: median(&mut dv_u),
        worker_peak_rss_mb: median(&mut rss),
    })
}

/// Runs an export of `integration` and returns the records written per second, checking that all
/// `rows` were written as `counted` says.
async fn per_sec(
    env: &BenchEnv,
    integration: &str,
    rows: usize,
    counted: impl Fn(&RunSummary) -> Option<i64>,
) -> anyhow::Result<f64> {
    let run_id = trigger(&env.db, &env.settings, integration, Mode::Incremental).await?;
    let run = wait_for(&env.db, run_id, RUN_TIMEOUT).await?;
    anyhow::ensure!(
        run.status == "succeeded" && counted(&run) == Some(rows as i64),
        "{integration} did not export every row: {run:?}"
    );
    let seconds = run.duration_ms.unwrap_or(1).max(1) as f64 / 1000.0;
    Ok(rows as f64 / seconds)
}
