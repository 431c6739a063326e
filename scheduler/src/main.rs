//! `ferry`: apply definitions, trigger and watch runs, run the scheduler.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = ferry_scheduler::cli::Args::parse();
    ferry_scheduler::cli::main(args).await
}
