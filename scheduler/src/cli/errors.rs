//! `ferry errors RUN_ID [--json]`: the records a run could not write, with why, what the source sent
//! and the values mapped before the failure.

use std::process::ExitCode;

use ferry_shared::runs::{RecordFailure, run_failures};
use ferry_shared::settings::Settings;
use ferry_shared::storage;

pub(super) async fn command(
    settings: &Settings,
    run_id: i64,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let db = storage::connect(&settings.database).await?;
    if ferry_shared::runs::get(&db, run_id).await?.is_none() {
        eprintln!("error: run {run_id} does not exist");
        return Ok(ExitCode::FAILURE);
    }
    let failures = run_failures(&db, run_id).await?;
    if json {
        println!("{}", serde_json::to_string(&failures)?);
    } else {
        print(&failures);
    }
    Ok(ExitCode::SUCCESS)
}

fn print(failures: &[RecordFailure]) {
    if failures.is_empty() {
        println!("no failed records");
        return;
    }
    println!("{:<24} {:<9} MESSAGE", "RECORD", "STATE");
    for f in failures {
        let state = if f.resolved_at.is_some() {
            "fixed"
        } else {
            "open"
        };
        println!("{:<24} {state:<9} {}", f.record_key, f.message);
        // How far the record got: the columns mapped before the failing one.
        if let Some(mapped) = f.mapped.as_object().filter(|m| !m.is_empty()) {
            let columns: Vec<String> = mapped.iter().map(|(c, v)| format!("{c}={v}")).collect();
            println!("{:<24} {:<9} mapped: {}", "", "", columns.join(", "));
        }
    }
}
