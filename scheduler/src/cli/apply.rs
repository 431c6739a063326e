//! `ferry apply PATH...`: validate every file, then store all definitions or none.

use std::path::PathBuf;
use std::process::ExitCode;

use ferry_shared::definitions::{
    self, Applied, ApplyError, ApplyOutcome, DefinitionError, DefinitionSet, IntegrationDef,
};
use ferry_shared::drift::{Severity, StoredCheck, check_against_stored};
use ferry_shared::settings::Settings;
use ferry_shared::storage;
use ferry_shared::storage::entities::connection;
use sea_orm::{DatabaseConnection, EntityTrait};

/// Validates and stores; `Err` holds every error of every file when any is invalid.
pub async fn apply(
    db: &DatabaseConnection,
    paths: &[PathBuf],
) -> anyhow::Result<Result<Vec<Applied>, Vec<DefinitionError>>> {
    apply_under(db, None, paths).await
}

/// Like [`apply`], under `env_prefix` (`secrets.env_prefix`): every `client_secret_env` must start
/// with it when set.
pub async fn apply_under(
    db: &DatabaseConnection,
    env_prefix: Option<&str>,
    paths: &[PathBuf],
) -> anyhow::Result<Result<Vec<Applied>, Vec<DefinitionError>>> {
    Ok(load_and_apply(db, env_prefix, paths, false)
        .await?
        .map(|(_, applied)| applied))
}

/// Validates and stores (or, with `dry_run`, only says what storing would do); the set comes back
/// with what was done to it.
async fn load_and_apply(
    db: &DatabaseConnection,
    env_prefix: Option<&str>,
    paths: &[PathBuf],
    dry_run: bool,
) -> anyhow::Result<Result<(DefinitionSet, Vec<Applied>), Vec<DefinitionError>>> {
    let connections = connection::Entity::find().all(db).await?;
    let known: Vec<String> = connections.iter().map(|c| c.name.clone()).collect();
    let kinds: Vec<(String, definitions::ConnectionKind)> = connections
        .iter()
        .filter_map(|c| {
            let kind = serde_json::from_value(serde_json::Value::from(c.kind.as_str())).ok()?;
            Some((c.name.clone(), kind))
        })
        .collect();
    let stored = definitions::stored_integrations(db).await?;
    match definitions::load_files_against(paths, &known, &kinds, &stored, env_prefix) {
        Ok(set) => match if dry_run {
            definitions::apply_dry_run(db, &set).await
        } else {
            definitions::apply(db, &set).await
        } {
            Ok(applied) => Ok(Ok((set, applied))),
            Err(ApplyError::Invalid(errors)) => Ok(Err(errors)),
            Err(e) => Err(e.into()),
        },
        Err(errors) => Ok(Err(errors)),
    }
}

pub(super) async fn command(
    settings: &Settings,
    paths: &[PathBuf],
    dry_run: bool,
) -> anyhow::Result<ExitCode> {
    let db = storage::connect(&settings.database).await?;
    let env_prefix = settings.secrets.env_prefix.as_deref();
    match load_and_apply(&db, env_prefix, paths, dry_run).await? {
        Ok((set, applied)) => {
            let defs: Vec<&IntegrationDef> = set.integrations.iter().map(|(_, d)| d).collect();
            let checks = check_against_stored(&db, &defs).await?;
            if dry_run {
                println!(
                    "dry run: nothing was stored; `ferry apply` without --dry-run would do this"
                );
            }
            for a in &applied {
                let version = a
                    .version
                    .map(|v| format!(" (version {v})"))
                    .unwrap_or_default();
                println!("{:<9} {} {}{version}", a.outcome, a.kind, a.name);
                for change in &a.changes {
                    println!("          {change}");
                }
                if let Some(note) = &a.note {
                    println!("          note: {note}");
                } else if dry_run && a.kind == "integration" && a.outcome == ApplyOutcome::Updated {
                    println!("          checkpoint: kept; the next run goes on from it");
                }
                for warning in &a.warnings {
                    println!("          warning: {warning}");
                }
                if let Some(check) = checks.iter().find(|c| c.integration == a.name) {
                    print_stored_check(check);
                }
            }
            let mut unchecked: Vec<&str> = checks
                .iter()
                .filter(|c| c.against.is_none())
                .map(|c| c.connection.as_str())
                .collect();
            unchecked.sort();
            unchecked.dedup();
            for connection in unchecked {
                println!(
                    "note: no $metadata of connection {connection:?} is stored yet, so its \
                     integrations were not checked against the source; `ferry check --all` reads it \
                     (so does every run)"
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            eprintln!(
                "error: {} problem(s) found; nothing was stored",
                errors.len()
            );
            for e in errors {
                eprintln!("  {e}");
            }
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The problems found against the stored `$metadata`, under the integration's line. They do not stop
/// the apply: the document may be older than the source, and `ferry check` asks the source itself.
fn print_stored_check(check: &StoredCheck) {
    let Some(against) = check.against else {
        return;
    };
    if check.problems.is_empty() {
        return;
    }
    println!(
        "          against the $metadata of {:?} read {}:",
        check.connection,
        against
            .with_timezone(&chrono::Utc)
            .format("%Y-%m-%d %H:%M:%S UTC")
    );
    for p in &check.problems {
        let label = match p.severity {
            Severity::Error => "problem",
            Severity::Warning => "warning",
        };
        let used = if p.used_by.is_empty() {
            String::new()
        } else {
            format!(" (used by {})", p.used_by.join(", "))
        };
        println!("          {label}: {}{used}", p.message);
    }
}
