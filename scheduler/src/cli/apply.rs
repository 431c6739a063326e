//! `ferry apply PATH...`: validate every file, then store all definitions or none.

use std::path::PathBuf;
use std::process::ExitCode;

use ferry_shared::definitions::{self, Applied, ApplyError, DefinitionError};
use ferry_shared::settings::Settings;
use ferry_shared::storage;
use ferry_shared::storage::entities::connection;
use sea_orm::{DatabaseConnection, EntityTrait};

/// Validates and stores; `Err` holds every error of every file when any is invalid.
pub async fn apply(
    db: &DatabaseConnection,
    paths: &[PathBuf],
) -> anyhow::Result<Result<Vec<Applied>, Vec<DefinitionError>>> {
    let known: Vec<String> = connection::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|c| c.name)
        .collect();
    let stored = definitions::stored_integrations(db).await?;
    match definitions::load_files_against(paths, &known, &stored) {
        Ok(set) => match definitions::apply(db, &set).await {
            Ok(applied) => Ok(Ok(applied)),
            Err(ApplyError::Invalid(errors)) => Ok(Err(errors)),
            Err(e) => Err(e.into()),
        },
        Err(errors) => Ok(Err(errors)),
    }
}

pub(super) async fn command(settings: &Settings, paths: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let db = storage::connect(&settings.database).await?;
    match apply(&db, paths).await? {
        Ok(applied) => {
            for a in applied {
                let version = a
                    .version
                    .map(|v| format!(" (version {v})"))
                    .unwrap_or_default();
                println!("{:<9} {} {}{version}", a.outcome, a.kind, a.name);
                if let Some(note) = &a.note {
                    println!("          note: {note}");
                }
                for warning in &a.warnings {
                    println!("          warning: {warning}");
                }
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
