//! `ferry`: apply definitions, trigger and watch runs, run the scheduler.

use clap::Parser;

/// glibc malloc spent ~70 % of the worker's CPU on an import's many small per-row allocations
/// (`malloc_consolidate`, `unlink_chunk`); a modern allocator (jemalloc preloaded) halved the worker's CPU
/// per row (README, Measured).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = ferry_scheduler::cli::Args::parse();
    ferry_scheduler::cli::main(args).await
}
