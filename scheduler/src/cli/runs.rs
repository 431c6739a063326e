//! `ferry runs [NAME]`: recent runs, newest first.

use std::process::ExitCode;

use ferry_shared::runs::{self, RunSummary};
use ferry_shared::settings::Settings;
use ferry_shared::storage;
use sea_orm::DatabaseConnection;

/// Recent runs as summaries.
pub async fn print_runs(
    db: &DatabaseConnection,
    integration: Option<&str>,
    limit: u64,
) -> anyhow::Result<Vec<RunSummary>> {
    Ok(runs::list(db, integration, limit)
        .await?
        .into_iter()
        .map(RunSummary::from)
        .collect())
}

pub(super) async fn command(
    settings: &Settings,
    integration: Option<&str>,
    limit: u64,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let db = storage::connect(&settings.database).await?;
    let summaries = print_runs(&db, integration, limit).await?;
    if json {
        println!("{}", serde_json::to_string(&summaries)?);
    } else {
        print_table(&summaries);
    }
    Ok(ExitCode::SUCCESS)
}

/// A fixed-width table for people.
pub(super) fn print_table(summaries: &[RunSummary]) {
    println!(
        "{:>6}  {:<20} {:<11} {:>9} {:>9} {:>9} {:>7} {:>7} {:>8} {:>7} {:>9} {:>9} {:>9}",
        "RUN",
        "INTEGRATION",
        "STATUS",
        "READ",
        "INSERTED",
        "UPDATED",
        "DELETED",
        "FAILED",
        "DEFERRED",
        "SKIPPED",
        "COLLAPSED",
        "UNCHANGED",
        "MS"
    );
    for s in summaries {
        println!(
            "{:>6}  {:<20} {:<11} {:>9} {:>9} {:>9} {:>7} {:>7} {:>8} {:>7} {:>9} {:>9} {:>9}",
            s.run_id,
            s.integration,
            s.status,
            s.rows_read,
            s.inserted,
            s.updated,
            s.deleted,
            s.failed,
            s.deferred,
            s.skipped,
            s.collapsed,
            s.unchanged,
            s.duration_ms
                .map(|d| d.to_string())
                .unwrap_or_else(|| "-".into()),
        );
    }
}
