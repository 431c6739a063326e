//! The `ferry-sandbox` binary's body.

use std::io::Write;

use crate::Sandbox;
use crate::config::Args;

/// Starts the sandbox, prints `listening on http://…` once it accepts connections, and serves until
/// SIGINT or SIGTERM.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let sandbox = Sandbox::start(args.listen, args.config()).await?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {}", sandbox.base_url())?;
        out.flush()?;
    }
    shutdown_signal().await;
    sandbox.stop().await;
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
