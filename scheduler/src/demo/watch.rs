//! `ferry demo --keep-running`: after the first runs, the demo stays up as `ferry serve` — cron on the
//! examples' schedules, the API and `/metrics` on a free loopback port — while the sandbox changes a
//! few rows now and then, and every finished run is printed as it lands.

use std::time::Duration;

use ferry_sandbox::{MutateRequest, Sandbox};
use ferry_shared::runs::{RunState, RunSummary};
use ferry_shared::secrets::generate_key;
use ferry_shared::settings::Settings;
use sea_orm::DatabaseConnection;
use secrecy::ExposeSecret;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::summary;

/// How often the sandbox changes a few rows.
const CHANGE_EVERY: Duration = Duration::from_secs(20);

/// How often finished runs are looked for.
const LOOK_EVERY: Duration = Duration::from_secs(2);

/// Starts the scheduler, the API and the workers until `stop`, and prints where the API is. Without
/// `FERRY__API__TOKEN` a token is made for this process and printed: the API refuses requests without
/// one, and the person watching needs it for `/metrics`. A token configured outside the demo is never
/// printed (it may be a production one, and the terminal may be shared or recorded): the command names
/// its variable instead. The console's link is printed either way: it signs in once, within minutes,
/// on this loopback address, and says nothing of the token.
pub(super) async fn start(
    settings: &mut Settings,
    workers: usize,
    stop: CancellationToken,
) -> anyhow::Result<JoinHandle<anyhow::Result<()>>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let shown = match &settings.api.token {
        Some(_) => "$FERRY__API__TOKEN".to_string(),
        None => settings
            .api
            .token
            .insert(generate_key())
            .expose_secret()
            .to_string(),
    };
    println!(
        "API and metrics: http://{address}   (scheduler and {workers} workers in this process)"
    );
    println!("  curl -H \"Authorization: Bearer {shown}\" http://{address}/metrics");
    // A link that signs in once, within minutes: the console without pasting the token.
    if let Some(link) = crate::console::sign_in_link(settings, &format!("http://{address}")) {
        println!("Console: http://{address}/   one-time sign-in: {link}");
    }
    let settings = settings.clone();
    Ok(tokio::spawn(crate::serve::run_with_listener(
        settings,
        listener,
        workers,
        stop.cancelled_owned(),
    )))
}

/// Changes a few source rows every `CHANGE_EVERY` and prints each run that finishes after `after`,
/// until Ctrl-C or SIGTERM.
pub(super) async fn watch(db: &DatabaseConnection, sandbox: &Sandbox, after: i64) {
    println!(
        "\nWatching: the sandbox changes a few rows every {}s; runs follow the schedules. Ctrl-C stops.",
        CHANGE_EVERY.as_secs()
    );
    println!("{}", summary::header());
    let mut change = tokio::time::interval(CHANGE_EVERY);
    let mut look = tokio::time::interval(LOOK_EVERY);
    // Runs finish out of order, so each is remembered rather than compared with the newest printed.
    let mut printed = std::collections::HashSet::new();
    let stopping = ferry_shared::shutdown::signal();
    tokio::pin!(stopping);
    loop {
        tokio::select! {
            _ = &mut stopping => break,
            _ = change.tick() => change_rows(sandbox),
            _ = look.tick() => {
                let Ok(runs) = ferry_shared::runs::list(db, None, 20).await else { continue };
                let mut finished: Vec<RunSummary> = runs
                    .into_iter()
                    .filter(|r| r.id > after && !printed.contains(&r.id))
                    .filter(|r| RunState::parse(&r.state).is_some_and(RunState::is_final))
                    .map(RunSummary::from)
                    .collect();
                finished.sort_by_key(|r| r.run_id);
                for run in finished {
                    printed.insert(run.run_id);
                    println!("{}", summary::line(&run));
                }
            }
        }
    }
}

fn change_rows(sandbox: &Sandbox) {
    // (entity, inserted, updated, deleted): Dataverse tracks deletes, so its accounts lose one too.
    let changes = [
        ("RescoCustomer", 1, 3, 0),
        ("RescoContact", 1, 2, 0),
        ("RescoItem", 0, 2, 0),
        ("account", 1, 2, 1),
    ];
    for (entity, insert, update, delete) in changes {
        if let Err(e) = sandbox.mutate(MutateRequest {
            entity: entity.into(),
            insert,
            update,
            delete,
        }) {
            tracing::warn!(entity, error = %e, "sandbox change failed");
        }
    }
}
