//! `ferry queue`: what is waiting, running, retrying and dead, and which workers are alive.

use std::process::ExitCode;

use ferry_shared::settings::Settings;
use ferry_shared::{queue, storage};

use crate::depth;

pub(super) async fn command(settings: &Settings, json: bool) -> anyhow::Result<ExitCode> {
    let db = storage::connect(&settings.database).await?;
    let mut queue = queue::storage(&settings.queue, settings.worker.lease() / 3).await?;
    let depth = depth::read(&db, &mut queue, settings.worker.lease()).await?;
    if json {
        println!("{}", serde_json::to_string(&depth)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "queued {}  retrying {}  running {}  dead (24 h) {}  oldest queued {}",
        depth.queued,
        depth.retrying,
        depth.running,
        depth.dead,
        depth
            .oldest_queued_seconds
            .map(|s| format!("{s:.1} s"))
            .unwrap_or_else(|| "-".into())
    );
    println!(
        "\n{:<24} {:>7} {:>9} {:>8} {:>5}",
        "INTEGRATION", "QUEUED", "RETRYING", "RUNNING", "DEAD"
    );
    for (name, d) in &depth.integrations {
        println!(
            "{name:<24} {:>7} {:>9} {:>8} {:>5}",
            d.queued, d.retrying, d.running, d.dead
        );
    }
    println!("\n{:<40} {:<26} ALIVE", "WORKER", "LAST HEARTBEAT");
    for w in &depth.workers {
        println!(
            "{:<40} {:<26} {}",
            w.name,
            w.last_heartbeat,
            if w.alive { "yes" } else { "no" }
        );
    }
    Ok(ExitCode::SUCCESS)
}
