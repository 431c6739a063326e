//! `ferry check [NAME|--all]`: each integration against its live source and its target table;
//! `ferry check --clean-up NAME [--file FILE [--write]]`: drop the external fields that no longer
//! exist, and name (or delete) the lines of the operator's file that still map them.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use ferry_shared::definitions::edit::{self, Line};

use ferry_shared::budget::Budgets;
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
        budgets: Budgets::for_queue(&settings.queue, Default::default()),
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

/// The operator's file to bring in step with a clean-up, and whether to write it.
pub(super) struct InFile {
    pub path: PathBuf,
    pub write: bool,
}

pub(super) async fn clean_up(
    settings: &Settings,
    name: &str,
    file: Option<InFile>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let checker = checker(settings).await?;
    let cleaned = checker.clean_up(name).await?;
    let lines = match &file {
        Some(file) => Some(in_file(&checker, name, file).await?),
        None => None,
    };
    if json {
        let lines = lines.as_ref().map(|lines| {
            lines
                .iter()
                .map(|l| serde_json::json!({ "line": l.number, "text": l.text }))
                .collect::<Vec<_>>()
        });
        println!(
            "{}",
            serde_json::json!({
                "integration": name,
                "version": cleaned.version,
                "removed": cleaned.removed,
                "file": file.as_ref().map(|f| f.path.display().to_string()),
                "lines": lines,
                "written": file.as_ref().is_some_and(|f| f.write),
            })
        );
        return Ok(ExitCode::SUCCESS);
    }
    if cleaned.removed.is_empty() {
        println!(
            "{name}: version {} maps no source field that is gone; nothing to store",
            cleaned.version
        );
    } else {
        println!(
            "{name}: stored version {} without {}",
            cleaned.version,
            cleaned.removed.join(", ")
        );
    }
    match (&file, &lines) {
        (Some(file), Some(lines)) if lines.is_empty() => println!(
            "{}: maps none of them; apply it as it is",
            file.path.display()
        ),
        (Some(file), Some(lines)) if file.write => println!(
            "{}: deleted {}; apply it as it is now",
            file.path.display(),
            numbers(lines)
        ),
        (Some(file), Some(lines)) => {
            println!(
                "so the next `ferry apply` keeps this, delete from {} (or add --write):",
                file.path.display()
            );
            for line in lines {
                println!(
                    "  {}:{}: {}",
                    file.path.display(),
                    line.number,
                    line.text.trim()
                );
            }
        }
        _ if !cleaned.removed.is_empty() => println!(
            "so the next `ferry apply` keeps this, delete what maps {} from the file that defines \
             {name}; `--file FILE` names the lines, `--file FILE --write` deletes them",
            cleaned.removed.join(", ")
        ),
        _ => {}
    }
    Ok(ExitCode::SUCCESS)
}

/// The lines of the operator's file that still map what a clean-up drops, deleted when asked. The
/// file is read on its own terms (its version may differ from the stored one), so this also works
/// after the clean-up was stored.
async fn in_file(checker: &Checker, name: &str, file: &InFile) -> anyhow::Result<Vec<Line>> {
    let text = std::fs::read_to_string(&file.path)
        .with_context(|| format!("reading {}", file.path.display()))?;
    let context = || format!("{}", file.path.display());
    let def = edit::integration_in(&text, name).with_context(context)?;
    let dropped = checker.dropped_from(&def).await?;
    let lines = edit::locate(&text, name, &dropped).with_context(context)?;
    if file.write && !lines.is_empty() {
        let edited = edit::remove(&text, name, &dropped).with_context(context)?;
        std::fs::write(&file.path, edited)
            .with_context(|| format!("writing {}", file.path.display()))?;
    }
    Ok(lines)
}

fn numbers(lines: &[Line]) -> String {
    let numbers: Vec<String> = lines.iter().map(|l| l.number.to_string()).collect();
    format!("line {}", numbers.join(", "))
}
