//! `ferry-bench`: Ferry's throughput, latency and memory against the physical limit, printed as a
//! table (or `--json`). See `ferry_scheduler::bench`.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = ferry_scheduler::bench::Args::parse();
    ferry_scheduler::bench::main(args).await
}
