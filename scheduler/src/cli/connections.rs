//! `ferry connections`, `ferry connection show NAME` and `ferry connection delete NAME`: the stored
//! connections, never a secret (a definition holds none: only the name of the variable with the client
//! secret), and deleting one that no integration uses.

use std::process::ExitCode;

use ferry_shared::definitions::{self, ConnectionDef};
use ferry_shared::settings::Settings;
use ferry_shared::storage::entities::{connection, credential};
use ferry_shared::storage::{self, statement};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
};
use serde::Serialize;

/// One connection as `ferry connections` and `GET /api/v1/connections` show it.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectionSummary {
    pub name: String,
    pub kind: String,
    pub version: i32,
    pub url: String,
    pub company: Option<String>,
    /// Which kinds of credential are stored for it (sealed): `client_secret`, `refresh_token`.
    pub credentials: Vec<String>,
    /// The integrations (not deleted) whose current version uses it.
    pub used_by: Vec<String>,
    /// The definition (no secret in it).
    pub definition: ConnectionDef,
}

/// Why a connection was not deleted.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    #[error("no connection named {0:?} has been applied")]
    Unknown(String),
    #[error("connection {name} is used by {users}; delete those integrations first")]
    InUse { name: String, users: String },
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// Every stored connection, in name order.
pub async fn list(db: &DatabaseConnection) -> anyhow::Result<Vec<ConnectionSummary>> {
    let rows = connection::Entity::find()
        .order_by_asc(connection::Column::Name)
        .all(db)
        .await?;
    let integrations = definitions::stored_integrations(db).await?;
    let mut listed = Vec::new();
    for row in rows {
        let definition: ConnectionDef = serde_json::from_str(&row.definition)?;
        let mut credentials: Vec<String> = credential::Entity::find()
            .filter(credential::Column::Connection.eq(&row.name))
            .all(db)
            .await?
            .into_iter()
            .map(|c| c.kind)
            .collect();
        credentials.sort();
        listed.push(ConnectionSummary {
            used_by: integrations
                .iter()
                .filter(|i| i.connection == row.name)
                .map(|i| i.name.clone())
                .collect(),
            name: row.name,
            kind: row.kind,
            version: row.version,
            url: definition.url.clone(),
            company: definition.company.clone(),
            credentials,
            definition,
        });
    }
    Ok(listed)
}

/// Connection `name`, if stored.
pub async fn summary(
    db: &DatabaseConnection,
    name: &str,
) -> anyhow::Result<Option<ConnectionSummary>> {
    Ok(list(db).await?.into_iter().find(|c| c.name == name))
}

/// Deletes connection `name` and its stored credentials, when no integration (not deleted) uses it.
pub async fn delete(db: &DatabaseConnection, name: &str) -> Result<(), ConnectionError> {
    let Some(found) = summary(db, name).await? else {
        return Err(ConnectionError::Unknown(name.to_string()));
    };
    if !found.used_by.is_empty() {
        return Err(ConnectionError::InUse {
            name: name.to_string(),
            users: found.used_by.join(", "),
        });
    }
    let txn = storage::begin_write(db)
        .await
        .map_err(anyhow::Error::from)?;
    let backend = txn.get_database_backend();
    for table in ["ferry_credentials", "ferry_connections"] {
        let column = if table == "ferry_credentials" {
            "connection"
        } else {
            "name"
        };
        txn.execute_raw(statement(
            backend,
            &format!("DELETE FROM {table} WHERE {column} = ?"),
            [name.into()],
        ))
        .await
        .map_err(anyhow::Error::from)?;
    }
    txn.commit().await.map_err(anyhow::Error::from)?;
    Ok(())
}

/// A connection as a TOML file `ferry apply` takes.
pub fn to_toml(def: &ConnectionDef) -> anyhow::Result<String> {
    #[derive(Serialize)]
    struct File<'a> {
        connection: [&'a ConnectionDef; 1],
    }
    Ok(toml::to_string(&File { connection: [def] })?)
}

pub(super) async fn list_command(settings: &Settings, json: bool) -> anyhow::Result<ExitCode> {
    let db = storage::connect(&settings.database).await?;
    let listed = list(&db).await?;
    if json {
        println!("{}", serde_json::to_string(&listed)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<16} {:<18} {:>7}  {:<28} {:<40}",
        "NAME", "KIND", "VERSION", "CREDENTIALS", "USED BY"
    );
    for c in &listed {
        let or_dash = |v: &[String]| match v.is_empty() {
            true => "-".to_string(),
            false => v.join(", "),
        };
        println!(
            "{:<16} {:<18} {:>7}  {:<28} {:<40}",
            c.name,
            c.kind,
            c.version,
            or_dash(&c.credentials),
            or_dash(&c.used_by)
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn show_command(settings: &Settings, name: &str) -> anyhow::Result<ExitCode> {
    let db = storage::connect(&settings.database).await?;
    let Some(found) = summary(&db, name).await? else {
        eprintln!("error: no connection named {name:?} has been applied");
        return Ok(ExitCode::FAILURE);
    };
    print!("{}", to_toml(&found.definition)?);
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn delete_command(settings: &Settings, name: &str) -> anyhow::Result<ExitCode> {
    let db = storage::connect(&settings.database).await?;
    match delete(&db, name).await {
        Ok(()) => {
            println!("connection {name} deleted, with its stored credentials");
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ (ConnectionError::Unknown(_) | ConnectionError::InUse { .. })) => {
            eprintln!("error: {e}");
            Ok(ExitCode::FAILURE)
        }
        Err(ConnectionError::Other(e)) => Err(e),
    }
}
