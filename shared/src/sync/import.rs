//! The incremental import: rows with a version above the checkpoint, in version order, so each committed
//! page's highest version is a safe place to resume from.

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use tracing::{debug, info};

use super::commit::commit_page;
use super::error::SyncError;
use super::execute::SyncContext;
use super::pipeline::{FinalRows, MappedPage, Stages};
use super::start::Start;
use crate::checkpoint::{Checkpoint, Measured, jump};
use crate::definitions::{ChangeOrder, Direction, IntegrationDef, parse_every, stored_connection};
use crate::drift::{ReadBefore, Severity, check_source, read_before};
use crate::mapping::{DriftError, Mapping};
use crate::odata::client::SourceError;
use crate::runs::{self, Lease, Mode, RunError};
use crate::sink::{coupling, create_table};
use crate::source::Source;
use crate::storage::entities::{integration, run};
use crate::storage::{Dialect, Landing};

async fn definition(
    db: &DatabaseConnection,
    name: &str,
    version: i32,
) -> Result<IntegrationDef, SyncError> {
    let row = integration::Entity::find()
        .filter(integration::Column::Name.eq(name))
        .filter(integration::Column::Version.eq(version))
        .one(db)
        .await
        .map_err(RunError::from)?
        .ok_or_else(|| SyncError::Definition(format!("{name} version {version} is not stored")))?;
    serde_json::from_str(&row.definition).map_err(|e| SyncError::Definition(e.to_string()))
}

/// The newest stored version of an integration (what the next triggered run would execute).
pub(super) async fn latest_definition(
    db: &DatabaseConnection,
    name: &str,
) -> Result<IntegrationDef, SyncError> {
    let row = integration::Entity::find()
        .filter(integration::Column::Name.eq(name))
        .order_by_desc(integration::Column::Version)
        .one(db)
        .await
        .map_err(RunError::from)?
        .ok_or_else(|| SyncError::Definition(format!("no integration named {name:?} is stored")))?;
    serde_json::from_str(&row.definition).map_err(|e| SyncError::Definition(e.to_string()))
}

/// Runs the import of `run`. `inserts` lets a first load into an empty table write by plain insert
/// (`Landing::Insert`); a run that met a taken key with it goes on without (`sync/execute.rs`).
pub(super) async fn import(
    ctx: &SyncContext,
    lease: &Lease,
    run: &run::Model,
    inserts: bool,
) -> Result<(), SyncError> {
    let name = run.integration.as_str();
    let mode = Mode::parse(&run.mode);
    let mut laps = super::laps::Laps::start();
    let def = definition(&ctx.db, name, run.definition_version).await?;
    laps.lap("definition");
    let (connection_version, connection) = stored_connection(&ctx.db, &def.connection)
        .await?
        .ok_or_else(|| {
            SyncError::Definition(format!("connection {:?} is not stored", def.connection))
        })?;
    let measured = Measured::of(&connection, &def);
    laps.lap("connection");
    let source = Source::connect(
        &connection,
        &ctx.credentials,
        &ctx.budgets,
        ctx.http.clone(),
        ctx.settings.page_size,
    )
    .await?;
    laps.lap("connect");
    let (metadata, cached) = ctx
        .metadata
        .get(&ctx.db, &connection.name, &connection.url, &source)
        .await?;
    laps.lap(if cached {
        "metadata_cached"
    } else {
        "metadata"
    });
    let mut mapping = compile(&ctx.db, &def, &metadata).await?;
    laps.lap("compile");
    super::prepare::type_columns(&ctx.db, &mut mapping).await?;
    laps.lap("type_columns");
    if mapping.create {
        create_table(&ctx.db, &mapping)
            .await
            .map_err(SyncError::Table)?;
    }
    laps.lap("create_table");
    let counted = HashSet::new();
    if def.direction == Direction::Export {
        let prepared = super::export::Prepared {
            def: &def,
            connection: &connection,
            source: &source,
            mapping: &mapping,
            metadata: &metadata,
            counted: &counted,
        };
        return super::export::export(ctx, lease, run, prepared).await;
    }
    // Two-way sync: the import phase screens each page for records changed on both sides.
    let mut guard = match def.direction {
        Direction::Bidirectional => {
            let outbound = crate::export::Outbound::new(&def, &mapping, &metadata)
                .map_err(SyncError::Definition)?;
            crate::capture::adopt(&ctx.db, &def)
                .await
                .map_err(RunError::from)?;
            Some(super::conflicts::Guard::load(&ctx.db, &def, &outbound, &mapping).await?)
        }
        Direction::Import | Direction::Export => None,
    };
    let clears = runs::has_open_failures(&ctx.db, name)
        .await
        .map_err(RunError::from)?;
    laps.lap("open_failures");
    let Start {
        watermark,
        delta_link,
        scan: resume_scan,
        mut track,
    } = super::start::start(ctx, lease, run, connection_version, measured).await?;
    laps.lap("start");
    match mode {
        Mode::RetryFailed => {
            return super::replay::retry_failed(ctx, lease, &mapping, &source, clears).await;
        }
        Mode::Reconcile => {
            let max_share = def
                .deletes
                .as_ref()
                .and_then(|d| d.max_share)
                .unwrap_or(super::deletes::DEFAULT_MAX_SHARE);
            return super::deletes::reconcile(&ctx.db, lease, &mapping, &source, max_share).await;
        }
        Mode::Incremental | Mode::Full => {}
    }
    if mapping.defers() {
        super::replay::replay_parked(ctx, lease, &mapping, clears).await?;
        laps.lap("parked");
    }
    let read_from = super::start::read_from(watermark, def.source.overlap_positions());
    let mut scan = super::scan::Scan::for_run(
        &ctx.settings,
        connection.kind,
        &source,
        &mapping,
        watermark,
        resume_scan,
    )
    .await?;
    laps.lap("scan");
    let (pages, reread_because) = if let Some(scan) = &scan {
        (scan.pages(&source, &mapping), None)
    } else if mapping.change_order == ChangeOrder::Track {
        let (pages, because) =
            super::tracked::pages(&source, &mapping, delta_link.as_deref()).await?;
        if let Some(why) = &because {
            info!(run_id = lease.run_id, reason = %why, "the delta link no longer holds; reading everything");
            runs::record_full_because(&ctx.db, lease, why).await?;
            track.forward_only = false;
        }
        (pages, because)
    } else {
        let reread = super::window::Reread {
            mapping: &mapping,
            source: &source,
            track: &track,
            clears,
        };
        let from = super::window::delta_from(ctx, lease, reread, (read_from, watermark)).await?;
        laps.lap("window");
        let query = super::read::delta(&mapping, from);
        (source.read(&mapping.entity, &query), None)
    };
    info!(
        run_id = lease.run_id,
        integration = name,
        watermark,
        read_from,
        follows_delta_link = delta_link.is_some() && reread_because.is_none(),
        scan_high_water = scan.as_ref().map(|s| s.high),
        scan_resumed = scan.as_ref().is_some_and(|s| !s.begun),
        "reading delta"
    );

    // A first load has no couplings to compare with: it leaves out the query for them.
    let coupled = coupling::any(&ctx.db, name).await.map_err(RunError::from)?;
    laps.lap("coupled");
    // A reconcile after the delta uses its own handle; the reader owns this one.
    let source_for_reconcile = source.clone();
    let mapping = Arc::new(mapping);
    // Pages are prepared ahead only when nothing screens them first; they land by plain insert when
    // the table began empty too (on Postgres, where statements are prepared ahead).
    let final_rows = if !coupled && guard.is_none() {
        let empty = inserts
            && Dialect::of(&ctx.db).prepares_ahead()
            && crate::sink::is_empty(&ctx.db, &mapping.table)
                .await
                .map_err(RunError::from)?;
        if empty {
            info!(
                run_id = lease.run_id,
                integration = %name,
                "first load into an empty table: rows land by plain insert"
            );
        }
        Some(FinalRows {
            integration: name.to_string(),
            landing: if empty {
                Landing::Insert
            } else {
                Landing::Upsert
            },
        })
    } else {
        None
    };
    let mut stages = Stages::start(pages, ctx.db.clone(), mapping.clone(), clears, final_rows);
    let result = async {
        while let Some(page) = stages.next().await {
            let MappedPage {
                write,
                fetch,
                map,
                last_key,
            } = page?;
            let started = Instant::now();
            let rows = write.rows_read;
            let mut write = if coupled {
                super::map::changed(&ctx.db, name, &mapping, write).await?
            } else {
                write
            };
            if let Some(scan) = scan.as_mut() {
                // A page of a scan in key order: the checkpoint is where the scan stands.
                write.checkpoint = Some(scan.passed(last_key));
            } else {
                // Pages of the overlap window lie below the checkpoint; it never moves back. Nor
                // does it leap to a version (or a time) no real source reaches. A delta link has no
                // position.
                let reaches = Checkpoint::position(write.checkpoint.as_ref());
                if mapping.change_order != ChangeOrder::Track && reaches <= watermark {
                    write.checkpoint = None;
                }
                match mapping.change_order {
                    ChangeOrder::Version => {
                        jump::check(watermark, reaches, ctx.settings.max_version_jump)
                            .map_err(|e| SyncError::Refused(e.to_string()))?
                    }
                    ChangeOrder::Modified => jump::check_time(reaches, chrono::Utc::now())
                        .map_err(|e| SyncError::Refused(e.to_string()))?,
                    ChangeOrder::Track => {}
                }
            }
            if let Some(guard) = guard.as_mut() {
                write = guard.screen(&ctx.db, &mapping, write).await?;
            }
            commit_page(&ctx.db, lease, &mapping, write, Some(&track)).await?;
            stages.page_written();
            debug!(
                run_id = lease.run_id,
                rows,
                fetch_ms = fetch.as_millis() as u64,
                map_ms = map.as_millis() as u64,
                write_ms = started.elapsed().as_millis() as u64,
                "page written"
            );
            // Stop between pages: what is committed stays, the next worker resumes from it.
            if ctx.stopping.is_cancelled() {
                return Err(SyncError::Stopped);
            }
            if let Some(by) = runs::cancel_requested(&ctx.db, lease).await? {
                return Err(SyncError::Cancelled(by));
            }
        }
        Ok(())
    }
    .await;
    drop(stages);
    laps.lap("pages");
    record_waits(ctx, lease, &source_for_reconcile).await;
    let result = match result {
        // A rejected query on cached metadata may be drift the cache has not seen: look again, so the
        // run fails naming the field rather than with the server's words.
        Err(SyncError::Source(SourceError::Http { status: 400, .. })) if cached => {
            ctx.metadata.forget(&connection.name).await;
            let source = Source::connect(
                &connection,
                &ctx.credentials,
                &ctx.budgets,
                ctx.http.clone(),
                ctx.settings.page_size,
            )
            .await?;
            let (fresh, _) = ctx
                .metadata
                .get(&ctx.db, &connection.name, &connection.url, &source)
                .await?;
            compile(&ctx.db, &def, &fresh).await?;
            result
        }
        other => other,
    };
    result?;
    if let Some(scan) = &scan {
        // Every page is written: the checkpoint becomes the high-water mark read before the scan, in
        // a transaction of its own (a stop before it leaves the scan's last page, which goes on to
        // find nothing more and lands here).
        let done = crate::sink::PageWrite {
            checkpoint: Some(scan.finished()),
            ..Default::default()
        };
        commit_page(&ctx.db, lease, &mapping, done, Some(&track)).await?;
    }
    // A tracked read of everything (a first run resumed, `--full`, a changed definition, a refused
    // link, or a retry of any of these) replaces the delta link, and the deletes since the old one
    // are in no delta: the records the read did not meet are found the way a reconcile finds them.
    let read_everything = delta_link.is_none() || reread_because.is_some();
    if mapping.change_order == ChangeOrder::Track
        && mapping.applies_removals
        && read_everything
        && coupled
    {
        let max_share = def
            .deletes
            .as_ref()
            .and_then(|d| d.max_share)
            .unwrap_or(super::deletes::DEFAULT_MAX_SHARE);
        super::deletes::reconcile(&ctx.db, lease, &mapping, &source_for_reconcile, max_share)
            .await?;
    }
    laps.lap("after_pages");
    super::dependents::wake_dependents(ctx, name, &mapping.table, run.woken_by.as_deref()).await;
    laps.lap("dependents");
    if let Some(deletes) = &def.deletes
        && let Some(every) = deletes.every.as_deref().and_then(parse_every)
        && mode == Mode::Incremental
        && super::deletes::due(&ctx.db, name, every).await?
    {
        let max_share = deletes
            .max_share
            .unwrap_or(super::deletes::DEFAULT_MAX_SHARE);
        super::deletes::reconcile(&ctx.db, lease, &mapping, &source_for_reconcile, max_share)
            .await?;
    }
    if let Some(guard) = guard {
        let prepared = super::export::Prepared {
            def: &def,
            connection: &connection,
            source: &source_for_reconcile,
            mapping: &mapping,
            metadata: &metadata,
            counted: &guard.met,
        };
        super::export::export(ctx, lease, run, prepared).await?;
    }
    laps.lap("end");
    laps.log(lease.run_id, "import phases");
    Ok(())
}

/// Adds what busy answers cost this attempt to the run. Best effort: the run's outcome does not hang on
/// it, and a lost lease is reported by the run's own next write.
async fn record_waits(ctx: &SyncContext, lease: &Lease, source: &Source) {
    let waits = source.waits();
    if waits.retried == 0 {
        return;
    }
    if let Err(e) = runs::add_waits(&ctx.db, lease, &waits).await {
        debug!(run_id = lease.run_id, error = %e, "could not record the run's waits");
    }
}

/// The drift check every run starts with (the errors `ferry check` reports; its warnings do not stop
/// a run), then the mapping. Only when something is wrong does it ask what earlier runs read, to say
/// "no longer exists" of what drifted and "does not exist" of what never did.
async fn compile(
    db: &DatabaseConnection,
    def: &IntegrationDef,
    metadata: &crate::odata::csdl::Metadata,
) -> Result<Mapping, SyncError> {
    let fails = |problems: Vec<crate::drift::Problem>| -> Vec<crate::drift::Problem> {
        problems
            .into_iter()
            .filter(|p| p.severity == Severity::Error)
            .collect()
    };
    if !fails(check_source(def, metadata, &ReadBefore::default())).is_empty() {
        let read = read_before(db, &def.name).await.map_err(RunError::from)?;
        let problems = fails(check_source(def, metadata, &read));
        return Err(SyncError::Drift(DriftError {
            integration: def.name.clone(),
            problems: problems
                .iter()
                .map(|p| {
                    let mut text = p.message.clone();
                    if !p.used_by.is_empty() {
                        text.push_str(&format!(" (used by {})", p.used_by.join(", ")));
                    }
                    text
                })
                .collect(),
        }));
    }
    Ok(Mapping::compile(def, metadata)?)
}
