//! An export run (ARCHITECTURE.md, "Export"): the local change log read a page at a time, each
//! page planned against the couplings, written to the remote system (`export::remote`), then one
//! local transaction stores the couplings, the failed records and the run's counts and removes the
//! page's log entries. A crash between the remote write and that commit leaves the entries, and the
//! next attempt's writes find what the first one did (lookup before create, 412 compared with what
//! was sent, 404 on delete): nothing is created twice.

use std::collections::HashSet;

use tracing::info;

use super::error::SyncError;
use super::execute::SyncContext;
use crate::capture::{self, Adopted, Change};
use crate::definitions::{ConnectionDef, ConnectionKind, Direction, IntegrationDef};
use crate::export::{Outbound, Outcome, Style, Target, couplings, local, plan, remote};
use crate::mapping::Mapping;
use crate::odata::csdl::Metadata;
use crate::runs::{self, Lease, Mode, RunError};
use crate::source::Source;
use crate::storage::entities::run;

/// Failed records replayed per step of a `--retry-failed`.
const REPLAY_STEP: u64 = 1_000;

/// What an export run works with, prepared as for an import (`sync/import.rs`).
pub(super) struct Prepared<'a> {
    pub def: &'a IntegrationDef,
    pub connection: &'a ConnectionDef,
    pub source: &'a Source,
    pub mapping: &'a Mapping,
    pub metadata: &'a Metadata,
    /// Local keys whose conflict the run's import phase met and counted (two-way sync).
    pub counted: &'a HashSet<String>,
}

/// Runs the export of `def` to `source`.
pub(super) async fn export(
    ctx: &SyncContext,
    lease: &Lease,
    run: &run::Model,
    prepared: Prepared<'_>,
) -> Result<(), SyncError> {
    let Prepared {
        def,
        connection,
        source,
        mapping,
        metadata,
        counted,
    } = prepared;
    let style = match connection.kind {
        ConnectionKind::BusinessCentral => Style::business_central(),
        ConnectionKind::Odata => Style::odata(),
        ConnectionKind::Dataverse => Style::dataverse(),
    };
    let outbound = Outbound::new(def, mapping, metadata).map_err(SyncError::Definition)?;
    if capture::adopt(&ctx.db, def).await.map_err(RunError::from)? == Adopted::NoTable {
        return Err(SyncError::Definition(format!(
            "table {:?} does not exist, so there is nothing to export",
            def.target.table
        )));
    }
    begin(ctx, lease, run, def).await?;
    let name = def.name.as_str();
    let upto = capture::newest(&ctx.db, name)
        .await
        .map_err(RunError::from)?;
    let delete_remote = def.deletes.as_ref().is_some_and(|d| d.export);
    let held = crate::conflicts::open_keys(&ctx.db, name)
        .await
        .map_err(RunError::from)?;
    let target = Target {
        source,
        outbound: &outbound,
        style: &style,
        mapping,
        counted,
        removes_coupling: def.deletes.as_ref().is_some_and(|d| d.removes_coupling()),
    };
    loop {
        let changes = capture::pending(&ctx.db, name, upto, style.max_operations as u64)
            .await
            .map_err(RunError::from)?;
        if changes.is_empty() {
            break;
        }
        let read = changes.iter().map(|c| c.seqs.len() as u64).sum::<u64>();
        let seqs: Vec<i64> = changes.iter().flat_map(|c| c.seqs.clone()).collect();
        let keyed: Vec<(Change, Option<String>)> = changes
            .into_iter()
            .map(|c| {
                let key = local::canonical_key(&outbound.local_key, &c.key);
                (c, key)
            })
            .collect();
        let keys: Vec<Vec<serde_json::Value>> = keyed.iter().map(|(c, _)| c.key.clone()).collect();
        let canonical: Vec<String> = keyed.iter().filter_map(|(_, k)| k.clone()).collect();
        let rows = local::rows(&ctx.db, &outbound, &keys)
            .await
            .map_err(RunError::from)?;
        let coupled = couplings::find(&ctx.db, name, &def.target.table, &canonical)
            .await
            .map_err(RunError::from)?;
        let planned = plan::plan(&outbound, &keyed, &rows, &coupled, &held, delete_remote);
        let outcome = remote::write(&target, planned).await?;
        info!(
            run_id = lease.run_id,
            changes = read,
            inserted = outcome.counts.inserted,
            updated = outcome.counts.updated,
            deleted = outcome.counts.deleted,
            failed = outcome.counts.failed,
            conflicts = outcome.counts.conflicts,
            "export page written"
        );
        commit(ctx, lease, def, &seqs, read, outcome).await?;
        if ctx.stopping.is_cancelled() {
            return Err(SyncError::Stopped);
        }
        if let Some(by) = runs::cancel_requested(&ctx.db, lease).await? {
            return Err(SyncError::Cancelled(by));
        }
    }
    Ok(())
}

/// Marks the run as an export and, on its first attempt, logs what its mode adds: every local row
/// (`--full`), or the rows whose export failed (`--retry-failed`). In one transaction, so a retried
/// attempt neither adds them twice nor misses them.
async fn begin(
    ctx: &SyncContext,
    lease: &Lease,
    run: &run::Model,
    def: &IntegrationDef,
) -> Result<(), SyncError> {
    let mode = Mode::parse(&run.mode);
    if mode == Mode::Reconcile {
        return Err(SyncError::Refused(
            "an export has nothing to reconcile: local deletes are captured as they happen".into(),
        ));
    }
    let txn = crate::storage::begin_write(&ctx.db)
        .await
        .map_err(RunError::from)?;
    let direction = match def.direction {
        Direction::Bidirectional => "bidirectional",
        Direction::Export | Direction::Import => "export",
    };
    let first = runs::record_direction(&txn, lease, direction, run.direction.as_deref()).await?;
    if first {
        match mode {
            Mode::Full => {
                let queued =
                    capture::queue_all(&txn, &def.name, &def.target.table, &def.target.key)
                        .await
                        .map_err(RunError::from)?;
                info!(
                    run_id = lease.run_id,
                    queued, "full export: every local row is compared"
                );
            }
            Mode::RetryFailed => {
                let mut after = String::new();
                loop {
                    let failed = runs::open_failures(&txn, &def.name, &after, REPLAY_STEP)
                        .await
                        .map_err(RunError::from)?;
                    let Some((last, _)) = failed.last() else {
                        break;
                    };
                    after = last.clone();
                    let keys: Vec<String> = failed.into_iter().map(|(k, _)| k).collect();
                    capture::requeue(&txn, &def.name, &keys)
                        .await
                        .map_err(RunError::from)?;
                }
            }
            Mode::Incremental | Mode::Reconcile => {}
        }
    }
    txn.commit().await.map_err(RunError::from)?;
    Ok(())
}

/// Stores what a page's writes came to, and removes its log entries, in one transaction.
async fn commit(
    ctx: &SyncContext,
    lease: &Lease,
    def: &IntegrationDef,
    seqs: &[i64],
    read: u64,
    outcome: Outcome,
) -> Result<(), SyncError> {
    let name = def.name.as_str();
    let txn = crate::storage::begin_write(&ctx.db)
        .await
        .map_err(RunError::from)?;
    couplings::save(&txn, name, &def.target.table, &outcome.written)
        .await
        .map_err(RunError::from)?;
    couplings::remove(&txn, name, &outcome.uncoupled)
        .await
        .map_err(RunError::from)?;
    runs::record_failures(&txn, lease, &outcome.failures, false).await?;
    runs::resolve_failures(&txn, name, &outcome.succeeded)
        .await
        .map_err(RunError::from)?;
    capture::done(&txn, seqs).await.map_err(RunError::from)?;
    runs::add_export_progress(&txn, lease, read, &outcome.counts).await?;
    txn.commit().await.map_err(RunError::from)?;
    Ok(())
}
