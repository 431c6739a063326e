//! Checking stored integrations against their live sources and target tables: what `ferry check`
//! prints and the web editor will show. `$metadata` is read once per connection.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use sea_orm::{DatabaseConnection, EntityTrait, QueryOrder, QuerySelect};
use serde::Serialize;

use super::{
    Problem, Severity, check_lookups, check_source, check_target, clean_up, read_before,
    target_table,
};
use crate::definitions::{
    self, ApplyError, DefinitionSet, IntegrationDef, latest_integration, load_connection,
};
use crate::mapping::Mapping;
use crate::odata::csdl::Metadata;
use crate::secrets::Credentials;
use crate::source::{Source, discovered};
use crate::storage::Dialect;
use crate::storage::entities::integration;

/// The verdict on one integration.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub integration: String,
    pub version: i32,
    pub connection: String,
    pub problems: Vec<Problem>,
    /// Set when the check itself could not run (source unreachable, sign-in missing, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Report {
    /// Checked, with nothing that fails a run (warnings may remain).
    pub fn ok(&self) -> bool {
        self.error.is_none() && self.errors() == 0
    }

    pub fn errors(&self) -> usize {
        self.problems
            .iter()
            .filter(|p| p.severity == Severity::Error)
            .count()
    }

    pub fn warnings(&self) -> usize {
        self.problems.len() - self.errors()
    }
}

/// Why a check or clean-up could not be done at all.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("no integration named {0:?} is stored")]
    UnknownIntegration(String),
    #[error(transparent)]
    Definitions(#[from] ApplyError),
    #[error("failed to read the database: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error(transparent)]
    CleanUp(#[from] super::CleanUpError),
    #[error("cannot read the source of {integration:?}: {message}")]
    Source {
        integration: String,
        message: String,
    },
}

/// What checking needs: the database, the credentials, the request budgets its `$metadata` reads
/// count against, and the HTTP client.
#[derive(Debug, Clone)]
pub struct Checker {
    pub db: DatabaseConnection,
    pub credentials: Credentials,
    pub budgets: crate::budget::Budgets,
    pub http: reqwest::Client,
}

/// The names of every stored integration not deleted (`definitions::lifecycle`), sorted.
pub async fn integration_names(db: &DatabaseConnection) -> Result<Vec<String>, sea_orm::DbErr> {
    let standings = crate::definitions::lifecycle::standings(db).await?;
    let names: Vec<String> = integration::Entity::find()
        .select_only()
        .column(integration::Column::Name)
        .distinct()
        .order_by_asc(integration::Column::Name)
        .into_tuple::<String>()
        .all(db)
        .await?;
    Ok(names
        .into_iter()
        .filter(|name| {
            standings
                .get(name)
                .is_none_or(|s| s.state != crate::definitions::lifecycle::State::Deleted)
        })
        .collect())
}

/// Every problem of `def` found in one pass: the source side, then (when the mapping compiles) the
/// target table, then the lookups' tables.
async fn problems(
    db: &DatabaseConnection,
    def: &IntegrationDef,
    metadata: &Metadata,
) -> Result<Vec<Problem>, CheckError> {
    let read = read_before(db, &def.name).await?;
    let mut problems = check_source(def, metadata, &read);
    let source_errors = problems.iter().any(|p| p.severity == Severity::Error);
    if !source_errors && let Ok(mapping) = Mapping::compile(def, metadata) {
        let table = target_table(db, &def.target.table).await?;
        problems.extend(check_target(def, &mapping, table.as_ref(), Dialect::of(db)));
    }
    let mut tables = HashMap::new();
    for lookup in &def.lookups {
        if !tables.contains_key(&lookup.table) {
            let table = target_table(db, &lookup.table).await?;
            tables.insert(lookup.table.clone(), table);
        }
    }
    let written: Vec<String> = definitions::stored_integrations(db)
        .await?
        .into_iter()
        .map(|d| d.target.table)
        .collect();
    problems.extend(check_lookups(def, &tables, &written));
    problems.extend(super::capture::check_capture(db, def).await?);
    Ok(problems)
}

/// One integration checked against the `$metadata` last read from its connection.
#[derive(Debug, Clone)]
pub struct StoredCheck {
    pub integration: String,
    pub connection: String,
    /// When that document was read; `None` when no document of the connection is stored.
    pub against: Option<chrono::DateTime<chrono::FixedOffset>>,
    pub problems: Vec<Problem>,
}

/// What `ferry check --clean-up` stored.
#[derive(Debug, Clone)]
pub struct CleanedUp {
    /// The integration's version now (new when anything was removed).
    pub version: i32,
    /// The source fields that are gone, which the removed entries read.
    pub removed: Vec<String>,
}

/// Checks each definition against its connection's stored `$metadata` (`source::discovered`),
/// without a request: what `apply` reports.
pub async fn check_against_stored(
    db: &DatabaseConnection,
    defs: &[&IntegrationDef],
) -> Result<Vec<StoredCheck>, CheckError> {
    let mut stored: HashMap<String, Option<discovered::Discovered>> = HashMap::new();
    let mut checks = Vec::new();
    for def in defs {
        if !stored.contains_key(&def.connection) {
            let last = discovered::last(db, &def.connection).await?;
            stored.insert(def.connection.clone(), last);
        }
        let (against, problems) = match &stored[&def.connection] {
            Some(last) => (
                Some(last.fetched_at),
                problems(db, def, &last.metadata).await?,
            ),
            None => (None, Vec::new()),
        };
        checks.push(StoredCheck {
            integration: def.name.clone(),
            connection: def.connection.clone(),
            against,
            problems,
        });
    }
    Ok(checks)
}

impl Checker {
    /// Checks the current version of each named integration.
    pub async fn check(&self, names: &[String]) -> Result<Vec<Report>, CheckError> {
        let mut metadata: HashMap<String, Result<Arc<Metadata>, String>> = HashMap::new();
        let mut reports = Vec::new();
        for name in names {
            let (version, def) = latest_integration(&self.db, name)
                .await?
                .ok_or_else(|| CheckError::UnknownIntegration(name.clone()))?;
            let mut report = Report {
                integration: name.clone(),
                version,
                connection: def.connection.clone(),
                problems: Vec::new(),
                error: None,
            };
            if !metadata.contains_key(&def.connection) {
                let fetched = self.metadata(&def.connection).await.map(Arc::new);
                metadata.insert(def.connection.clone(), fetched);
            }
            match &metadata[&def.connection] {
                Err(message) => report.error = Some(message.clone()),
                Ok(metadata) => report.problems = problems(&self.db, &def, metadata).await?,
            }
            reports.push(report);
        }
        Ok(reports)
    }

    /// The live `$metadata` of a stored connection; errors as text, for the report.
    pub async fn metadata(&self, connection: &str) -> Result<Metadata, String> {
        let def = load_connection(&self.db, connection)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("connection {connection:?} is not stored"))?;
        let source = Source::connect(&def, &self.credentials, &self.budgets, self.http.clone(), 1)
            .await
            .map_err(|e| e.to_string())?;
        crate::source::discovered::fetch(&self.db, connection, &source)
            .await
            .map_err(|e| e.to_string())
    }

    /// Stores a new version of `name` without the fields its source no longer has. Returns the new
    /// version and the removed fields (no new version when nothing was missing).
    /// What a clean-up drops from `def` (as an operator's file writes it), stored nowhere.
    pub async fn dropped_from(
        &self,
        def: &IntegrationDef,
    ) -> Result<Vec<crate::definitions::edit::Entry>, CheckError> {
        let metadata =
            self.metadata(&def.connection)
                .await
                .map_err(|message| CheckError::Source {
                    integration: def.name.clone(),
                    message,
                })?;
        let (cleaned, _) = clean_up(def, &metadata)?;
        Ok(super::clean_up::dropped(def, &cleaned))
    }

    pub async fn clean_up(&self, name: &str) -> Result<CleanedUp, CheckError> {
        let (version, def) = latest_integration(&self.db, name)
            .await?
            .ok_or_else(|| CheckError::UnknownIntegration(name.to_string()))?;
        let metadata =
            self.metadata(&def.connection)
                .await
                .map_err(|message| CheckError::Source {
                    integration: name.to_string(),
                    message,
                })?;
        let (cleaned, removed) = clean_up(&def, &metadata)?;
        if removed.is_empty() {
            return Ok(CleanedUp { version, removed });
        }
        let set = DefinitionSet {
            connections: Vec::new(),
            integrations: vec![(PathBuf::from("(ferry check --clean-up)"), cleaned)],
        };
        let applied = definitions::apply(&self.db, &set).await?;
        Ok(CleanedUp {
            version: applied[0].version.unwrap_or(version),
            removed,
        })
    }
}
