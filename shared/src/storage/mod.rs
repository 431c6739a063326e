//! Ferry's database: connecting and migrating. Ferry's own tables are `ferry_*`; synced target tables
//! live beside them in the same database.

pub mod entities;
pub mod migrations;

use std::time::Duration;

use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};
use sea_orm_migration::MigratorTrait;

use crate::settings::DatabaseSettings;

/// Why the database could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("failed to connect to the database: {0}")]
    Connect(#[source] DbErr),
    #[error("failed to apply Ferry's migrations: {0}")]
    Migrate(#[source] DbErr),
}

/// Connects and applies pending migrations, so every binary starts on the current schema.
pub async fn connect(settings: &DatabaseSettings) -> Result<DatabaseConnection, StorageError> {
    let mut options = ConnectOptions::new(settings.url.clone());
    options
        .max_connections(settings.max_connections)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false);
    let db = Database::connect(options)
        .await
        .map_err(StorageError::Connect)?;
    migrations::Migrator::up(&db, None)
        .await
        .map_err(StorageError::Migrate)?;
    Ok(db)
}
