//! One seam per database engine (ARCHITECTURE.md, "Code map"): what Ferry's SQL must spell differently
//! on PostgreSQL and on SQLite — placeholders, the write transaction, parameter limits, the clock, column
//! types, table introspection, row locks — is decided here and nowhere else. [`Dialect::of`] is the one
//! place that looks at which engine a connection talks to; the engine modules hold the spellings. A new
//! engine is a new module and a line in each `match` below.

mod capture;
mod compare;
mod couplings;
mod postgres;
mod sqlite;
mod upsert;

pub use capture::{Capture, CaptureState};
pub use couplings::Coupling;
pub use postgres::tls::{Secured, problems as tls_problems, secure as secure_url, trusted};
pub use upsert::Upserted;

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, QueryResult,
    Statement, Value,
};

use sea_orm_migration::MigratorTrait;

use super::StorageError;
use super::migrations::Migrator;
use crate::mapping::types::ColumnType;

/// A quoted SQL identifier. Definitions only admit `[A-Za-z_][A-Za-z0-9_]*`, quoting keeps case as written.
pub fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// A target table as its SQL needs it: the name, the mapped columns in order with their types, and
/// which of them form the key. The sink builds it from the mapping (`sink::shape`), so the dialect knows
/// tables, not definitions.
#[derive(Debug, Clone)]
pub struct TableShape<'a> {
    pub table: &'a str,
    pub columns: Vec<ShapeColumn<'a>>,
    /// Indexes into `columns`.
    pub key_columns: &'a [usize],
}

#[derive(Debug, Clone, Copy)]
pub struct ShapeColumn<'a> {
    pub name: &'a str,
    pub ty: ColumnType,
}

/// The database engine a connection talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    Sqlite,
}

/// One column of an existing table, as the engine declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableColumn {
    pub name: String,
    /// The declared type, lower case: `character varying(20)`, `bigint` (SQLite: the declared affinity
    /// text, e.g. `text`, `integer`).
    pub declared: String,
    pub not_null: bool,
}

/// How a page's rows (and their couplings) reach their tables.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Landing {
    /// `INSERT … ON CONFLICT DO UPDATE … WHERE changed`: a row may already be there.
    #[default]
    Upsert,
    /// A plain `INSERT`, on Postgres: the run began with the target table empty and no couplings of
    /// the integration (a first load), so no row it writes can be there unless something else wrote it
    /// meanwhile, or the source sent a key twice. Either fails the page with a unique violation
    /// (`is_key_taken`), and the run goes on with `Upsert`. It costs Postgres about half an upsert:
    /// no speculative insertion, no probe of the key before each row.
    Insert,
}

/// Whether `e` is a unique violation: under `Landing::Insert`, a key already taken.
pub fn is_key_taken(e: &DbErr) -> bool {
    matches!(
        e.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

/// A page's upsert as far as it can be built outside its transaction (`Dialect::prepare_upsert`).
#[derive(Debug)]
pub struct PageUpsert(Prepared);

#[derive(Debug)]
enum Prepared {
    Statements(Landing, Vec<(u64, Statement)>),
    Rows(Vec<Vec<Value>>),
}

/// What a lookup query needs: the referenced table, the column it selects, and the columns the source
/// tuple is matched against with their declared types.
#[derive(Debug)]
pub struct LookupShape<'a> {
    pub table: &'a str,
    pub select: &'a str,
    pub match_columns: &'a [String],
    pub match_types: &'a [String],
}

impl From<DbBackend> for Dialect {
    /// Ferry runs on PostgreSQL and SQLite (`storage::connect`); anything else speaks PostgreSQL's SQL
    /// as far as Ferry is concerned.
    fn from(backend: DbBackend) -> Dialect {
        match backend {
            DbBackend::Sqlite => Dialect::Sqlite,
            _ => Dialect::Postgres,
        }
    }
}

impl Dialect {
    /// The engine `conn` talks to.
    pub fn of(conn: &impl ConnectionTrait) -> Dialect {
        conn.get_database_backend().into()
    }

    fn backend(self) -> DbBackend {
        match self {
            Dialect::Postgres => DbBackend::Postgres,
            Dialect::Sqlite => DbBackend::Sqlite,
        }
    }

    /// A statement with `?` placeholders, written as the engine wants them (`$1, $2, …` on Postgres).
    /// Ferry's SQL never has a `?` inside a literal; values always travel as parameters.
    pub fn statement(self, text: &str, values: impl IntoIterator<Item = Value>) -> Statement {
        let text = match self {
            Dialect::Postgres => postgres::numbered_placeholders(text),
            Dialect::Sqlite => text.to_string(),
        };
        Statement::from_sql_and_values(self.backend(), text, values)
    }

    /// The most bind parameters Ferry puts in one statement (both engines allow more: Postgres
    /// 65,535, SQLite 32,766; the margin leaves room for a statement's fixed parameters).
    pub fn max_params(self) -> usize {
        match self {
            Dialect::Postgres => postgres::MAX_PARAMS,
            Dialect::Sqlite => sqlite::MAX_PARAMS,
        }
    }

    /// Begins a transaction that will write. On SQLite it takes the write lock up front (`BEGIN
    /// IMMEDIATE`), so a transaction that reads before it writes never fails half-way with
    /// SQLITE_BUSY when another connection wrote in between — the SQLite equivalent of the row locks
    /// (`SELECT … FOR UPDATE`) Postgres takes inside the same transactions.
    pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
        match Dialect::of(db) {
            Dialect::Postgres => sea_orm::TransactionTrait::begin(db).await,
            Dialect::Sqlite => sqlite::begin_immediate(db).await,
        }
    }

    /// `column`'s value as JSON text (`to_json` on PostgreSQL, `json_quote` on SQLite): how an export
    /// reads local rows whatever their column types.
    pub fn json_text(self, column: &str) -> String {
        match self {
            Dialect::Postgres => format!("to_json({column})::text"),
            Dialect::Sqlite => format!("json_quote({column})"),
        }
    }

    /// The current time, as stored in a timestamp column (the database's clock: see `storage::clock`).
    pub fn now(self) -> &'static str {
        match self {
            Dialect::Postgres => postgres::NOW,
            Dialect::Sqlite => sqlite::NOW,
        }
    }

    /// The current time plus one `?` parameter of milliseconds (an `i64`).
    pub fn after(self) -> &'static str {
        match self {
            Dialect::Postgres => postgres::AFTER,
            Dialect::Sqlite => sqlite::AFTER,
        }
    }

    /// Milliseconds from now until the timestamp `column` (negative once it has passed), as a float.
    pub fn millis_until(self, column: &str) -> String {
        match self {
            Dialect::Postgres => postgres::millis_until(column),
            Dialect::Sqlite => sqlite::millis_until(column),
        }
    }

    /// What follows a created table's column list. On Postgres, pages kept 15 % free: a row a delta
    /// updates then fits on its own page and the update is heap-only (HOT), touching no index, where
    /// a table filled by a bulk load to 100 % makes every update write every index again (measured
    /// on 1,000,000 rows: 1,000 updates 110–128 ms at 100, 34–43 ms at 85).
    pub fn table_options(self) -> &'static str {
        match self {
            Dialect::Postgres => " WITH (fillfactor = 85)",
            Dialect::Sqlite => "",
        }
    }

    /// The column type in `CREATE TABLE`.
    pub fn column_sql(self, ty: ColumnType) -> String {
        match self {
            Dialect::Postgres => postgres::column_sql(ty),
            Dialect::Sqlite => sqlite::column_sql(ty),
        }
    }

    /// A value as the engine stores it in a column of Ferry's making (SQLite keeps GUIDs as text).
    pub fn stored(self, value: Value) -> Value {
        match self {
            Dialect::Postgres => value,
            Dialect::Sqlite => sqlite::stored(value),
        }
    }

    /// What a `SELECT` appends to share-lock the rows it reads until the transaction ends (`FOR
    /// SHARE`); nothing on SQLite, whose one writer at a time already excludes the race.
    pub fn share_lock(self) -> &'static str {
        match self {
            Dialect::Postgres => " FOR SHARE",
            Dialect::Sqlite => "",
        }
    }

    /// Whether the engine's declared column types are real types a shape should adopt (Postgres),
    /// rather than affinities (SQLite), where the types derived from `$metadata` stand.
    pub fn adopts_column_types(self) -> bool {
        matches!(self, Dialect::Postgres)
    }

    /// The columns of `table` (an unquoted name), in table order; empty when it does not exist.
    pub async fn columns(
        conn: &impl ConnectionTrait,
        table: &str,
    ) -> Result<Vec<TableColumn>, DbErr> {
        match Dialect::of(conn) {
            Dialect::Postgres => postgres::columns(conn, table).await,
            Dialect::Sqlite => sqlite::columns(conn, table).await,
        }
    }

    /// The column lists of `table`'s primary key and unique indexes that an upsert's `ON CONFLICT`
    /// can name; empty when there are none (or no table).
    pub async fn unique_keys(
        conn: &impl ConnectionTrait,
        table: &str,
    ) -> Result<Vec<Vec<String>>, DbErr> {
        match Dialect::of(conn) {
            Dialect::Postgres => postgres::unique_keys(conn, table).await,
            Dialect::Sqlite => sqlite::unique_keys(conn, table).await,
        }
    }

    /// Whether the engine enforces a declared length or precision (`varchar(20)`, `numeric(5,2)`);
    /// SQLite stores what it is given.
    pub fn enforces_widths(self) -> bool {
        matches!(self, Dialect::Postgres)
    }

    /// Applies pending migrations. On Postgres under an advisory lock, because processes starting
    /// together on an empty database (a compose file's scheduler and workers) would otherwise race on
    /// `CREATE TABLE` and the loser would fail to start; SQLite serialises writers by itself.
    pub async fn migrate(db: &DatabaseConnection, url: &str) -> Result<(), StorageError> {
        match Dialect::of(db) {
            Dialect::Postgres => postgres::migrate_locked(url).await,
            Dialect::Sqlite => Migrator::up(db, None).await.map_err(StorageError::Migrate),
        }
    }

    /// Whether the engine's page statements can be built before the page's transaction (see
    /// `prepare_upsert`).
    pub fn prepares_ahead(self) -> bool {
        matches!(self, Dialect::Postgres)
    }

    /// Builds a page's write of unique-keyed `rows` ahead of its transaction where the engine can
    /// (Postgres: pure CPU, so a stage ahead of the writer does it while the previous page is written).
    /// SQLite's upsert reads inside the transaction, so there the rows wait for it, and always land by
    /// upsert.
    pub fn prepare_upsert(
        self,
        shape: &TableShape<'_>,
        rows: Vec<Vec<Value>>,
        landing: Landing,
    ) -> PageUpsert {
        match self {
            Dialect::Postgres => PageUpsert(Prepared::Statements(
                landing,
                postgres::upsert::statements(shape, rows, landing),
            )),
            Dialect::Sqlite => PageUpsert(Prepared::Rows(rows)),
        }
    }

    /// Upserts a page inside the page's transaction, counting inserted, updated and unchanged rows.
    pub async fn upsert(
        txn: &DatabaseTransaction,
        shape: &TableShape<'_>,
        page: PageUpsert,
    ) -> Result<Upserted, DbErr> {
        match (Dialect::of(txn), page.0) {
            (_, Prepared::Statements(landing, statements)) => {
                postgres::upsert::execute(txn, statements, landing).await
            }
            (Dialect::Postgres, Prepared::Rows(rows)) => {
                let statements = postgres::upsert::statements(shape, rows, Landing::Upsert);
                postgres::upsert::execute(txn, statements, Landing::Upsert).await
            }
            (Dialect::Sqlite, Prepared::Rows(rows)) => {
                sqlite::upsert::upsert(txn, shape, rows).await
            }
        }
    }

    /// Statements reading the stored hashes of `keys` (source keys of `integration`) whose target row
    /// still exists, as `(source key, hash)` rows: one statement over an array on Postgres, `IN` lists
    /// chunked under the parameter limit on SQLite.
    pub fn known_hashes(
        self,
        integration: &str,
        shape: &TableShape<'_>,
        keys: Vec<String>,
    ) -> Vec<Statement> {
        match self {
            Dialect::Postgres => postgres::couplings::known_hashes(integration, shape, keys),
            Dialect::Sqlite => sqlite::couplings::known_hashes(integration, shape, keys),
        }
    }

    /// Statements reading the source version each of `keys` (source keys of `integration`) was last
    /// written with, as `(source key, version)` rows: one index probe per key over an array on
    /// Postgres, `IN` lists chunked under the parameter limit on SQLite.
    pub fn coupling_versions(self, integration: &str, keys: Vec<String>) -> Vec<Statement> {
        match self {
            Dialect::Postgres => postgres::couplings::versions(integration, keys),
            Dialect::Sqlite => sqlite::couplings::versions(integration, keys),
        }
    }

    /// Statements upserting a page's couplings (one per source key in `unique`).
    pub fn coupling_statements(
        self,
        integration: &str,
        unique: &[&Coupling],
        landing: Landing,
    ) -> Vec<Statement> {
        match self {
            Dialect::Postgres => postgres::couplings::record(integration, unique, landing),
            Dialect::Sqlite => sqlite::couplings::record(integration, unique),
        }
    }

    /// Compares mapped `rows` with the target table, in order: per row `#`, whether the target has its
    /// key, then per mapped column (differs, target value as JSON text, mapped value as JSON text),
    /// compared with the upsert's own test. `None` when the table does not exist.
    pub async fn compare(
        db: &impl ConnectionTrait,
        shape: &TableShape<'_>,
        rows: &[(String, Vec<Value>)],
    ) -> Result<Option<Vec<QueryResult>>, DbErr> {
        match Dialect::of(db) {
            Dialect::Postgres => postgres::compare::compare(db, shape, rows).await,
            Dialect::Sqlite => sqlite::compare::compare(db, shape, rows).await,
        }
    }

    /// Rows of `(match tuple as text…, selected value as JSON text)` for the `wanted` tuples of one
    /// lookup: one statement over arrays on Postgres (an index probe per tuple), text-cast `IN` lists on
    /// SQLite, which has no arrays to cast.
    pub async fn find(
        db: &impl ConnectionTrait,
        lookup: &LookupShape<'_>,
        wanted: &[Vec<String>],
    ) -> Result<Vec<QueryResult>, DbErr> {
        match Dialect::of(db) {
            Dialect::Postgres => postgres::lookup::find(db, lookup, wanted).await,
            Dialect::Sqlite => sqlite::lookup::find(db, lookup, wanted).await,
        }
    }

    /// Statements adding source keys to key scan `scan_id` (`ferry_scanned_keys`; a key seen twice counts
    /// once): one array on Postgres, `VALUES` chunks on SQLite.
    pub fn scanned_keys(self, scan_id: i64, keys: Vec<String>) -> Vec<Statement> {
        match self {
            Dialect::Postgres => postgres::keys::scanned(scan_id, keys),
            Dialect::Sqlite => sqlite::keys::scanned(scan_id, keys),
        }
    }

    /// Serializes whole-definition changes (`apply`) between processes: Postgres takes a
    /// transaction-scoped advisory lock; SQLite's `BEGIN IMMEDIATE` already serializes them.
    pub async fn lock_applies(txn: &DatabaseTransaction) -> Result<(), DbErr> {
        match Dialect::of(txn) {
            Dialect::Postgres => postgres::lock_applies(txn).await,
            Dialect::Sqlite => Ok(()),
        }
    }
}
