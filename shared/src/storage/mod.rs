//! Ferry's database: connecting and migrating. Ferry's own tables are `ferry_*`; synced target tables
//! live beside them in the same database.

pub mod clock;
pub mod dialect;
pub mod entities;
pub mod migrations;

use std::time::Duration;

use sea_orm::{ConnectOptions, Database, DatabaseConnection, DatabaseTransaction, DbErr};

pub use dialect::{
    Capture, CaptureState, Dialect, Landing, Secured, is_key_taken, quote, secure_url, tls_problems,
};

use crate::settings::DatabaseSettings;

/// Why the database could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// Said once, with where and why: no source chain repeats it (`reach`).
    #[error("cannot connect to the database at {at}: {cause}")]
    Connect { at: String, cause: String },
    /// A connection Ferry made with `sslmode=verify-full` because the URL named a host that is not
    /// loopback and no `sslmode`: says how to satisfy it or opt out.
    #[error(
        "failed to connect to PostgreSQL at {host} with sslmode=verify-full, Ferry's default for a \
         host that is not loopback ({cause}). Give the server a certificate for {host} that this \
         machine trusts (or name its CA in database.tls_ca_file), or opt out by writing \
         the mode into database.url: sslmode=require (encrypted, certificate not checked) or \
         sslmode=disable (plain text)"
    )]
    TlsDefault { host: String, cause: String },
    /// The server's TLS certificate failed the check (an unknown CA, another host name, expired):
    /// says what it was checked against.
    #[error(
        "the TLS certificate of PostgreSQL at {at} is not trusted ({cause}). Ferry checked it \
         against {trusted}, for the host name in database.url: name the CA that signed the \
         server's certificate in database.tls_ca_file (PEM), and connect by a name the \
         certificate carries"
    )]
    Certificate {
        at: String,
        cause: String,
        trusted: String,
    },
    #[error(transparent)]
    CaFile(#[from] crate::ca_file::CaFileError),
    #[error("failed to apply Ferry's migrations: {0}")]
    Migrate(#[source] DbErr),
}

/// Connects and applies pending migrations, so every binary starts on the current schema. A
/// PostgreSQL host that is not loopback is connected to with `sslmode=verify-full` unless the URL
/// names a mode, and so is any host when a CA is given (`secure_url`).
pub async fn connect(settings: &DatabaseSettings) -> Result<DatabaseConnection, StorageError> {
    let ca_file = settings.tls_ca_file.as_deref();
    if let Some(ca_file) = ca_file {
        crate::ca_file::read(ca_file, "database.tls_ca_file")?;
    }
    let secured = secure_url(&settings.url, ca_file);
    let explain = |error: StorageError| match (&secured.verified_host, error) {
        (Some(host), StorageError::Connect { cause, .. }) => StorageError::TlsDefault {
            host: host.clone(),
            cause,
        },
        (None, StorageError::Connect { at, cause })
            if crate::ca_file::is_certificate_failure(&cause) =>
        {
            StorageError::Certificate {
                at,
                cause,
                trusted: dialect::trusted(&settings.url, ca_file),
            }
        }
        (_, error) => error,
    };
    let timeouts = session_timeouts(settings);
    let mut options = ConnectOptions::new(secured.url.clone());
    options
        .max_connections(settings.max_connections)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(sqlite_options)
        .map_sqlx_postgres_opts(move |options| options.options(timeouts.clone()));
    let db = match Database::connect(options).await {
        Ok(db) => db,
        Err(e) => return Err(explain(unreachable(&secured.url, e).await)),
    };
    migrate(&db, &secured.url).await.map_err(explain)?;
    Ok(db)
}

/// The error for a database that could not be connected to: its host and port, and the innermost
/// cause. A pool that gave up says only that it timed out, so a refused or unanswered TCP connection
/// is named instead when that is what happened.
pub(crate) async fn unreachable(url: &str, e: DbErr) -> StorageError {
    let at = crate::reach::address(url);
    let said = match &e {
        DbErr::Conn(inner) => inner.to_string(),
        other => other.to_string(),
    };
    let cause = match said.contains("pool timed out") && !url.starts_with("sqlite:") {
        true => crate::reach::why_unreachable(&at).await.unwrap_or(said),
        false => said,
    };
    StorageError::Connect { at, cause }
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

/// Applies pending migrations, one process at a time (see `Dialect::migrate`).
async fn migrate(db: &DatabaseConnection, url: &str) -> Result<(), StorageError> {
    Dialect::migrate(db, url).await
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

/// Begins a transaction that will write (see `Dialect::begin_write`).
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    Dialect::begin_write(db).await
}

/// Begins a write transaction whose writes to integrations' local tables are Ferry's own: capture
/// triggers log none of them, so an import is never echoed back by an export. Commit it with
/// `commit_own_writes`.
pub async fn begin_own_writes(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    let txn = Dialect::begin_write(db).await?;
    Dialect::own_writes(&txn).await?;
    Ok(txn)
}

/// Commits a transaction `begin_own_writes` began.
pub async fn commit_own_writes(txn: DatabaseTransaction) -> Result<(), DbErr> {
    Dialect::end_own_writes(&txn).await?;
    txn.commit().await
}

/// A statement with `?` placeholders, written as the connection's engine wants them
/// (`Dialect::statement`).
pub fn statement(
    dialect: impl Into<Dialect>,
    text: &str,
    values: impl IntoIterator<Item = sea_orm::Value>,
) -> sea_orm::Statement {
    dialect.into().statement(text, values)
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
