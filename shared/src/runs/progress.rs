//! What a running run records as it goes, each inside a fenced write: page counts and checkpoint,
//! a reconcile's deletes, where it started, and the records that failed.

use chrono::Utc;
use sea_orm::{ConnectionTrait, Value};

use super::lease::{Hold, Lease, fenced};
use super::{Mode, RunError};
use crate::checkpoint::Checkpoint;
use crate::sink::PageCounts;
use crate::storage::statement;

/// Adds a page's counts to the run and renews its lease, inside the page's transaction.
pub async fn add_progress(
    txn: &impl ConnectionTrait,
    lease: &Lease,
    rows_read: u64,
    counts: PageCounts,
    checkpoint: Option<&Checkpoint>,
) -> Result<(), RunError> {
    fenced(
        txn,
        lease,
        "rows_read = rows_read + ?, inserted = inserted + ?, updated = updated + ?, \
         unchanged = unchanged + ?, failed = failed + ?, skipped = skipped + ?, \
         deferred = deferred + ?, collapsed = collapsed + ?, folded = folded + ?, \
         deleted = deleted + ?, checkpoint_after = COALESCE(?, checkpoint_after), \
         pages = pages + 1",
        vec![
            (rows_read as i64).into(),
            (counts.inserted as i64).into(),
            (counts.updated as i64).into(),
            (counts.unchanged as i64).into(),
            (counts.failed as i64).into(),
            (counts.skipped as i64).into(),
            (counts.deferred as i64).into(),
            (counts.collapsed as i64).into(),
            (counts.folded as i64).into(),
            (counts.deleted as i64).into(),
            checkpoint.map(Checkpoint::to_json).into(),
        ],
        Hold::Renew,
    )
    .await
}

/// Adds what a reconcile compared, inside its transaction, so its counts add up like a page's: it
/// read `keys` source keys (each a record still there: unchanged) and met `vanished` couplings whose
/// key is gone; `deleted` of those rows went, the others stay (another coupling backs them, or they
/// were gone already) and count as unchanged.
pub async fn add_reconciled(
    txn: &impl ConnectionTrait,
    lease: &Lease,
    keys: u64,
    vanished: u64,
    deleted: u64,
) -> Result<(), RunError> {
    let kept = vanished.saturating_sub(deleted);
    fenced(
        txn,
        lease,
        "rows_read = rows_read + ?, unchanged = unchanged + ?, deleted = deleted + ?",
        vec![
            ((keys + vanished.max(deleted)) as i64).into(),
            ((keys + kept) as i64).into(),
            (deleted as i64).into(),
        ],
        Hold::Renew,
    )
    .await
}

/// What a run starts from, recorded once it knows: the connection version it executes, the
/// checkpoint it reads from (`None`: from the start) and, when it reads everything although it was
/// asked for an incremental run, `Mode::Full` and why. A later attempt that resumes after committed
/// pages keeps the first attempt's `checkpoint_before`.
pub async fn record_start(
    db: &impl ConnectionTrait,
    lease: &Lease,
    connection_version: i32,
    checkpoint_before: Option<&str>,
    full_because: Option<&str>,
) -> Result<(), RunError> {
    let mut set = "connection_version = ?, checkpoint_before = CASE WHEN checkpoint_after IS NULL \
                   THEN ? ELSE checkpoint_before END"
        .to_string();
    let mut values: Vec<Value> = vec![
        connection_version.into(),
        checkpoint_before.map(str::to_string).into(),
    ];
    if let Some(reason) = full_because {
        set.push_str(", mode = ?, reason = ?");
        values.extend([Mode::Full.as_str().into(), reason.to_string().into()]);
    }
    fenced(db, lease, &set, values, Hold::Renew).await
}

/// Records that a run reads everything after all, and why (a delta link the service no longer
/// honours): it is a full run from here on.
pub async fn record_full_because(
    db: &impl ConnectionTrait,
    lease: &Lease,
    reason: &str,
) -> Result<(), RunError> {
    fenced(
        db,
        lease,
        "mode = ?, reason = ?",
        vec![Mode::Full.as_str().into(), reason.to_string().into()],
        Hold::Renew,
    )
    .await
}

/// Stores the records of a page that could not be written, with their payloads and the values mapped
/// before each failure: `(key, message, payload, mapped)`. With `known_once`, a record whose failure
/// is already open with the same payload (the overlap window or a full re-read met it again,
/// unchanged) is not logged again, so an unchanged bad record does not leave every run `partial`;
/// a retry of failed records asked for them, so it logs each outcome. Returns how many were logged.
pub async fn record_failures(
    txn: &impl ConnectionTrait,
    lease: &Lease,
    failures: &[(String, String, String, String)],
    known_once: bool,
) -> Result<u64, RunError> {
    if failures.is_empty() {
        return Ok(0);
    }
    let open = if known_once {
        super::failures::open_payloads(
            txn,
            &lease.integration,
            failures.iter().map(|(key, ..)| key.as_str()),
        )
        .await?
    } else {
        Default::default()
    };
    let new: Vec<_> = failures
        .iter()
        .filter(|(key, _, payload, _)| !open.contains(&(key.clone(), payload.clone())))
        .collect();
    if new.is_empty() {
        return Ok(0);
    }
    let now = Utc::now().fixed_offset();
    let mut values: Vec<Value> = Vec::with_capacity(new.len() * 7);
    let mut tuples = Vec::with_capacity(new.len());
    for (key, message, payload, mapped) in &new {
        tuples.push("(?, ?, ?, ?, ?, ?, ?)");
        values.extend([
            lease.run_id.into(),
            lease.integration.clone().into(),
            key.clone().into(),
            message.clone().into(),
            payload.clone().into(),
            mapped.clone().into(),
            now.into(),
        ]);
    }
    let text = format!(
        "INSERT INTO ferry_run_errors \
         (run_id, integration, record_key, message, payload, mapped, created_at) VALUES {}",
        tuples.join(", ")
    );
    txn.execute_raw(statement(txn.get_database_backend(), &text, values))
        .await?;
    Ok(new.len() as u64)
}

/// Adds what busy answers cost an attempt (requests repeated, time waited, the last such answer) to the
/// run, so a slow run says why.
pub async fn add_waits(
    db: &impl ConnectionTrait,
    lease: &Lease,
    waits: &crate::odata::client::Waits,
) -> Result<(), RunError> {
    fenced(
        db,
        lease,
        "requests_retried = requests_retried + ?, retry_wait_ms = retry_wait_ms + ?, \
         last_retried_error = COALESCE(?, last_retried_error)",
        vec![
            (waits.retried as i64).into(),
            (waits.waited_ms as i64).into(),
            waits.last_error.clone().into(),
        ],
        Hold::Renew,
    )
    .await
}

/// Marks the run as one that writes to the remote system (`direction`), so its summary carries
/// export counts even when they are all zero. Returns whether it was not marked yet: the run's
/// first attempt to get this far.
pub async fn record_direction(
    txn: &impl ConnectionTrait,
    lease: &Lease,
    direction: &str,
    before: Option<&str>,
) -> Result<bool, RunError> {
    fenced(
        txn,
        lease,
        "direction = ?",
        vec![direction.into()],
        Hold::Renew,
    )
    .await?;
    Ok(before.is_none())
}

/// Adds an export page's counts (`changes` log entries read) to the run, inside the page's
/// transaction.
pub async fn add_export_progress(
    txn: &impl ConnectionTrait,
    lease: &Lease,
    changes: u64,
    counts: &super::ExportCounts,
) -> Result<(), RunError> {
    fenced(
        txn,
        lease,
        "rows_read = rows_read + ?, export_inserted = export_inserted + ?, \
         export_updated = export_updated + ?, export_unchanged = export_unchanged + ?, \
         export_deleted = export_deleted + ?, export_failed = export_failed + ?, \
         export_conflicts = export_conflicts + ?",
        vec![
            (changes as i64).into(),
            counts.inserted.into(),
            counts.updated.into(),
            counts.unchanged.into(),
            counts.deleted.into(),
            counts.failed.into(),
            counts.conflicts.into(),
        ],
        Hold::Renew,
    )
    .await
}
