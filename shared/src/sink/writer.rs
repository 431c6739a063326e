//! Writing one page: upsert the mapped rows, record failed records, advance the checkpoint and the run's
//! counts — all in one transaction (invariant 2). A crash before commit leaves the previous page's
//! checkpoint; one after leaves this one's. Either way the next attempt resumes exactly there.

use std::collections::HashMap;

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, Statement, Value,
};

use super::table::quote;
use crate::checkpoint::{self, Track};
use crate::mapping::Mapping;
use crate::runs::{self, Lease, RunError};

/// Postgres accepts at most 65,535 bind parameters per statement; stay well below.
const MAX_PARAMS: usize = 30_000;

/// A page ready to be written: mapped rows, records that failed mapping, and the watermark it reaches.
#[derive(Debug, Default)]
pub struct PageWrite {
    /// `(record key, values in mapping.columns order)`.
    pub rows: Vec<(String, Vec<Value>)>,
    /// `(record key, message, source payload as JSON, values mapped before the failure as JSON)`.
    pub failures: Vec<(String, String, String, String)>,
    pub rows_read: u64,
    pub checkpoint: Option<crate::checkpoint::Checkpoint>,
    /// `(record key, reason, source payload)` parked by a `defer` lookup.
    pub deferred: Vec<(String, String, String)>,
    /// Keys of records handled in this page that must leave the parking (integrations with `defer`).
    pub unpark: Vec<String>,
    /// Keys of written records whose earlier failures are now resolved (when any are open).
    pub resolve: Vec<String>,
    /// The coupling of each of `rows`, in order (`map_page` makes them), stored with them.
    pub couplings: Vec<super::coupling::Coupling>,
    /// Records left out of `rows` because their coupling says the target already holds these values.
    pub unchanged: u64,
    /// Records the mapping left out (a `skip` lookup did not resolve).
    pub skipped: u64,
    /// `rows` and `couplings` already turned into statements (`prepare`), so the write itself is only
    /// their execution.
    pub prepared: Option<Prepared>,
}

/// A page's Postgres statements, built ahead of its transaction: `(rows, upsert)` pairs and the
/// couplings' insert.
#[derive(Debug)]
pub struct Prepared {
    upserts: Vec<(u64, Statement)>,
    couplings: Option<Statement>,
    /// Rows `dedupe` left out.
    collapsed: u64,
}

impl PageWrite {
    /// Builds the page's statements now (pure CPU: dedupe, one array per column), so a stage ahead of
    /// the writer can do it while the previous page is written. Only once `rows` are final (after
    /// `coupling::skip_unchanged`). Postgres only: SQLite's upsert reads inside the transaction, so
    /// elsewhere it is left to `write_page`.
    pub fn prepare(&mut self, backend: DbBackend, mapping: &Mapping, integration: &str) {
        if backend != DbBackend::Postgres || self.prepared.is_some() {
            return;
        }
        let (rows, collapsed) = dedupe(mapping, std::mem::take(&mut self.rows));
        self.prepared = Some(Prepared {
            collapsed,
            upserts: upsert_statements(backend, mapping, rows),
            couplings: super::coupling::record_statement(
                backend,
                integration,
                &std::mem::take(&mut self.couplings),
            ),
        });
    }
}

/// What became of each row of a page: together they add up to the rows read.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PageCounts {
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub failed: u64,
    pub skipped: u64,
    pub deferred: u64,
    /// Rows of a page left out because a later row had the same target key although the source key
    /// should be unique: the declared key is not (the run ends `partial`).
    pub collapsed: u64,
    /// The same, where the definition folds records on purpose (`Mapping::folds_records`).
    pub folded: u64,
}

/// Writes a page under the run's lease. Fails with `RunError::LeaseLost` (and writes nothing) when
/// another claim has taken the run over. The page's checkpoint is saved as `track` says; a page
/// written without one (a replay, a retry by key) moves no checkpoint.
pub async fn write_page(
    db: &DatabaseConnection,
    lease: &Lease,
    mapping: &Mapping,
    mut page: PageWrite,
    track: Option<&Track>,
) -> Result<PageCounts, RunError> {
    if track.is_none() {
        page.checkpoint = None;
    }
    let backend = db.get_database_backend();
    page.prepare(backend, mapping, &lease.integration);
    let txn = crate::storage::begin_write(db).await?;
    let mut counts = match page.prepared.take() {
        Some(prepared) => {
            let mut counts = execute_upserts(&txn, prepared.upserts).await?;
            if let Some(couplings) = prepared.couplings {
                txn.execute_raw(couplings).await?;
            }
            counts.collapsed = prepared.collapsed;
            counts
        }
        None => {
            let (rows, collapsed) = dedupe(mapping, page.rows);
            let mut counts = if backend == DbBackend::Sqlite {
                super::sqlite::upsert(&txn, mapping, rows).await?
            } else {
                execute_upserts(&txn, upsert_statements(backend, mapping, rows)).await?
            };
            super::coupling::record(&txn, &lease.integration, &page.couplings).await?;
            counts.collapsed = collapsed;
            counts
        }
    };
    if mapping.folds_records() {
        counts.folded = std::mem::take(&mut counts.collapsed);
    }
    counts.skipped = page.skipped;
    counts.deferred = page.deferred.len() as u64;
    // A page read in source order meets records again (the overlap, a full re-read): one whose failure
    // is already open for the same payload was read again unchanged, and is not logged twice.
    counts.failed = runs::record_failures(&txn, lease, &page.failures, track.is_some()).await?;
    counts.unchanged += page.unchanged + (page.failures.len() as u64 - counts.failed);
    if !page.resolve.is_empty() {
        runs::resolve_failures(&txn, &lease.integration, &page.resolve).await?;
    }
    if !page.unpark.is_empty() || !page.deferred.is_empty() {
        crate::lookup::park_and_unpark(&txn, lease, &page.unpark, &page.deferred).await?;
    }
    if let (Some(checkpoint), Some(track)) = (&page.checkpoint, track) {
        checkpoint::save(
            &txn,
            &lease.integration,
            checkpoint,
            &track.measured,
            track.forward_only,
        )
        .await?;
    }
    runs::add_progress(
        &txn,
        lease,
        page.rows_read,
        counts,
        page.checkpoint.as_ref(),
    )
    .await?;
    txn.commit().await?;
    Ok(counts)
}

/// Rows of one page that map to the same target key (a source key that is not unique, a key
/// transform that folds two into one): the last one wins, since one statement must not touch a row
/// twice. Returns the rows to write and how many were left out (`collapsed`, reported on the run).
fn dedupe(mapping: &Mapping, rows: Vec<(String, Vec<Value>)>) -> (Vec<Vec<Value>>, u64) {
    let mut position: HashMap<String, usize> = HashMap::with_capacity(rows.len());
    let mut unique: Vec<Vec<Value>> = Vec::with_capacity(rows.len());
    let mut collapsed = 0;
    for (_, values) in rows {
        let key = key_text(mapping, &values);
        match position.get(&key) {
            Some(&at) => {
                unique[at] = values;
                collapsed += 1;
            }
            None => {
                position.insert(key, unique.len());
                unique.push(values);
            }
        }
    }
    (unique, collapsed)
}

/// The target key of a row as text, cheaply: the common key is one text column, copied as is.
fn key_text(mapping: &Mapping, values: &[Value]) -> String {
    let mut key = String::new();
    for &i in &mapping.key_columns {
        match &values[i] {
            Value::String(Some(text)) => key.push_str(text),
            other => key.push_str(&format!("{other:?}")),
        }
        key.push('\u{1f}');
    }
    key
}

/// `INSERT … ON CONFLICT DO UPDATE … WHERE changed`, counting inserts, updates and unchanged rows from
/// what the statement returns (a row comes back only when it was written; `xmax = 0` marks an insert).
///
/// On Postgres a page is one statement over `unnest` of one array per column: a fixed, short statement
/// (planned once, cached) with one parameter per column instead of one per value, which is what makes
/// big pages cheap. Elsewhere it is a multi-row `VALUES`, chunked under the parameter limit; SQLite has
/// its own statements (`super::sqlite`).
fn upsert_statements(
    backend: DbBackend,
    mapping: &Mapping,
    rows: Vec<Vec<Value>>,
) -> Vec<(u64, Statement)> {
    let mut statements = Vec::new();
    if rows.is_empty() {
        return statements;
    }
    let rows = if backend == DbBackend::Postgres {
        let n = rows.len() as u64;
        match super::unnest::statement(mapping, rows) {
            Ok(statement) => {
                statements.push((n, statement));
                Vec::new()
            }
            Err(rows) => rows,
        }
    } else {
        rows
    };
    let chunk = (MAX_PARAMS / mapping.columns.len()).max(1);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let batch: Vec<Vec<Value>> = rows.by_ref().take(chunk).collect();
        statements.push((
            batch.len() as u64,
            values_statement(backend, mapping, batch),
        ));
    }
    statements
}

/// Runs `upsert_statements`' statements, adding up what each answers.
async fn execute_upserts(
    txn: &DatabaseTransaction,
    statements: Vec<(u64, Statement)>,
) -> Result<PageCounts, DbErr> {
    let mut counts = PageCounts::default();
    for (n, statement) in statements {
        let Some(row) = txn.query_one_raw(statement).await? else {
            continue;
        };
        let written = row.try_get_by_index::<i64>(0)? as u64;
        let inserted = row.try_get_by_index::<i64>(1)? as u64;
        counts.inserted += inserted;
        counts.updated += written - inserted;
        counts.unchanged += n - written;
    }
    Ok(counts)
}

fn values_statement(backend: DbBackend, mapping: &Mapping, batch: Vec<Vec<Value>>) -> Statement {
    let tuple = format!("({})", vec!["?"; mapping.columns.len()].join(","));
    let tuples = vec![tuple.as_str(); batch.len()].join(", ");
    let sql = insert_sql(mapping, &format!("VALUES {tuples}"));
    crate::storage::statement(backend, &sql, batch.into_iter().flatten())
}

/// The parts of `INSERT INTO t (columns) … ON CONFLICT (key) <conflict>` both engines share. An existing
/// row is rewritten only when a non-key column differs; `differs` spells that test for the engine, given
/// the existing and the incoming column references.
pub(super) struct Upsert {
    pub table: String,
    pub columns: Vec<String>,
    pub key: String,
    pub conflict: String,
}

pub(super) fn upsert_parts(
    mapping: &Mapping,
    differs: impl Fn(&[String], &[String]) -> String,
) -> Upsert {
    let table = quote(&mapping.table);
    let columns: Vec<String> = mapping.columns.iter().map(|c| quote(&c.name)).collect();
    let key: Vec<&str> = mapping
        .key_columns
        .iter()
        .map(|&i| columns[i].as_str())
        .collect();
    let others: Vec<&str> = (0..columns.len())
        .filter(|i| !mapping.key_columns.contains(i))
        .map(|i| columns[i].as_str())
        .collect();
    let conflict = if others.is_empty() {
        // Only key columns: an existing row can never differ.
        "DO NOTHING".to_string()
    } else {
        let set: Vec<String> = others
            .iter()
            .map(|c| format!("{c} = EXCLUDED.{c}"))
            .collect();
        let current: Vec<String> = others.iter().map(|c| format!("{table}.{c}")).collect();
        let incoming: Vec<String> = others.iter().map(|c| format!("EXCLUDED.{c}")).collect();
        format!(
            "DO UPDATE SET {} WHERE {}",
            set.join(", "),
            differs(&current, &incoming)
        )
    };
    Upsert {
        key: key.join(", "),
        table,
        columns,
        conflict,
    }
}

/// `INSERT INTO t (…) <rows> ON CONFLICT (key) DO UPDATE … WHERE (changed)`, answering one row: how
/// many rows were written and how many of those were inserts (`xmax = 0`), so the counts cost no
/// per-row traffic. Postgres only.
pub(super) fn insert_sql(mapping: &Mapping, rows: &str) -> String {
    let Upsert {
        table,
        columns,
        key,
        conflict,
    } = upsert_parts(mapping, |current, incoming| {
        format!(
            "({}) IS DISTINCT FROM ({})",
            current.join(", "),
            incoming.join(", ")
        )
    });
    format!(
        "WITH written AS (INSERT INTO {table} ({}) {rows} ON CONFLICT ({key}) {conflict} \
         RETURNING (xmax = 0) AS inserted) \
         SELECT count(*), count(*) FILTER (WHERE inserted) FROM written",
        columns.join(", "),
    )
}
