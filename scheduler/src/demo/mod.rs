//! `ferry demo`: Ferry doing its real job with nothing installed. A Business Central sandbox starts in
//! this process on a free loopback port, everything else lives in one SQLite file in the current folder
//! (`ferry-demo.db`: Ferry's tables, the queue and the synced tables), the example definitions of
//! `config/examples/` are applied, and their runs go through the real queue to real workers. It prints
//! one summary line per run and where the data is. `--keep-running` then stays up as `ferry serve`
//! would, on the examples' schedules, while the sandbox keeps changing a few rows.

mod examples;
mod summary;
mod watch;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use ferry_sandbox::{Sandbox, SandboxConfig};
use ferry_shared::runs::{Mode, RunSummary};
use ferry_shared::secrets::{Credentials, generate_key};
use ferry_shared::settings::Settings;
use ferry_shared::storage;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

pub use examples::{FIRST_WAVE, INTEGRATIONS, TABLES};

/// The demo's log filter: its output is the summary, so only problems are logged.
pub const LOG_LEVEL: &str = "warn";

/// The demo's database (and queue) file, in the current folder.
pub const DB_FILE: &str = "ferry-demo.db";

/// How long one run of the demo may take before the demo gives up on it.
const RUN_TIMEOUT: Duration = Duration::from_secs(600);

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Stay up afterwards: run the examples on their schedules, serve the API and /metrics, and let
    /// the sandbox change a few rows every few seconds. Stop with Ctrl-C.
    #[arg(long)]
    pub keep_running: bool,
    /// Workers in this process.
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
}

/// The sandbox the demo syncs from: deterministic (same seed, same rows), big enough to show a rate.
pub fn sandbox_config() -> SandboxConfig {
    SandboxConfig {
        customers: 5_000,
        contacts: 5_000,
        accounts: 1_000,
        dv_contacts: 2_000,
        seed: 42,
        sizes: BTreeMap::from([("RescoItem".to_string(), 2_000)]),
        ..SandboxConfig::default()
    }
}

/// Runs the demo; exit code 0 when every run succeeded.
pub async fn run(mut settings: Settings, args: DemoArgs) -> anyhow::Result<ExitCode> {
    let file = std::env::current_dir()
        .context("Failed to read the current folder")?
        .join(DB_FILE);
    start_fresh(&file)?;
    let url = format!("sqlite:{DB_FILE}");
    settings.database.url = url.clone();
    settings.queue.url = url;
    settings.queue.prefix = "ferry-demo".into();
    // A key for this process only: it seals the sandbox's client secret in the file and dies with us.
    settings.secrets.master_key = Some(generate_key());
    let sandbox = Sandbox::start("127.0.0.1:0".parse()?, sandbox_config())
        .await
        .context("Failed to start the sandbox")?;
    println!(
        "Business Central and Dataverse sandbox: {}",
        sandbox.base_url()
    );
    let db = storage::connect(&settings.database).await?;
    apply_examples(&db, &settings, &sandbox).await?;

    let stop = CancellationToken::new();
    let running = if args.keep_running {
        Some(watch::start(&mut settings, args.workers, stop.clone()).await?)
    } else {
        None
    };
    let workers: Vec<_> = match &running {
        Some(_) => Vec::new(),
        None => (0..args.workers.max(1))
            .map(|_| {
                tokio::spawn(ferry_worker::run(
                    settings.clone(),
                    stop.clone().cancelled_owned(),
                ))
            })
            .collect(),
    };

    println!("\n{}", summary::header());
    let mut ok = true;
    // Customers and accounts first: contacts look their customer (or account) up. The rest then run
    // side by side.
    let first = run_all(&db, &settings, &INTEGRATIONS[..FIRST_WAVE]).await?;
    let rest = run_all(&db, &settings, &INTEGRATIONS[FIRST_WAVE..]).await?;
    let mut last_run = 0;
    for run in first.iter().chain(&rest) {
        println!("{}", summary::line(run));
        ok &= run.status == "succeeded";
        last_run = last_run.max(run.run_id);
    }
    print_where(&db, &file, &sandbox).await?;

    if let Some(serving) = running {
        watch::watch(&db, &sandbox, last_run).await;
        stop.cancel();
        serving.await.ok();
    } else {
        stop.cancel();
        for worker in workers {
            worker.await.ok();
        }
    }
    db.close().await.ok();
    sandbox.stop().await;
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The demo owns its file: an earlier demo's database is replaced, so every demo starts from nothing.
fn start_fresh(file: &Path) -> anyhow::Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        let path = format!("{}{suffix}", file.display());
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("Failed to remove {path}")),
        }
    }
    Ok(())
}

/// Applies the examples (through a scratch folder, removed afterwards) and stores the sandbox's client
/// secret encrypted.
async fn apply_examples(
    db: &DatabaseConnection,
    settings: &Settings,
    sandbox: &Sandbox,
) -> anyhow::Result<()> {
    let scratch = std::env::temp_dir().join(format!("ferry-demo-{}", std::process::id()));
    let files = examples::write(&scratch, &sandbox.base_url())
        .context("Failed to write the example definitions")?;
    let applied =
        crate::cli::apply::apply_under(db, settings.secrets.env_prefix.as_deref(), &files).await;
    std::fs::remove_dir_all(&scratch).ok();
    if let Err(errors) = applied? {
        let errors: Vec<String> = errors.iter().map(ToString::to_string).collect();
        anyhow::bail!("the examples are invalid:\n  {}", errors.join("\n  "));
    }
    let credentials = Credentials::new(db.clone(), &settings.secrets)?;
    for connection in examples::CONNECTIONS {
        crate::cli::connection::set_secret(
            &credentials,
            connection,
            &SecretString::from(ferry_sandbox::routes::identity::CLIENT_SECRET),
        )
        .await?;
    }
    Ok(())
}

/// Triggers each integration (through the queue) and waits for every run to end.
async fn run_all(
    db: &DatabaseConnection,
    settings: &Settings,
    integrations: &[&str],
) -> anyhow::Result<Vec<RunSummary>> {
    let mut ids = Vec::new();
    for name in integrations {
        ids.push(crate::cli::run::trigger(db, settings, name, Mode::Incremental).await?);
    }
    let mut runs = Vec::new();
    for id in ids {
        runs.push(crate::cli::run::wait_for(db, id, RUN_TIMEOUT).await?);
    }
    Ok(runs)
}

/// Where the data is: the file, each table's rows beside the source's.
async fn print_where(
    db: &DatabaseConnection,
    file: &Path,
    sandbox: &Sandbox,
) -> anyhow::Result<()> {
    println!("\nData: {} (SQLite)", file.display());
    for (table, entity) in TABLES {
        let count = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                format!("SELECT count(*) FROM \"{table}\""),
            ))
            .await?
            .map(|row| row.try_get_by_index::<i64>(0))
            .transpose()?
            .unwrap_or(0);
        println!(
            "  table {table:<17} {count:>6} rows   (source {entity}: {} rows)",
            sandbox.rows(entity).len()
        );
    }
    println!(
        "Look inside: sqlite3 {DB_FILE} \"SELECT bc_no, name, customer_name FROM contact LIMIT 5\""
    );
    println!("Run history: FERRY__DATABASE__URL=sqlite:{DB_FILE} ferry runs");
    Ok(())
}
