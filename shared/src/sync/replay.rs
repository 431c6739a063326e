//! Runs that read records again rather than the delta: the records parked by earlier runs (their
//! lookups may resolve now) and `--retry-failed`, which re-reads open failures by key. Neither moves the
//! checkpoint.

use super::commit::commit_page;
use super::error::SyncError;
use super::execute::SyncContext;
use super::map::{changed, map_page, resolving};
use crate::lookup::{overdue_records, parked_records};
use crate::mapping::Mapping;
use crate::odata::client::{Row, Rows};
use crate::runs::{self, Lease, RunError};
use crate::sink::PageWrite;
use crate::source::Source;

/// Re-maps the records parked by earlier runs (their lookups may resolve now), page by page. Written
/// ones leave the parking; still unresolved ones stay and count as `deferred` again.
pub(super) async fn replay_parked(
    ctx: &SyncContext,
    lease: &Lease,
    mapping: &Mapping,
    clears: bool,
) -> Result<(), SyncError> {
    expire_overdue(ctx, lease, mapping).await?;
    let mut after = String::new();
    loop {
        let parked = parked_records(
            &ctx.db,
            &lease.integration,
            ctx.max_defer,
            &after,
            u64::from(ctx.settings.page_size),
        )
        .await
        .map_err(RunError::from)?;
        let Some(last) = parked.last() else {
            return Ok(());
        };
        after = last.record_key.clone();
        let rows = Rows::from_payloads(parked.iter().map(|p| p.payload.as_str()));
        let write = resolving(clears, map_page(&ctx.db, mapping, rows).await?);
        let mut write = changed(&ctx.db, &lease.integration, mapping, write).await?;
        // Replayed records count as read (from the parking, not the source), so the run's counts add
        // up; they must not move the watermark.
        write.checkpoint = None;
        commit_page(&ctx.db, lease, mapping, write, None).await?;
    }
}

/// Records parked longer than `lookups.max_defer_hours` leave the parking as failed records, with the
/// reason they waited for and their payload (so `--retry-failed` can try them again): nothing stays
/// parked for ever unseen. They count as read and failed.
async fn expire_overdue(
    ctx: &SyncContext,
    lease: &Lease,
    mapping: &Mapping,
) -> Result<(), SyncError> {
    let hours = ctx.max_defer.as_secs() / 3_600;
    loop {
        let overdue = overdue_records(
            &ctx.db,
            &lease.integration,
            ctx.max_defer,
            u64::from(ctx.settings.page_size),
        )
        .await
        .map_err(RunError::from)?;
        if overdue.is_empty() {
            return Ok(());
        }
        let write = PageWrite {
            rows_read: overdue.len() as u64,
            unpark: overdue.iter().map(|o| o.record_key.clone()).collect(),
            failures: overdue
                .into_iter()
                .map(|o| {
                    let message = format!(
                        "still deferred after {hours} h (lookups.max_defer_hours): {}",
                        o.reason
                    );
                    (o.record_key, message, o.payload, "{}".to_string())
                })
                .collect(),
            ..PageWrite::default()
        };
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
