//! The overlap window read light (ARCHITECTURE.md, "Late commits"). An incremental run re-reads
//! `overlap` versions below its checkpoint, since a slow transaction can commit a row with a lower
//! version after rows above it were read. Almost every row of that window was written already, so
//! the window is read with only the key and the version (`sync/read.rs::window`), each version is
//! compared with the one its coupling was written with (`sink::coupling::versions`), and only the
//! records that differ (or have no coupling: a late commit, a record that failed) are fetched whole,
//! by key, and written like any page of the run; the others count as read and unchanged, as they
//! did when the window was read whole. None of it moves the checkpoint: the window lies below it. The rows above the checkpoint are then read whole as before.
//!
//! A coupled record whose target row someone deleted is not rewritten by the window (its version did
//! not change); a `--full` run, or a later change of the record, writes it again.

use super::commit::commit_page;
use super::error::SyncError;
use super::execute::SyncContext;
use super::map::{changed, map_page, resolving};
use std::collections::HashMap;
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DbErr};
use tracing::debug;

use crate::checkpoint::Track;
use crate::definitions::ChangeOrder;
use crate::mapping::Mapping;
use crate::odata::client::{Row, Rows};
use crate::runs::{self, Lease, RunError};
use crate::sink::{PageWrite, coupling};
use crate::source::{Pages, Source};

/// Keys per request when fetching changed records whole: keeps the `$filter` well inside URL limits
/// (as `--retry-failed` does).
pub(super) const KEYS_PER_REQUEST: usize = 40;

/// What the window read met: records compared, and records fetched whole because they changed.
#[derive(Debug, Default, Clone, Copy)]
struct Window {
    compared: u64,
    fetched: u64,
    /// Time spent waiting for the window's pages, and comparing them with the couplings.
    read: Duration,
    compare: Duration,
}

/// Whether the run (and its preview) reads the window `(from, upto]` light: a version-ordered
/// source, a window at all, and couplings to compare with (a first run after couplings began has
/// none, and reads the window whole).
pub(super) async fn light(
    db: &impl ConnectionTrait,
    integration: &str,
    mapping: &Mapping,
    (from, upto): (i64, i64),
) -> Result<bool, DbErr> {
    if mapping.change_order != ChangeOrder::Version || from >= upto {
        return Ok(false);
    }
    coupling::any(db, integration).await
}

/// The pages of the window `(from, upto]`: key and version of each record.
pub(super) fn pages(source: &Source, mapping: &Mapping, (from, upto): (i64, i64)) -> Pages {
    source.read(&mapping.entity, &super::read::window(mapping, from, upto))
}

/// The key fields of the records of a window page whose version differs from the one their
/// coupling was written with, or which have no coupling. A row that cannot be decoded is fetched
/// whole too, so it fails (or writes) as it would have. `unstored` holds versions written earlier
/// that are in no coupling (a preview's replay of parked records, which writes nothing); they count
/// as stored.
pub(super) async fn stale(
    db: &impl ConnectionTrait,
    integration: &str,
    mapping: &Mapping,
    rows: &Rows,
    unstored: &HashMap<String, Option<i64>>,
) -> Result<Vec<Row>, DbErr> {
    let met: Vec<&Row> = rows
        .rows
        .iter()
        .chain(rows.undecodable.iter().map(|u| &u.fields))
        .collect();
    let keys: Vec<String> = met.iter().map(|r| mapping.record_key(r)).collect();
    let stored = coupling::versions(db, integration, keys.clone()).await?;
    Ok(met
        .iter()
        .zip(&keys)
        .filter(|(row, key)| {
            unstored.get(*key).or_else(|| stored.get(*key)) != Some(&mapping.version(row))
        })
        .map(|(row, _)| super::scan::key_of(mapping, row))
        .collect())
}

/// The whole records of `keys`, at most [`KEYS_PER_REQUEST`] of them.
pub(super) fn records(source: &Source, mapping: &Mapping, keys: &[Row]) -> Pages {
    source.read(&mapping.entity, &super::read::records(mapping, keys))
}

/// What a run's window read needs of the run.
pub(super) struct Reread<'a> {
    pub mapping: &'a Mapping,
    pub source: &'a Source,
    pub track: &'a Track,
    /// Whether written records resolve open failures (`sync/map.rs::resolving`).
    pub clears: bool,
}

/// Where a run's delta starts: at the watermark `upto`, once the window `(from, upto]` is read light
/// (when it is, `light`), or else at `from`, the window read whole with the delta.
pub(super) async fn delta_from(
    ctx: &SyncContext,
    lease: &Lease,
    run: Reread<'_>,
    (from, upto): (i64, i64),
) -> Result<i64, SyncError> {
    if !light(&ctx.db, &lease.integration, run.mapping, (from, upto))
        .await
        .map_err(RunError::from)?
    {
        return Ok(from);
    }
    let Reread {
        mapping,
        source,
        track,
        clears,
    } = run;
    let started = Instant::now();
    let seen = reread(ctx, lease, mapping, source, track, clears, (from, upto)).await?;
    debug!(
        run_id = lease.run_id,
        compared = seen.compared,
        fetched = seen.fetched,
        read_ms = seen.read.as_millis() as u64,
        compare_ms = seen.compare.as_millis() as u64,
        total_ms = started.elapsed().as_millis() as u64,
        "overlap window read by key and version"
    );
    Ok(upto)
}

/// Re-reads the versions in `(from, upto]` by key and version, and writes the records whose version
/// differs from their coupling's.
async fn reread(
    ctx: &SyncContext,
    lease: &Lease,
    mapping: &Mapping,
    source: &Source,
    track: &Track,
    clears: bool,
    window: (i64, i64),
) -> Result<Window, SyncError> {
    let mut seen = Window::default();
    let mut pages = pages(source, mapping, window);
    loop {
        let waited = Instant::now();
        let Some(rows) = pages.next().await else {
            break;
        };
        let rows = rows?;
        seen.read += waited.elapsed();
        let compared = Instant::now();
        seen.compared += rows.len() as u64;
        let stale = stale(&ctx.db, &lease.integration, mapping, &rows, &HashMap::new())
            .await
            .map_err(RunError::from)?;
        seen.compare += compared.elapsed();
        // The records whose coupling holds their version were read (light) and are unchanged.
        let current = PageWrite {
            rows_read: rows.len() as u64 - stale.len() as u64,
            unchanged: rows.len() as u64 - stale.len() as u64,
            ..PageWrite::default()
        };
        commit_page(&ctx.db, lease, mapping, current, Some(track)).await?;
        for chunk in stale.chunks(KEYS_PER_REQUEST) {
            seen.fetched += fetch(ctx, lease, mapping, source, track, clears, chunk).await?;
        }
        if ctx.stopping.is_cancelled() {
            return Err(SyncError::Stopped);
        }
        if let Some(by) = runs::cancel_requested(&ctx.db, lease).await? {
            return Err(SyncError::Cancelled(by));
        }
    }
    Ok(seen)
}

/// Fetches the records of `keys` whole and writes them, moving no checkpoint; returns how many
/// rows the service sent.
async fn fetch(
    ctx: &SyncContext,
    lease: &Lease,
    mapping: &Mapping,
    source: &Source,
    track: &Track,
    clears: bool,
    keys: &[Row],
) -> Result<u64, SyncError> {
    let mut read = 0;
    let mut pages = records(source, mapping, keys);
    while let Some(rows) = pages.next().await {
        let rows = rows?;
        read += rows.len() as u64;
        let write = resolving(clears, map_page(&ctx.db, mapping, rows).await?);
        let mut write = changed(&ctx.db, &lease.integration, mapping, write).await?;
        write.checkpoint = None;
        commit_page(&ctx.db, lease, mapping, write, Some(track)).await?;
    }
    Ok(read)
}
