//! Ferry's database: connecting and migrating. Ferry's own tables are `ferry_*`; synced target tables
//! live beside them in the same database.

pub mod clock;
pub mod entities;
pub mod migrations;

use std::time::Duration;

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};
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
    let timeouts = session_timeouts(settings);
    let mut options = ConnectOptions::new(settings.url.clone());
    options
        .max_connections(settings.max_connections)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(sqlite_options)
        .map_sqlx_postgres_opts(move |options| options.options(timeouts.clone()));
    let db = Database::connect(options)
        .await
        .map_err(StorageError::Connect)?;
    migrate(&db, &settings.url).await?;
    Ok(db)
}

/// The PostgreSQL session settings that keep one stuck session from stalling the rest (see
/// `config/default.toml`). The migration session does without them: it waits for the migration lock
/// as long as another process migrates.
fn session_timeouts(settings: &DatabaseSettings) -> [(&'static str, String); 3] {
    [
        ("lock_timeout", settings.lock_timeout_ms),
        ("statement_timeout", settings.statement_timeout_ms),
        (
            "idle_in_transaction_session_timeout",
            settings.idle_in_transaction_timeout_ms,
        ),
    ]
    .map(|(name, ms)| (name, ms.to_string()))
}

/// An arbitrary constant naming Ferry's migration lock among the database's advisory locks.
const MIGRATION_LOCK: i64 = 0x6665_7272_795f_6d67; // "ferry_mg"

/// Applies pending migrations. On Postgres it holds an advisory lock while doing so, because processes
/// starting together on an empty database (a compose file's scheduler and workers) would otherwise race
/// on `CREATE TABLE` and the loser would fail to start. The lock is a session lock, so the migrations run
/// on one dedicated connection that holds it; SQLite serialises writers by itself.
async fn migrate(db: &DatabaseConnection, url: &str) -> Result<(), StorageError> {
    if db.get_database_backend() != DbBackend::Postgres {
        return migrations::Migrator::up(db, None)
            .await
            .map_err(StorageError::Migrate);
    }
    let mut options = ConnectOptions::new(url.to_string());
    options
        .max_connections(1)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false);
    let session = Database::connect(options)
        .await
        .map_err(StorageError::Connect)?;
    let lock = |function: &str| {
        Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!("SELECT {function}($1)"),
            [MIGRATION_LOCK.into()],
        )
    };
    session
        .execute_raw(lock("pg_advisory_lock"))
        .await
        .map_err(StorageError::Migrate)?;
    let outcome = migrations::Migrator::up(&session, None).await;
    // Closing the session releases the lock too; unlocking first just makes it prompt.
    let _ = session.execute_raw(lock("pg_advisory_unlock")).await;
    let _ = session.close().await;
    outcome.map_err(StorageError::Migrate)
}

/// How long a SQLite connection waits for another writer before giving up with SQLITE_BUSY. SQLite
/// serialises writers; a page write holds the lock for milliseconds, so waiting is always right.
pub const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// SQLite settings every connection gets: the file is created on first use (`ferry demo` starts from an
/// empty folder), WAL lets readers run beside the one writer, and writers wait rather than fail.
pub fn sqlite_options(
    options: sea_orm::sqlx::sqlite::SqliteConnectOptions,
) -> sea_orm::sqlx::sqlite::SqliteConnectOptions {
    use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
    options
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(SQLITE_BUSY_TIMEOUT)
}

/// Begins a transaction that will write. On SQLite it is `BEGIN IMMEDIATE`: the write lock is taken (or
/// waited for) up front, so a transaction that reads before it writes never fails half-way with
/// SQLITE_BUSY when another connection wrote in between — the SQLite equivalent of the row locks
/// (`SELECT … FOR UPDATE`) Postgres takes inside the same transactions.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    if db.get_database_backend() == DbBackend::Sqlite {
        db.begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        })
        .await
    } else {
        db.begin().await
    }
}

/// A statement with `?` placeholders, written as the backend wants them (`$1, $2, …` on Postgres).
/// Ferry's SQL never has a `?` inside a literal; values always travel as parameters.
pub fn statement(
    backend: sea_orm::DbBackend,
    text: &str,
    values: impl IntoIterator<Item = sea_orm::Value>,
) -> sea_orm::Statement {
    let text = if backend == sea_orm::DbBackend::Postgres {
        let mut out = String::with_capacity(text.len() + 16);
        let mut n = 0;
        for c in text.chars() {
            if c == '?' {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            } else {
                out.push(c);
            }
        }
        out
    } else {
        text.to_string()
    };
    sea_orm::Statement::from_sql_and_values(backend, text, values)
}

/// Whether a database error is worth retrying from the checkpoint: the connection or pool failed, the
/// server is shutting down, or a transaction lost a serialization race. Everything else (a constraint,
/// bad SQL, a type error) will fail the same way again.
pub fn is_retriable(error: &DbErr) -> bool {
    use sea_orm::{RuntimeErr, sqlx};
    match error {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            match e.as_ref() {
                sqlx::Error::Io(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed => true,
                // SQLite: SQLITE_BUSY (5) / SQLITE_LOCKED (6) and their extended codes, left over after
                // the busy timeout.
                sqlx::Error::Database(db)
                    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() =>
                {
                    db.code()
                        .and_then(|code| code.parse::<i32>().ok())
                        .is_some_and(|n| matches!(n & 0xff, 5 | 6))
                }
                sqlx::Error::Database(db) => db.code().is_some_and(|code| {
                    code.starts_with("08")
                        || matches!(
                            code.as_ref(),
                            "57P01" | "57P02" | "57P03" | "40001" | "40P01"
                        )
                }),
                _ => false,
            }
        }
        _ => false,
    }
}
