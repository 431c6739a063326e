//! `ferry cancel RUN_ID`: a queued run ends at once, a running one at its next page boundary.

use std::process::ExitCode;

use ferry_shared::runs::{self, CancelError, Cancelled};
use ferry_shared::settings::Settings;
use ferry_shared::storage;

/// Who a cancel from this command is recorded as: `cli`, with the operator's login when known.
pub(super) fn who() -> String {
    match std::env::var("USER").or_else(|_| std::env::var("LOGNAME")) {
        Ok(user) if !user.is_empty() => format!("cli:{user}"),
        _ => "cli".into(),
    }
}

pub(super) async fn command(settings: &Settings, run_id: i64) -> anyhow::Result<ExitCode> {
    let db = storage::connect(&settings.database).await?;
    match runs::cancel(&db, run_id, &who()).await {
        Ok(Cancelled::Now) => println!("run {run_id} cancelled"),
        Ok(Cancelled::AtNextPage) => println!(
            "run {run_id} stops after the page in hand; what it committed stays (ferry run --wait \
             shows its end)"
        ),
        Err(e @ (CancelError::Unknown(_) | CancelError::Finished { .. })) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::FAILURE);
        }
        Err(e) => return Err(e.into()),
    }
    Ok(ExitCode::SUCCESS)
}
