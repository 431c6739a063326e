//! Delete detection by key-set reconciliation (ARCHITECTURE.md, "Deletes"): BC tracks no deletes, so a reconcile reads
//! only the key fields of the whole source entity (within the integration's filter), staging them in
//! the database a page at a time (`target::key_scan`), and deletes the target rows this integration
//! owns — through its coupling records — whose source key is no longer there and that no live coupling
//! still backs (`target::vanished`), all in one transaction, and only when no more than
//! `deletes.max_share` of the owned rows vanished; otherwise the run fails and deletes nothing. A target
//! row without a coupling of this integration (inserted by someone else, or by another integration) is
//! never deleted, nor is one another coupling still points at.
//!
//! With `deletes.every`, an incremental run reconciles after its delta once that period has passed since
//! the last reconcile committed (`ferry_reconciles`), so no separate schedule is needed.

use chrono::{DateTime, Duration, FixedOffset, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, Value};
use tracing::{info, warn};

use super::error::SyncError;
use crate::mapping::Mapping;
use crate::runs::{self, Lease, RunError};
use crate::sink::coupling::{self, Owned};
use crate::sink::key_scan::KeyScan;
use crate::sink::{quote, removed, vanished};
use crate::source::Source;
use crate::storage::statement;

/// Share of rows a reconcile may delete when the definition does not say.
pub const DEFAULT_MAX_SHARE: f64 = 0.1;

/// Vanished couplings handled per step of the delete: what a reconcile holds in memory.
const GONE_PER_STEP: u64 = 10_000;

/// Reads every source key into a scan, then deletes the owned rows that vanished (or refuses, past
/// `max_share`). The scan is discarded either way.
pub(super) async fn reconcile(
    db: &DatabaseConnection,
    lease: &Lease,
    mapping: &Mapping,
    source: &Source,
    max_share: f64,
) -> Result<(), SyncError> {
    let scan = KeyScan::start(db, &lease.integration, Some(lease.run_id))
        .await
        .map_err(RunError::from)?;
    let result = reconcile_scanned(db, lease, mapping, source, max_share, scan).await;
    if let Err(e) = scan.discard(db).await {
        warn!(run_id = lease.run_id, error = %e, "key scan not discarded; retention sweeps it");
    }
    result
}

async fn reconcile_scanned(
    db: &DatabaseConnection,
    lease: &Lease,
    mapping: &Mapping,
    source: &Source,
    max_share: f64,
    scan: KeyScan,
) -> Result<(), SyncError> {
    let read = source_keys(db, mapping, source, scan).await?;
    let txn = crate::storage::begin_own_writes(db)
        .await
        .map_err(RunError::from)?;
    let (total, gone) = vanished::count(&txn, &lease.integration, scan)
        .await
        .map_err(RunError::from)?;
    info!(
        run_id = lease.run_id,
        total,
        gone,
        seen = read,
        "reconciling"
    );
    if let Some(refusal) = refusal(total, gone as usize, max_share) {
        txn.rollback().await.map_err(RunError::from)?;
        return Err(SyncError::Refused(refusal));
    }
    let mut deleted = 0;
    let mut after = String::new();
    loop {
        let step = vanished::unbacked(&txn, &lease.integration, scan, &after, GONE_PER_STEP)
            .await
            .map_err(RunError::from)?;
        let Some(last) = step.last() else { break };
        after = last.source_key.clone();
        deleted += remove_rows(&txn, mapping, &step).await?;
    }
    vanished::forget(&txn, &lease.integration, scan)
        .await
        .map_err(RunError::from)?;
    runs::add_reconciled(&txn, lease, read, gone as u64, deleted).await?;
    let backend = txn.get_database_backend();
    txn.execute_raw(statement(
        backend,
        "INSERT INTO ferry_reconciles (integration, reconciled_at) VALUES (?, ?) \
         ON CONFLICT (integration) DO UPDATE SET reconciled_at = EXCLUDED.reconciled_at",
        [
            lease.integration.clone().into(),
            Utc::now().fixed_offset().into(),
        ],
    ))
    .await
    .map_err(RunError::from)?;
    crate::storage::commit_own_writes(txn)
        .await
        .map_err(RunError::from)?;
    Ok(())
}

/// Stages the source key of every record within the integration's filter (key fields only) in
/// `scan`, a page at a time; returns how many rows were read.
pub(super) async fn source_keys(
    db: &DatabaseConnection,
    mapping: &Mapping,
    source: &Source,
    scan: KeyScan,
) -> Result<u64, SyncError> {
    let mut read = 0;
    let mut pages = source.read(&mapping.entity, &super::read::keys(mapping));
    while let Some(rows) = pages.next().await {
        let rows = rows?;
        read += rows.len() as u64;
        // A record whose key could not be read would look vanished, and its row would be deleted:
        // the reconcile stops instead.
        let mut keys: Vec<String> = rows.rows.iter().map(|r| mapping.record_key(r)).collect();
        for broken in &rows.undecodable {
            if !mapping
                .source_key
                .iter()
                .all(|k| broken.fields.contains_key(k))
            {
                return Err(SyncError::Refused(format!(
                    "a record of {} cannot be decoded and its key cannot be read ({}), so a \
                     reconcile cannot tell what vanished; nothing was deleted",
                    mapping.entity, broken.reason
                )));
            }
            keys.push(mapping.record_key(&broken.fields));
        }
        scan.add(db, keys).await.map_err(RunError::from)?;
    }
    Ok(read)
}

/// Why a reconcile must not delete `gone` of the `total` owned rows, or `None` when it may. The one
/// place the `max_share` rule lives (runs and previews both ask it).
pub(super) fn refusal(total: i64, gone: usize, max_share: f64) -> Option<String> {
    (total > 0 && gone as f64 > max_share * total as f64).then(|| {
        format!(
            "reconcile would delete {gone} of {total} rows ({:.1}%), more than max_share {}%; \
             nothing was deleted",
            100.0 * gone as f64 / total as f64,
            100.0 * max_share
        )
    })
}

/// Removes the rows of records a tracked source says are gone (`sink::removed`) and forgets their
/// couplings; returns how many rows went. A removed record Ferry never wrote (created and deleted
/// between two runs, or written by no one) removes nothing.
pub(super) async fn remove_removed(
    txn: &impl ConnectionTrait,
    mapping: &Mapping,
    integration: &str,
    keys: &[String],
) -> Result<u64, SyncError> {
    let gone = removed::unbacked(txn, integration, keys)
        .await
        .map_err(RunError::from)?;
    let deleted = remove_rows(txn, mapping, &gone).await?;
    removed::forget(txn, integration, keys)
        .await
        .map_err(RunError::from)?;
    Ok(deleted)
}

/// Deletes the target rows of vanished, unbacked couplings by their key — or, with `deletes.flag`,
/// stamps their flag column — a chunk of keys per statement. Returns how many rows went (a row already
/// removed or flagged by someone else, or named by two vanished couplings, counts once or not at all).
/// Either way the couplings are forgotten after this, so a row that comes back is written (and
/// unflagged) as new.
async fn remove_rows(
    txn: &impl ConnectionTrait,
    mapping: &Mapping,
    gone: &[Owned],
) -> Result<u64, SyncError> {
    let mut keys = Vec::with_capacity(gone.len());
    for owned in gone {
        let key = coupling::key_values(mapping, &owned.target_key).ok_or_else(|| {
            SyncError::Definition(format!(
                "the coupling of {:?} names target key {} which no longer fits the key columns of {}; \
                 nothing was deleted",
                owned.source_key, owned.target_key, mapping.table
            ))
        })?;
        keys.push(key);
    }
    let columns: Vec<String> = mapping
        .key_columns
        .iter()
        .map(|&i| quote(&mapping.columns[i].name))
        .collect();
    let width = columns.len();
    let tuple = format!("({})", vec!["?"; width].join(", "));
    let mut deleted = 0;
    let max_params = crate::storage::Dialect::of(txn).max_params();
    for chunk in keys.chunks((max_params / width).max(1)) {
        let tuples = vec![tuple.as_str(); chunk.len()].join(", ");
        let backend = txn.get_database_backend();
        let values: Vec<Value> = chunk
            .iter()
            .flatten()
            .cloned()
            // Stored as the writer stores them (on SQLite, GUIDs as text), or nothing would match.
            .map(|v| crate::storage::Dialect::from(backend).stored(v))
            .collect();
        let (sql, values) = match &mapping.delete_flag {
            None => (
                format!(
                    "DELETE FROM {} WHERE ({}) IN ({tuples})",
                    quote(&mapping.table),
                    columns.join(", ")
                ),
                values,
            ),
            Some(flag) => (
                format!(
                    "UPDATE {} SET {flag} = ? WHERE ({}) IN ({tuples}) AND {flag} IS NULL",
                    quote(&mapping.table),
                    columns.join(", "),
                    flag = quote(flag),
                ),
                std::iter::once(Utc::now().fixed_offset().into())
                    .chain(values)
                    .collect(),
            ),
        };
        deleted += txn
            .execute_raw(statement(backend, &sql, values))
            .await
            .map_err(RunError::from)?
            .rows_affected();
    }
    Ok(deleted)
}

/// Whether a reconcile is due: `every` has passed since the last one committed (or there was none).
pub(super) async fn due(
    db: &DatabaseConnection,
    integration: &str,
    every_secs: u64,
) -> Result<bool, SyncError> {
    let row = db
        .query_one_raw(statement(
            db.get_database_backend(),
            "SELECT reconciled_at FROM ferry_reconciles WHERE integration = ?",
            [integration.into()],
        ))
        .await
        .map_err(RunError::from)?;
    let last: Option<DateTime<FixedOffset>> = match row {
        Some(row) => row.try_get_by_index(0).map_err(RunError::from)?,
        None => None,
    };
    Ok(match last {
        None => true,
        Some(at) => Utc::now().fixed_offset() - at >= Duration::seconds(every_secs as i64),
    })
}
