//! `ferry-worker`: executes sync runs from the queue until SIGTERM or Ctrl-C.

use std::path::PathBuf;

use clap::Parser;

/// glibc malloc spent ~70 % of the worker's CPU on an import's many small per-row allocations
/// (`malloc_consolidate`, `unlink_chunk`); a modern allocator (jemalloc preloaded) halved the worker's CPU
/// per row (README, Measured).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Executes Ferry's sync jobs.
#[derive(Debug, Parser)]
#[command(name = "ferry-worker", version)]
struct Args {
    /// Settings file layered over the defaults (environment variables FERRY__… still win).
    #[arg(long, env = "FERRY_CONFIG")]
    config: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let settings = ferry_shared::settings::Settings::load(args.config.as_deref())?;
    ferry_shared::telemetry::init(&settings.log, ferry_shared::telemetry::Process::Daemon);
    ferry_worker::run(settings, ferry_shared::shutdown::signal()).await
}
