//! Where a run starts reading (ARCHITECTURE.md, "Invariants", invariant 7): from the committed checkpoint, from the
//! start, or from its own last committed page, and what it records about that on the run.

use super::error::SyncError;
use super::execute::SyncContext;
use crate::checkpoint::{self, Checkpoint, Measured, Track};
use crate::odata::client::Row;
use crate::runs::{self, Lease, Mode, RunError};
use crate::storage::entities::run;
use tracing::info;

/// Where a run starts reading, and how it records its position.
pub(super) struct Start {
    /// Versions up to this one are already written (0: read everything).
    pub watermark: i64,
    /// The delta link to follow, for a tracked source read incrementally (none: read everything).
    pub delta_link: Option<String>,
    /// The key-order scan of everything to go on with (`sync/scan.rs`): its high-water mark and the
    /// last key written. A full run resumes its own; an incremental one the committed one (a first
    /// load that stopped part way).
    pub scan: Option<(i64, Option<Row>)>,
    pub track: Track,
}

/// Decides where a run of `mode` starts (ARCHITECTURE.md, "Invariants", invariant 7), and records it on the run. An
/// incremental run whose checkpoint was measured with other definitions (another company, a wider
/// filter, more fields) reads everything instead, saying why. A full run that is retried resumes
/// from the last page it committed itself.
pub(super) async fn start(
    ctx: &SyncContext,
    lease: &Lease,
    run: &run::Model,
    connection_version: i32,
    measured: Measured,
) -> Result<Start, SyncError> {
    let mode = Mode::parse(&run.mode);
    let stored = checkpoint::load(&ctx.db, &lease.integration)
        .await
        .map_err(RunError::from)?;
    let changed = no_longer_holds(stored.as_ref(), &measured);
    if mode == Mode::Reconcile
        && let Some(why) = &changed
    {
        return Err(SyncError::Refused(format!(
            "{why} since the rows were last read, so the coupled keys belong to another source; \
             run a full import first (ferry run {} --full), then reconcile",
            lease.integration
        )));
    }
    let full_because = (mode == Mode::Incremental).then_some(changed).flatten();
    let full = mode == Mode::Full || full_because.is_some();
    let scan_of =
        |c: Option<&Checkpoint>| Checkpoint::scan(c).map(|(high, after)| (high, after.cloned()));
    let (watermark, delta_link, scan, before) = if full {
        let own = run
            .checkpoint_after
            .as_deref()
            .and_then(|c| Checkpoint::from_json(c).ok());
        // A retried full read of a tracked source starts again: its only checkpoint is the delta
        // link of the read's last page, and resuming from that would skip the rows not yet read.
        (
            Checkpoint::position(own.as_ref()),
            None,
            scan_of(own.as_ref()),
            None,
        )
    } else {
        let checkpoint = stored.as_ref().map(|s| &s.checkpoint);
        (
            Checkpoint::position(checkpoint),
            Checkpoint::delta_link(checkpoint).map(str::to_string),
            scan_of(checkpoint),
            stored.as_ref().map(|s| s.json.as_str()),
        )
    };
    runs::record_start(
        &ctx.db,
        lease,
        connection_version,
        before,
        full_because.as_deref(),
    )
    .await?;
    if let Some(why) = &full_because {
        info!(run_id = lease.run_id, reason = %why, "the checkpoint no longer holds; reading everything");
    }
    Ok(Start {
        watermark,
        delta_link,
        scan,
        track: Track {
            measured,
            forward_only: !full,
        },
    })
}

/// Why the stored checkpoint no longer holds for what a run would read now (another company, a wider
/// filter, more fields), if it does not: then an incremental run reads everything.
pub(super) fn no_longer_holds(
    stored: Option<&checkpoint::Stored>,
    now: &Measured,
) -> Option<String> {
    stored
        .and_then(|s| s.measured.as_ref())
        .and_then(|before| before.change(now))
}

/// The position an incremental run reads from: `overlap` positions below the watermark, since a slow
/// transaction can commit a row with a lower version after rows above it were read (ARCHITECTURE.md,
/// "Outside facts"), and timestamps are not unique.
pub(super) fn read_from(watermark: i64, overlap: i64) -> i64 {
    watermark.saturating_sub(overlap).max(0)
}
