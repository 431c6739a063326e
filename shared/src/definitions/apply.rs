//! Storing validated definitions. All of them go in one transaction: either every definition is stored
//! or none is. An integration change adds a version; a connection is updated in place.

use std::fmt;

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, Set,
};
use sha2::{Digest, Sha256};

use super::lifecycle::{self, State};
use super::load::{DefinitionError, DefinitionSet};
use super::model::{ConnectionDef, IntegrationDef};
use super::targets::shared_target_errors;
use crate::storage::entities::{connection, integration};

/// What `apply` did with one definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyOutcome {
    Created,
    Updated,
    Unchanged,
}

impl fmt::Display for ApplyOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            ApplyOutcome::Created => "created",
            ApplyOutcome::Updated => "updated",
            ApplyOutcome::Unchanged => "unchanged",
        })
    }
}

/// One line of `ferry apply` output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// `connection` or `integration`.
    pub kind: &'static str,
    pub name: String,
    pub outcome: ApplyOutcome,
    /// The integration version now current (connections are not versioned).
    pub version: Option<i32>,
    /// What the change means for the next run, e.g. "the filter changed: the next run reads
    /// everything again" when the checkpoint no longer holds (ARCHITECTURE.md, "Invariants", invariant 7).
    pub note: Option<String>,
    /// What was stored but deserves a look (`definitions::warnings`).
    pub warnings: Vec<String>,
    /// For an update, what changed, field by field (`definitions::diff`).
    pub changes: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("failed to store definitions: {0}")]
    Database(#[from] DbErr),
    #[error("stored definition of {name:?} is unreadable: {source}")]
    Corrupt {
        name: String,
        source: serde_json::Error,
    },
    /// The set conflicts with stored definitions (`shared_target_errors`); nothing was stored.
    #[error("{} problem(s) with the stored definitions; nothing was stored: {}", .0.len(), listed(.0))]
    Invalid(Vec<DefinitionError>),
}

fn listed(errors: &[DefinitionError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Attempts of an apply whose transaction the database refused for a passing reason (SQLite busy past
/// its timeout, a lost connection); each attempt rolls back whole, so trying again is safe.
const APPLY_ATTEMPTS: u32 = 3;

/// Stores every definition of `set` in one transaction. The check against the stored integrations
/// runs inside it, under a lock only one apply holds at a time, so two applies at once cannot each
/// pass it alone.
pub async fn apply(
    db: &DatabaseConnection,
    set: &DefinitionSet,
) -> Result<Vec<Applied>, ApplyError> {
    apply_with(db, set, Commit::Store).await
}

/// What [`apply`] would do, computed by the same steps in a transaction that is rolled back: nothing is
/// stored (`ferry apply --dry-run`).
pub async fn apply_dry_run(
    db: &DatabaseConnection,
    set: &DefinitionSet,
) -> Result<Vec<Applied>, ApplyError> {
    apply_with(db, set, Commit::RollBack).await
}

/// Whether an apply keeps what it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Commit {
    Store,
    RollBack,
}

async fn apply_with(
    db: &DatabaseConnection,
    set: &DefinitionSet,
    commit: Commit,
) -> Result<Vec<Applied>, ApplyError> {
    let mut attempt = 1;
    loop {
        match apply_once(db, set, commit).await {
            Err(ApplyError::Database(e))
                if attempt < APPLY_ATTEMPTS && crate::storage::is_retriable(&e) =>
            {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
            other => return other,
        }
    }
}

async fn apply_once(
    db: &DatabaseConnection,
    set: &DefinitionSet,
    commit: Commit,
) -> Result<Vec<Applied>, ApplyError> {
    let txn = crate::storage::begin_write(db).await?;
    crate::storage::Dialect::lock_applies(&txn).await?;
    let conflicts = shared_target_errors(set, &stored_integrations(&txn).await?);
    if !conflicts.is_empty() {
        txn.rollback().await?;
        return Err(ApplyError::Invalid(conflicts));
    }
    let mut applied = Vec::new();
    for (_, def) in &set.connections {
        applied.push(apply_connection(&txn, def).await?);
    }
    for (_, def) in &set.integrations {
        applied.push(apply_integration(&txn, def).await?);
    }
    for line in &mut applied {
        if line.outcome == ApplyOutcome::Updated
            && let Some(reread) = rereads(&txn, line).await?
        {
            line.note = Some(match line.note.take() {
                Some(note) => format!("{note}; {reread}"),
                None => reread,
            });
        }
        if line.kind == "integration"
            && let Some((_, def)) = set.integrations.iter().find(|(_, d)| d.name == line.name)
            && crate::capture::adopt(&txn, def).await? == crate::capture::Adopted::NoTable
        {
            line.note = Some(format!(
                "{}table {:?} does not exist yet: local changes are captured once it does \
                 (its first run installs the triggers)",
                line.note.take().map(|n| n + "; ").unwrap_or_default(),
                def.target.table
            ));
        }
        if line.kind == "integration" {
            let standing = lifecycle::standing(&txn, &line.name).await?;
            if standing.state == State::Disabled {
                line.note = Some(format!(
                    "{}disabled {}: not scheduled or triggered until `ferry enable {}`",
                    line.note.take().map(|n| n + "; ").unwrap_or_default(),
                    standing.when(),
                    line.name
                ));
            }
        }
    }
    let mut warnings = super::warnings::warnings(
        &stored_integrations(&txn).await?,
        crate::storage::Dialect::of(&txn),
    );
    for line in &mut applied {
        if line.kind == "integration" {
            line.warnings = warnings.remove(&line.name).unwrap_or_default();
        }
    }
    match commit {
        Commit::Store => txn.commit().await?,
        Commit::RollBack => txn.rollback().await?,
    }
    Ok(applied)
}

/// For an updated definition: the integrations whose checkpoint it invalidates and why, as a note.
async fn rereads(db: &impl ConnectionTrait, line: &Applied) -> Result<Option<String>, ApplyError> {
    let names: Vec<String> = if line.kind == "integration" {
        vec![line.name.clone()]
    } else {
        let mut names: Vec<String> = integration::Entity::find()
            .filter(integration::Column::Connection.eq(&line.name))
            .all(db)
            .await?
            .into_iter()
            .map(|row| row.name)
            .collect();
        names.sort();
        names.dedup();
        names
    };
    let mut notes = Vec::new();
    for name in names {
        let Some((_, def)) = latest_integration(db, &name).await? else {
            continue;
        };
        if def.connection != line.name && line.kind == "connection" {
            continue;
        }
        let Some((_, connection)) = stored_connection(db, &def.connection).await? else {
            continue;
        };
        let now = crate::checkpoint::Measured::of(&connection, &def);
        let stored = crate::checkpoint::load(db, &name).await?;
        if let Some(why) = stored
            .and_then(|s| s.measured)
            .and_then(|before| before.change(&now))
        {
            notes.push(format!(
                "{name}: {why}, so its next run reads everything again (its checkpoint was \
                 measured on the old source)"
            ));
        }
    }
    Ok((!notes.is_empty()).then(|| notes.join("; ")))
}

fn canonical<T: serde::Serialize>(def: &T) -> (String, String) {
    let json = serde_json::to_string(def).expect("definitions always serialize");
    let digest = Sha256::digest(json.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    (json, digest)
}

async fn apply_connection(
    db: &impl ConnectionTrait,
    def: &ConnectionDef,
) -> Result<Applied, ApplyError> {
    let (json, digest) = canonical(def);
    let now = Utc::now().fixed_offset();
    let existing = connection::Entity::find()
        .filter(connection::Column::Name.eq(&def.name))
        .one(db)
        .await?;
    let mut changes = Vec::new();
    let mut note = None;
    let outcome = match existing {
        Some(row) if row.digest == digest => ApplyOutcome::Unchanged,
        Some(row) => {
            changes = super::diff::changes(&row.definition, &json);
            let before: ConnectionDef =
                serde_json::from_str(&row.definition).map_err(|source| ApplyError::Corrupt {
                    name: def.name.clone(),
                    source,
                })?;
            note = super::rebind::stored_secret_note(db, &before, def).await?;
            let version = row.version + 1;
            let mut row: connection::ActiveModel = row.into();
            row.version = Set(version);
            row.kind = Set(kind_name(def));
            row.definition = Set(json);
            row.digest = Set(digest);
            row.updated_at = Set(now);
            row.update(db).await?;
            ApplyOutcome::Updated
        }
        None => {
            connection::ActiveModel {
                name: Set(def.name.clone()),
                kind: Set(kind_name(def)),
                definition: Set(json),
                digest: Set(digest),
                created_at: Set(now),
                updated_at: Set(now),
                version: Set(1),
                ..Default::default()
            }
            .insert(db)
            .await?;
            ApplyOutcome::Created
        }
    };
    Ok(Applied {
        kind: "connection",
        name: def.name.clone(),
        outcome,
        version: None,
        note,
        warnings: Vec::new(),
        changes,
    })
}

fn kind_name(def: &ConnectionDef) -> String {
    serde_json::to_value(def.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

async fn apply_integration(
    db: &impl ConnectionTrait,
    def: &IntegrationDef,
) -> Result<Applied, DbErr> {
    let (json, digest) = canonical(def);
    let latest = latest_row(db, &def.name).await?;
    // A deleted integration applied again comes back live, as a new version even when unchanged.
    let deleted = lifecycle::standing(db, &def.name).await?.state == State::Deleted;
    if deleted {
        lifecycle::set(db, &def.name, State::Enabled, "apply").await?;
    }
    let changes = match &latest {
        Some(row) if row.digest != digest => super::diff::changes(&row.definition, &json),
        _ => Vec::new(),
    };
    let (outcome, version) = match latest {
        Some(row) if deleted => (ApplyOutcome::Created, row.version + 1),
        Some(row) if row.digest == digest => (ApplyOutcome::Unchanged, row.version),
        Some(row) => (ApplyOutcome::Updated, row.version + 1),
        None => (ApplyOutcome::Created, 1),
    };
    if outcome != ApplyOutcome::Unchanged {
        integration::ActiveModel {
            name: Set(def.name.clone()),
            version: Set(version),
            connection: Set(def.connection.clone()),
            definition: Set(json),
            digest: Set(digest),
            applied_at: Set(Utc::now().fixed_offset()),
            ..Default::default()
        }
        .insert(db)
        .await?;
    }
    Ok(Applied {
        kind: "integration",
        name: def.name.clone(),
        outcome,
        version: Some(version),
        note: deleted
            .then(|| "it was deleted; applied again, it is scheduled and triggered again".into()),
        warnings: Vec::new(),
        changes,
    })
}

async fn latest_row(
    db: &impl ConnectionTrait,
    name: &str,
) -> Result<Option<integration::Model>, DbErr> {
    integration::Entity::find()
        .filter(integration::Column::Name.eq(name))
        .order_by_desc(integration::Column::Version)
        .one(db)
        .await
}

/// The latest stored definition of every integration not deleted, in name order.
pub async fn stored_integrations(
    db: &impl ConnectionTrait,
) -> Result<Vec<IntegrationDef>, ApplyError> {
    let standings = lifecycle::standings(db).await?;
    let rows = integration::Entity::find()
        .order_by_asc(integration::Column::Name)
        .order_by_desc(integration::Column::Version)
        .all(db)
        .await?;
    let mut latest: Vec<IntegrationDef> = Vec::new();
    let mut last_name: Option<String> = None;
    for row in rows {
        if last_name.as_deref() == Some(row.name.as_str()) {
            continue;
        }
        last_name = Some(row.name.clone());
        if standings
            .get(&row.name)
            .is_some_and(|s| s.state == State::Deleted)
        {
            continue;
        }
        let def = serde_json::from_str(&row.definition).map_err(|source| ApplyError::Corrupt {
            name: row.name.clone(),
            source,
        })?;
        latest.push(def);
    }
    Ok(latest)
}

/// The current version of an integration and its definition, if one was applied.
pub async fn latest_integration(
    db: &impl ConnectionTrait,
    name: &str,
) -> Result<Option<(i32, IntegrationDef)>, ApplyError> {
    let Some(row) = latest_row(db, name).await? else {
        return Ok(None);
    };
    let def = serde_json::from_str(&row.definition).map_err(|source| ApplyError::Corrupt {
        name: name.to_string(),
        source,
    })?;
    Ok(Some((row.version, def)))
}

/// A stored connection definition by name.
pub async fn load_connection(
    db: &impl ConnectionTrait,
    name: &str,
) -> Result<Option<ConnectionDef>, ApplyError> {
    Ok(stored_connection(db, name).await?.map(|(_, def)| def))
}

/// A stored connection definition by name, with its version (runs record the one they executed).
pub async fn stored_connection(
    db: &impl ConnectionTrait,
    name: &str,
) -> Result<Option<(i32, ConnectionDef)>, ApplyError> {
    let Some(row) = connection::Entity::find()
        .filter(connection::Column::Name.eq(name))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let def = serde_json::from_str(&row.definition).map_err(|source| ApplyError::Corrupt {
        name: name.to_string(),
        source,
    })?;
    Ok(Some((row.version, def)))
}
