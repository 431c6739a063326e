//! `ferry check [NAME|--all]`: each integration against its live source and its target table;
//! `ferry check --clean-up NAME`: drop the external fields that no longer exist.

use std::process::ExitCode;

use ferry_shared::drift::{Checker, integration_names};
use ferry_shared::odata::client::http_client;
use ferry_shared::secrets::Credentials;
use ferry_shared::settings::Settings;
use ferry_shared::storage;

async fn checker(settings: &Settings) -> anyhow::Result<Checker> {
    let db = storage::connect(&settings.database).await?;
    Ok(Checker {
        credentials: Credentials::new(db.clone(), &settings.secrets)?,
        db,
        http: http_client(),
    })
}

/// Exit status 1 when any integration has a problem or could not be checked.
pub(super) async fn command(
    settings: &Settings,
    name: Option<&str>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let checker = checker(settings).await?;
    let names = match name {
        Some(name) => vec![name.to_string()],
        None => integration_names(&checker.db).await?,
    };
    let reports = checker.check(&names).await?;
    let ok = reports.iter().all(|r| r.ok());
    if json {
        println!(
            "{}",
            serde_json::json!({ "ok": ok, "integrations": reports })
        );
    } else {
        for r in &reports {
            let head = format!("{} (version {})", r.integration, r.version);
            match &r.error {
                Some(error) => println!("{head}: not checked: {error}"),
                None if r.problems.is_empty() => println!("{head}: ok"),
                None => {
                    println!(
                        "{head}: {} problem(s), {} warning(s)",
                        r.errors(),
                        r.warnings()
                    );
                    for p in &r.problems {
                        println!("  {p}");
                    }
                }
            }
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

pub(super) async fn clean_up(
    settings: &Settings,
    name: &str,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let checker = checker(settings).await?;
    let (version, removed) = checker.clean_up(name).await?;
    if json {
        println!(
            "{}",
            serde_json::json!({ "integration": name, "version": version, "removed": removed })
        );
    } else if removed.is_empty() {
        println!("{name}: every field still exists; nothing to clean up (version {version})");
    } else {
        println!(
            "{name}: stored version {version} without {}",
            removed.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}
