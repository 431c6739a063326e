//! The command line: argument parsing and dispatch. Each command lives in its own file.

mod apply;
mod errors;
mod preview;
mod queue;
mod run;
mod runs;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ferry_shared::settings::Settings;

pub use apply::apply;
pub use run::{RunOptions, trigger, wait_for};
pub use runs::print_runs;

/// Keeps your database in step with Business Central.
#[derive(Debug, Parser)]
#[command(name = "ferry", version)]
pub struct Args {
    /// Settings file layered over the defaults (environment variables FERRY__… still win).
    #[arg(long, global = true, env = "FERRY_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate definition files and store them; nothing is stored when any file has an error.
    Apply {
        /// Definition files, or folders of *.toml files.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Start a run of an integration and print its id (or, with --wait, its summary).
    Run(RunOptions),
    /// List the records a run could not write, with the reason and the source payload.
    Errors {
        run_id: i64,
        /// One JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show what the next run would do, record by record, writing nothing.
    Preview(preview::PreviewArgs),
    /// List recent runs, newest first.
    Runs {
        /// Only runs of this integration.
        integration: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: u64,
        /// One JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Serve the API and, when leading, enqueue cron ticks and recover lost runs, until stopped.
    Scheduler,
    /// Execute runs from the queue in this process (the same as `ferry-worker`), until stopped.
    Worker,
    /// Queue depth: runs queued, retrying, running and dead per integration, workers alive.
    Queue {
        /// One JSON object instead of tables.
        #[arg(long)]
        json: bool,
    },
}

/// Runs one command; the exit code says whether it did what was asked.
pub async fn main(args: Args) -> ExitCode {
    let settings = match Settings::load(args.config.as_deref()) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    ferry_shared::telemetry::init(&settings.log);
    let result = match args.command {
        Command::Apply { paths } => apply::command(&settings, &paths).await,
        Command::Run(options) => run::command(&settings, options).await,
        Command::Errors { run_id, json } => errors::command(&settings, run_id, json).await,
        Command::Preview(args) => preview::command(&settings, args).await,
        Command::Runs {
            integration,
            limit,
            json,
        } => runs::command(&settings, integration.as_deref(), limit, json).await,
        Command::Scheduler => crate::service::run(settings, ferry_shared::shutdown::signal())
            .await
            .map(|_| ExitCode::SUCCESS),
        Command::Worker => ferry_worker::run(settings, ferry_shared::shutdown::signal())
            .await
            .map(|_| ExitCode::SUCCESS),
        Command::Queue { json } => queue::command(&settings, json).await,
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
