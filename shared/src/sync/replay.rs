//! Runs that read records again rather than the delta: the records parked by earlier runs (their
//! lookups may resolve now) and `--retry-failed`, which re-reads open failures by key. Neither moves the
//! checkpoint.

use super::commit::commit_page;
use super::error::SyncError;
use super::execute::SyncContext;
use super::map::{changed, map_page, resolving};
use crate::lookup::parked_records;
use crate::mapping::Mapping;
use crate::odata::client::Row;
use crate::runs::{self, Lease, RunError};
use crate::source::Source;

/// Re-maps the records parked by earlier runs (their lookups may resolve now), page by page. Written
/// ones leave the parking; still unresolved ones stay and count as `deferred` again.
pub(super) async fn replay_parked(
    ctx: &SyncContext,
    lease: &Lease,
    mapping: &Mapping,
    clears: bool,
) -> Result<(), SyncError> {
    let mut after = String::new();
    loop {
        let parked = parked_records(
            &ctx.db,
            &lease.integration,
            &after,
            u64::from(ctx.settings.page_size),
        )
        .await
        .map_err(RunError::from)?;
        let Some(last) = parked.last() else {
            return Ok(());
        };
        after = last.record_key.clone();
        let rows: Vec<Row> = parked
            .iter()
            .filter_map(|p| serde_json::from_str(&p.payload).ok())
            .collect();
        let write = resolving(clears, map_page(&ctx.db, mapping, rows).await?);
        let mut write = changed(&ctx.db, &lease.integration, mapping, write).await?;
        // Replayed records count as read (from the parking, not the source), so the run's counts add
        // up; they must not move the watermark.
        write.checkpoint = None;
        commit_page(&ctx.db, lease, mapping, write, None).await?;
    }
}

/// Keys per request when re-reading failed records: keeps the `$filter` well inside URL limits.
const KEYS_PER_REQUEST: usize = 40;

/// `--retry-failed`: re-reads only the records whose failure is still open, by key, and writes them
/// without moving the checkpoint. A record that now maps and writes resolves its failure. The open
/// failures are read a page at a time (`worker.page_size` of them), so memory stays bounded however
/// many there are (invariant 5).
pub(super) async fn retry_failed(
    ctx: &SyncContext,
    lease: &Lease,
    mapping: &Mapping,
    source: &Source,
    clears: bool,
) -> Result<(), SyncError> {
    let mut after = String::new();
    loop {
        let open = runs::open_failures(
            &ctx.db,
            &lease.integration,
            &after,
            u64::from(ctx.settings.page_size),
        )
        .await
        .map_err(RunError::from)?;
        let Some((last, _)) = open.last() else {
            return Ok(());
        };
        after = last.clone();
        let keys: Vec<Row> = open
            .iter()
            .filter_map(|(_, payload)| serde_json::from_str(payload).ok())
            .collect();
        drop(open);
        for chunk in keys.chunks(KEYS_PER_REQUEST) {
            retry_keys(ctx, lease, mapping, source, clears, chunk).await?;
        }
        // Stop between pages, as an import does: what is committed stays.
        if ctx.stopping.is_cancelled() {
            return Err(SyncError::Stopped);
        }
    }
}

/// Re-reads and writes the records of one request's worth of failed keys.
async fn retry_keys(
    ctx: &SyncContext,
    lease: &Lease,
    mapping: &Mapping,
    source: &Source,
    clears: bool,
    keys: &[Row],
) -> Result<(), SyncError> {
    let mut pages = source.read(&mapping.entity, &super::read::records(mapping, keys));
    while let Some(rows) = pages.next().await {
        let write = resolving(clears, map_page(&ctx.db, mapping, rows?).await?);
        let mut write = changed(&ctx.db, &lease.integration, mapping, write).await?;
        write.checkpoint = None;
        commit_page(&ctx.db, lease, mapping, write, None).await?;
    }
    Ok(())
}
