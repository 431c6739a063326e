use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    ferry_sandbox::cli::run(ferry_sandbox::config::Args::parse()).await
}
