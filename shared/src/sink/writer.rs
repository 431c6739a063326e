//! Writing one page's rows: the upsert (its SQL is the dialect's) and the couplings, inside the page's
//! transaction, which also holds its failures, checkpoint and counts (invariant 2, `sync/commit.rs`).

use std::collections::HashMap;

use sea_orm::{ConnectionTrait, DatabaseTransaction, DbErr, Statement, Value};

use crate::mapping::Mapping;
use crate::storage::Dialect;
use crate::storage::dialect::{Landing, PageUpsert, Upserted};

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
    /// Source keys of records a delta response says are gone: their owned rows leave the target in
    /// this page's transaction (`sink::removed`).
    pub removed: Vec<String>,
    /// Two-way sync: change log entries this page settles (a remote version that won over a local
    /// change, or a conflict held for an operator), removed in its transaction.
    pub settled_changes: Vec<i64>,
    /// Two-way sync: records changed on both sides, left out of `rows`, stored for an operator
    /// (`conflict = "manual"`) in this page's transaction.
    pub conflicts: Vec<crate::conflicts::Noted>,
    /// Two-way sync: source keys whose couplings go (a deletion conflict resolved by removing the
    /// coupling), in this page's transaction.
    pub uncouple: Vec<String>,
    /// Two-way sync: conflicts met in this page, whatever the policy did with them.
    pub conflicts_met: u64,
    /// `rows` and `couplings` already turned into statements (`prepare`), so the write itself is only
    /// their execution.
    pub prepared: Option<Prepared>,
    /// How the rows and couplings land: by upsert, or by plain insert on a first load into an empty
    /// table (the run decides, `sync/import.rs`).
    pub landing: Landing,
}

/// A page's statements, built ahead of its transaction: the upsert and the couplings' insert.
#[derive(Debug)]
pub struct Prepared {
    upsert: PageUpsert,
    couplings: Vec<Statement>,
    /// Rows `dedupe` left out.
    collapsed: u64,
}

impl PageWrite {
    /// Builds the page's statements now (pure CPU: dedupe, one array per column), so a stage ahead of
    /// the writer can do it while the previous page is written. Only once `rows` are final (after
    /// `coupling::skip_unchanged`). Only where the engine builds statements ahead
    /// (`Dialect::prepares_ahead`); elsewhere it is left to `write_page`.
    pub fn prepare(&mut self, dialect: Dialect, mapping: &Mapping, integration: &str) {
        if !dialect.prepares_ahead() || self.prepared.is_some() {
            return;
        }
        let (rows, collapsed) = dedupe(mapping, std::mem::take(&mut self.rows));
        self.prepared = Some(Prepared {
            collapsed,
            upsert: dialect.prepare_upsert(&super::shape(mapping), rows, self.landing),
            couplings: super::coupling::record_statements(
                dialect,
                integration,
                &std::mem::take(&mut self.couplings),
                self.landing,
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
    /// Rows removed because the source said their record is gone (a tracked source's delta).
    pub deleted: u64,
}

/// Writes a page's rows and their couplings inside the page's transaction `txn` (which the sync stage
/// opens, and in which it also records the page's failures, checkpoint and counts: invariant 2). Counts
/// what became of the rows; `failed` and the failures' share of `unchanged` are the caller's to add.
pub async fn write_rows(
    txn: &DatabaseTransaction,
    mapping: &Mapping,
    integration: &str,
    page: &mut PageWrite,
) -> Result<PageCounts, DbErr> {
    let mut counts = match page.prepared.take() {
        Some(prepared) => {
            let mut counts =
                counted(Dialect::upsert(txn, &super::shape(mapping), prepared.upsert).await?);
            for couplings in prepared.couplings {
                txn.execute_raw(couplings).await?;
            }
            counts.collapsed = prepared.collapsed;
            counts
        }
        None => {
            let (rows, collapsed) = dedupe(mapping, std::mem::take(&mut page.rows));
            let shape = super::shape(mapping);
            let upsert = Dialect::of(txn).prepare_upsert(&shape, rows, page.landing);
            let mut counts = counted(Dialect::upsert(txn, &shape, upsert).await?);
            super::coupling::record(txn, integration, &page.couplings, page.landing).await?;
            counts.collapsed = collapsed;
            counts
        }
    };
    if mapping.folds_records() {
        counts.folded = std::mem::take(&mut counts.collapsed);
    }
    counts.skipped = page.skipped;
    counts.deferred = page.deferred.len() as u64;
    counts.unchanged += page.unchanged;
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

/// The target key of a row as text, cheaply: the common key is one text column, copied as is; a
/// composite key is each part's length and text, so no part's text can pass for a separator.
fn key_text(mapping: &Mapping, values: &[Value]) -> String {
    if let [i] = mapping.key_columns[..]
        && let Value::String(Some(text)) = &values[i]
    {
        return text.clone();
    }
    let mut key = String::new();
    for &i in &mapping.key_columns {
        let part = match &values[i] {
            Value::String(Some(text)) => text.clone(),
            other => format!("{other:?}"),
        };
        key.push_str(&format!("{}:{part}", part.len()));
    }
    key
}

/// The upsert's counts as the page's.
fn counted(upserted: Upserted) -> PageCounts {
    PageCounts {
        inserted: upserted.inserted,
        updated: upserted.updated,
        unchanged: upserted.unchanged,
        ..PageCounts::default()
    }
}
