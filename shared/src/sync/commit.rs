//! Committing one page (invariant 2): its rows and couplings (the sink), its failed and parked records,
//! its checkpoint and the run's counts, all in one transaction. A crash before commit leaves the previous
//! page's checkpoint; one after leaves this one's. Either way the next attempt resumes exactly there.

use sea_orm::DatabaseConnection;

use super::error::SyncError;
use crate::checkpoint::{self, Track};
use crate::mapping::Mapping;
use crate::runs::{self, Lease, RunError};
use crate::sink::{PageCounts, PageWrite, write_rows};
use crate::storage::{Dialect, Landing, is_key_taken};

/// Writes a page under the run's lease. Fails with `RunError::LeaseLost` (and writes nothing) when
/// another claim has taken the run over. The page's checkpoint is saved as `track` says; a page
/// written without one (a replay, a retry by key) moves no checkpoint.
pub(super) async fn commit_page(
    db: &DatabaseConnection,
    lease: &Lease,
    mapping: &Mapping,
    mut page: PageWrite,
    track: Option<&Track>,
) -> Result<PageCounts, SyncError> {
    if track.is_none() {
        page.checkpoint = None;
    }
    page.prepare(Dialect::of(db), mapping, &lease.integration);
    let txn = crate::storage::begin_own_writes(db)
        .await
        .map_err(RunError::from)?;
    let landing = page.landing;
    let mut counts = write_rows(&txn, mapping, &lease.integration, &mut page)
        .await
        .map_err(|e| match landing {
            Landing::Insert if is_key_taken(&e) => SyncError::KeyTaken,
            _ => RunError::from(e).into(),
        })?;
    if !page.removed.is_empty() {
        let deleted =
            super::deletes::remove_removed(&txn, mapping, &lease.integration, &page.removed)
                .await?;
        counts.deleted += deleted;
        counts.unchanged += page.removed.len() as u64 - deleted;
    }
    // A page read in source order meets records again (the overlap, a full re-read): one whose failure
    // is already open for the same payload was read again unchanged, and is not logged twice.
    counts.failed = runs::record_failures(&txn, lease, &page.failures, track.is_some()).await?;
    counts.unchanged += page.failures.len() as u64 - counts.failed;
    if !page.resolve.is_empty() {
        runs::resolve_failures(&txn, &lease.integration, &page.resolve)
            .await
            .map_err(RunError::from)?;
    }
    if !page.unpark.is_empty() || !page.deferred.is_empty() {
        crate::lookup::park_and_unpark(&txn, lease, &page.unpark, &page.deferred)
            .await
            .map_err(RunError::from)?;
    }
    if !page.settled_changes.is_empty() {
        crate::capture::done(&txn, &page.settled_changes)
            .await
            .map_err(RunError::from)?;
    }
    if !page.conflicts.is_empty() {
        crate::conflicts::record(&txn, &lease.integration, lease.run_id, &page.conflicts)
            .await
            .map_err(RunError::from)?;
    }
    if !page.uncouple.is_empty() {
        crate::export::couplings::remove(&txn, &lease.integration, &page.uncouple)
            .await
            .map_err(RunError::from)?;
    }
    if page.conflicts_met > 0 {
        let met = crate::runs::ExportCounts {
            conflicts: page.conflicts_met as i64,
            ..Default::default()
        };
        runs::add_export_progress(&txn, lease, 0, &met).await?;
    }
    if let (Some(checkpoint), Some(track)) = (&page.checkpoint, track) {
        checkpoint::save(
            &txn,
            &lease.integration,
            checkpoint,
            &track.measured,
            track.forward_only,
        )
        .await
        .map_err(RunError::from)?;
    }
    runs::add_progress(
        &txn,
        lease,
        page.rows_read,
        counts,
        page.checkpoint.as_ref(),
    )
    .await?;
    crate::storage::commit_own_writes(txn)
        .await
        .map_err(RunError::from)?;
    Ok(counts)
}
