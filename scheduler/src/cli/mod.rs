//! The command line: argument parsing and dispatch. Each command lives in its own file.

pub mod apply;
pub mod auth;
mod cancel;
mod check;
mod conflicts;
pub mod connection;
pub mod connections;
mod discover;
mod errors;
pub mod integrations;
mod keys;
pub mod lifecycle;
mod preview;
mod progress;
mod queue;
pub mod run;
mod runs;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ferry_shared::settings::Settings;

pub use apply::{apply, apply_under};
pub use auth::{AuthStatus, status as auth_status};
pub use connection::set_secret;
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
        /// Say what would change (per integration, field by field, and what it does to the
        /// checkpoint) and store nothing.
        #[arg(long)]
        dry_run: bool,
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
    /// List records changed on both sides that a two-way integration holds (`conflict = "manual"`),
    /// or resolve one.
    Conflicts(conflicts::ConflictsArgs),
    /// Cancel a run: a queued one at once, a running one after the page in hand.
    Cancel { run_id: i64 },
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
    /// List integrations: version, connection, schedule and next tick, enabled, last run and its age.
    Integrations {
        #[arg(long)]
        json: bool,
    },
    /// Print an integration's stored definition as TOML (what `apply` stored; `apply` takes it back).
    Show {
        name: String,
        /// This version instead of the current one.
        #[arg(long)]
        version: Option<i32>,
    },
    /// Stop scheduling an integration and refuse its triggers (runs already queued or running go on).
    Disable { name: String },
    /// Schedule an integration and accept its triggers again.
    Enable { name: String },
    /// Remove an integration from scheduling and triggering, cancelling its queued and running runs.
    /// Its runs, failures and target table stay; `apply` its definition to bring it back.
    Delete {
        name: String,
        /// Also drop the target table (with the integration's couplings and checkpoint).
        #[arg(long)]
        drop_target: bool,
    },
    /// List stored connections, the credentials stored for each (never their values) and who uses them.
    Connections {
        #[arg(long)]
        json: bool,
    },
    /// Serve the API and, when leading, enqueue cron ticks and recover lost runs, until stopped.
    Scheduler,
    /// Execute runs from the queue in this process (the same as `ferry-worker`), until stopped.
    Worker,
    /// One-process mode: the scheduler, the API and N workers in this process, until stopped.
    Serve {
        /// Workers to run in this process (each runs `worker.concurrency` runs at a time).
        #[arg(long, default_value_t = 2)]
        workers: usize,
    },
    /// See Ferry work with nothing installed: a sandbox Business Central, a SQLite file in the current
    /// folder, the example integrations run through the real queue and workers, and their summaries.
    Demo(crate::demo::DemoArgs),
    /// Queue depth: runs queued, retrying, running and dead per integration, workers alive.
    Queue {
        /// One JSON object instead of tables.
        #[arg(long)]
        json: bool,
    },
    /// Sign in to a connection (device code) or show who is signed in where.
    #[command(subcommand)]
    Auth(AuthCommand),
    /// Manage a stored connection's credentials.
    #[command(subcommand)]
    Connection(ConnectionCommand),
    /// Master keys that encrypt stored secrets.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// List a source's entity sets and fields, from a connection or a $metadata file.
    Discover {
        /// A stored connection (with --metadata, the first argument is the entity set instead).
        #[arg(required_unless_present = "metadata")]
        connection: Option<String>,
        /// Show only this entity set, with every field.
        entity: Option<String>,
        /// Read a $metadata (CSDL) file instead of a live service.
        #[arg(long)]
        metadata: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Check integrations against their live source and target table; exit 1 on any problem.
    Check {
        /// The integration to check (default: all, as with --all).
        #[arg(conflicts_with = "all")]
        integration: Option<String>,
        #[arg(long)]
        all: bool,
        /// Store a new version of INTEGRATION without the source fields that no longer exist.
        #[arg(long, value_name = "INTEGRATION", conflicts_with_all = ["integration", "all"])]
        clean_up: Option<String>,
        /// With --clean-up: the definition file of INTEGRATION; the lines to delete from it are named,
        /// so the next `ferry apply` of the file does not bring the removed fields back.
        #[arg(long, requires = "clean_up")]
        file: Option<PathBuf>,
        /// With --file: delete those lines from the file (nothing else in it changes).
        #[arg(long, requires = "file")]
        write: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Sign in with the device code flow and store the (encrypted) refresh token.
    Login { connection: String },
    /// Who is signed in to which connection, and until when. Never shows a token.
    Status {
        connection: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConnectionCommand {
    /// Store the connection's client secret, read from standard input, encrypted.
    SetSecret { name: String },
    /// Print a stored connection as TOML (no secret: a definition holds none).
    Show { name: String },
    /// Delete a stored connection and its credentials; refused while an integration uses it.
    Delete { name: String },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Print a new random master key (base64) for FERRY_MASTER_KEY.
    Generate,
    /// Re-encrypt every stored secret under the current key (older keys from FERRY_PREVIOUS_MASTER_KEYS).
    Rotate {
        #[arg(long)]
        json: bool,
    },
}

impl Command {
    /// Daemons log what they do at info; every other command prints its answer and only warnings.
    fn process(&self) -> ferry_shared::telemetry::Process {
        use ferry_shared::telemetry::Process;
        match self {
            Command::Scheduler | Command::Worker | Command::Serve { .. } => Process::Daemon,
            _ => Process::OneShot,
        }
    }
}

/// Runs one command; the exit code says whether it did what was asked.
pub async fn main(args: Args) -> ExitCode {
    let mut settings = match Settings::load(args.config.as_deref()) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Command::Demo(_) = args.command {
        // The demo's output is its summary; workers' routine lines would bury it.
        settings.log.level = Some(crate::demo::LOG_LEVEL.into());
    }
    ferry_shared::telemetry::init(&settings.log, args.command.process());
    let result = match args.command {
        Command::Apply { paths, dry_run } => apply::command(&settings, &paths, dry_run).await,
        Command::Run(options) => run::command(&settings, options).await,
        Command::Errors { run_id, json } => errors::command(&settings, run_id, json).await,
        Command::Preview(args) => preview::command(&settings, args).await,
        Command::Conflicts(args) => conflicts::command(&settings, args).await,
        Command::Cancel { run_id } => cancel::command(&settings, run_id).await,
        Command::Runs {
            integration,
            limit,
            json,
        } => runs::command(&settings, integration.as_deref(), limit, json).await,
        Command::Integrations { json } => integrations::list_command(&settings, json).await,
        Command::Show { name, version } => {
            integrations::show_command(&settings, &name, version).await
        }
        Command::Disable { name } => lifecycle::enable_command(&settings, &name, false).await,
        Command::Enable { name } => lifecycle::enable_command(&settings, &name, true).await,
        Command::Delete { name, drop_target } => {
            lifecycle::delete_command(&settings, &name, drop_target).await
        }
        Command::Connections { json } => connections::list_command(&settings, json).await,
        Command::Scheduler => crate::service::run(settings, ferry_shared::shutdown::signal())
            .await
            .map(|_| ExitCode::SUCCESS),
        Command::Worker => ferry_worker::run(settings, ferry_shared::shutdown::signal())
            .await
            .map(|_| ExitCode::SUCCESS),
        Command::Serve { workers } => {
            crate::serve::run(settings, workers, ferry_shared::shutdown::signal())
                .await
                .map(|_| ExitCode::SUCCESS)
        }
        Command::Demo(args) => crate::demo::run(settings, args).await,
        Command::Queue { json } => queue::command(&settings, json).await,
        Command::Auth(AuthCommand::Login { connection }) => {
            auth::login(&settings, &connection).await
        }
        Command::Auth(AuthCommand::Status { connection, json }) => {
            auth::status_command(&settings, connection.as_deref(), json).await
        }
        Command::Connection(ConnectionCommand::SetSecret { name }) => {
            connection::command(&settings, &name).await
        }
        Command::Connection(ConnectionCommand::Show { name }) => {
            connections::show_command(&settings, &name).await
        }
        Command::Connection(ConnectionCommand::Delete { name }) => {
            connections::delete_command(&settings, &name).await
        }
        Command::Keys(KeysCommand::Generate) => keys::generate(),
        Command::Keys(KeysCommand::Rotate { json }) => keys::rotate(&settings, json).await,
        Command::Discover {
            connection,
            entity,
            metadata,
            json,
        } => {
            let (from, entity) = match (&metadata, &connection) {
                (Some(file), _) => (discover::From::File(file), entity.or(connection.clone())),
                (None, Some(name)) => (discover::From::Connection(name), entity),
                (None, None) => unreachable!("clap requires one of them"),
            };
            discover::command(&settings, from, entity.as_deref(), json).await
        }
        Command::Check {
            integration,
            all: _,
            clean_up,
            file,
            write,
            json,
        } => match clean_up {
            Some(name) => {
                let file = file.map(|path| check::InFile { path, write });
                check::clean_up(&settings, &name, file, json).await
            }
            None => check::command(&settings, integration.as_deref(), json).await,
        },
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
