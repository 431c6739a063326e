//! The incremental import: rows with a version above the checkpoint, in version order, so each committed
//! page's highest version is a safe place to resume from.

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use std::sync::Arc;
use std::time::Instant;

use tracing::{debug, info};

use super::error::SyncError;
use super::execute::SyncContext;
use super::pipeline::{MappedPage, Stages};
use super::start::Start;
use crate::checkpoint::{self, Checkpoint, Measured};
use crate::definitions::{IntegrationDef, parse_every, stored_connection};
use crate::drift::check_source;
use crate::lookup::{PageLookups, parked_records, resolve_page};
use crate::mapping::{DriftError, Mapped, Mapping};
use crate::odata::client::{Row, SourceError};
use crate::runs::{self, Lease, Mode, RunError};
use crate::sink::{PageWrite, coupling, create_table, write_page};
use crate::source::Source;
use crate::storage::entities::{integration, run};

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

/// The committed checkpoint's version (0 before the first page).
pub(super) async fn watermark(db: &DatabaseConnection, name: &str) -> Result<i64, SyncError> {
    let stored = checkpoint::load(db, name).await.map_err(RunError::from)?;
    Ok(Checkpoint::version(stored.as_ref().map(|s| &s.checkpoint)))
}

pub(super) async fn import(
    ctx: &SyncContext,
    lease: &Lease,
    run: &run::Model,
) -> Result<(), SyncError> {
    let name = run.integration.as_str();
    let mode = Mode::parse(&run.mode);
    let def = definition(&ctx.db, name, run.definition_version).await?;
    let (connection_version, connection) = stored_connection(&ctx.db, &def.connection)
        .await?
        .ok_or_else(|| {
            SyncError::Definition(format!("connection {:?} is not stored", def.connection))
        })?;
    let measured = Measured::of(&connection, &def);
    let source = Source::connect(
        &connection,
        &ctx.credentials,
        ctx.http.clone(),
        ctx.settings.page_size,
    )
    .await?;
    let (metadata, cached) = ctx
        .metadata
        .get(&connection.name, &connection.url, &source)
        .await?;
    let mut mapping = compile(&def, &metadata)?;
    if !mapping.lookups.is_empty() {
        mapping
            .prepare_lookups(&ctx.db)
            .await
            .map_err(SyncError::Table)?;
    }
    mapping
        .adopt_table(&ctx.db)
        .await
        .map_err(SyncError::Table)?;
    if mapping.create {
        create_table(&ctx.db, &mapping)
            .await
            .map_err(SyncError::Table)?;
    }
    let clears = runs::has_open_failures(&ctx.db, name)
        .await
        .map_err(RunError::from)?;
    let Start { watermark, track } =
        super::start::start(ctx, lease, run, connection_version, measured).await?;
    match mode {
        Mode::RetryFailed => return retry_failed(ctx, lease, &mapping, &source, clears).await,
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
        replay_parked(ctx, lease, &mapping, clears).await?;
    }
    let read_from = (watermark - def.source.overlap.unwrap_or(0)).max(0);
    let pages = source.read(&mapping.entity, &super::read::delta(&mapping, read_from));
    info!(
        run_id = lease.run_id,
        integration = name,
        watermark,
        read_from,
        "reading delta"
    );

    // A first load has no couplings to compare with: it leaves out the query for them.
    let coupled = coupling::any(&ctx.db, name).await.map_err(RunError::from)?;
    // A reconcile after the delta uses its own handle; the reader owns this one.
    let source_for_reconcile = source.clone();
    let mapping = Arc::new(mapping);
    let final_rows = (!coupled).then(|| name.to_string());
    let mut stages = Stages::start(pages, ctx.db.clone(), mapping.clone(), clears, final_rows);
    let result = async {
        while let Some(page) = stages.next().await {
            let MappedPage { write, fetch, map } = page?;
            let started = Instant::now();
            let rows = write.rows_read;
            let mut write = if coupled {
                changed(&ctx.db, name, &mapping, write).await?
            } else {
                write
            };
            // Pages of the overlap window lie below the checkpoint; it never moves back.
            if Checkpoint::version(write.checkpoint.as_ref()) <= watermark {
                write.checkpoint = None;
            }
            write_page(&ctx.db, lease, &mapping, write, Some(&track)).await?;
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
    let result = match result {
        // A rejected query on cached metadata may be drift the cache has not seen: look again, so the
        // run fails naming the field rather than with the server's words.
        Err(SyncError::Source(SourceError::Http { status: 400, .. })) if cached => {
            ctx.metadata.forget(&connection.name).await;
            let source = Source::connect(
                &connection,
                &ctx.credentials,
                ctx.http.clone(),
                ctx.settings.page_size,
            )
            .await?;
            let (fresh, _) = ctx
                .metadata
                .get(&connection.name, &connection.url, &source)
                .await?;
            compile(&def, &fresh)?;
            result
        }
        other => other,
    };
    result?;
    super::dependents::wake_dependents(ctx, name, &mapping.table).await;
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
    Ok(())
}

/// The drift check every run starts with (the same problems `ferry check` reports), then the mapping.
fn compile(
    def: &IntegrationDef,
    metadata: &crate::odata::csdl::Metadata,
) -> Result<Mapping, SyncError> {
    let problems = check_source(def, metadata);
    if !problems.is_empty() {
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

/// Re-maps the records parked by earlier runs (their lookups may resolve now), page by page. Written
/// ones leave the parking; still unresolved ones stay and count as `deferred` again.
async fn replay_parked(
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
        write_page(&ctx.db, lease, mapping, write, None).await?;
    }
}

/// Keys per request when re-reading failed records: keeps the `$filter` well inside URL limits.
const KEYS_PER_REQUEST: usize = 40;

/// `--retry-failed`: re-reads only the records whose failure is still open, by key, and writes them
/// without moving the checkpoint. A record that now maps and writes resolves its failure. The open
/// failures are read a page at a time (`worker.page_size` of them), so memory stays bounded however
/// many there are (invariant 5).
async fn retry_failed(
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
        write_page(&ctx.db, lease, mapping, write, None).await?;
    }
    Ok(())
}

/// When the integration has open failures (`clears`), a written record resolves its own.
pub(super) fn resolving(clears: bool, mut write: PageWrite) -> PageWrite {
    if clears {
        write.resolve = write.rows.iter().map(|(k, _)| k.clone()).collect();
    }
    write
}

/// Leaves out the rows whose coupling says the target already holds them (counted `unchanged`), so a
/// re-read costs no write; the rest carry their couplings to the writer.
async fn changed(
    db: &DatabaseConnection,
    integration: &str,
    mapping: &Mapping,
    mut write: PageWrite,
) -> Result<PageWrite, SyncError> {
    coupling::skip_unchanged(db, integration, mapping, &mut write)
        .await
        .map_err(RunError::from)?;
    Ok(write)
}

/// Maps a page; a record that cannot be mapped becomes a failure with its payload, a record whose
/// `defer` lookup does not resolve is parked, the rest go on. Lookups resolve with one query each. Each
/// mapped row gets its coupling (and so its hash) here, off the writer's path.
pub(crate) async fn map_page(
    db: &DatabaseConnection,
    mapping: &Mapping,
    rows: Vec<Row>,
) -> Result<PageWrite, SyncError> {
    let found = if mapping.lookups.is_empty() {
        PageLookups::default()
    } else {
        resolve_page(db, &mapping.lookup_types(), &rows)
            .await
            .map_err(RunError::from)?
    };
    Ok(map_rows(mapping, rows, &found))
}

/// `map_page`'s CPU-bound part, once lookups are resolved.
fn map_rows(mapping: &Mapping, rows: Vec<Row>, found: &PageLookups) -> PageWrite {
    let mut write = PageWrite {
        rows_read: rows.len() as u64,
        ..PageWrite::default()
    };
    let defers = mapping.defers();
    let mut high = None;
    for row in rows {
        let version = mapping.version(&row);
        high = high.max(version);
        let key = mapping.record_key(&row);
        let payload = || serde_json::to_string(&row).unwrap_or_default();
        match mapping.map_row(&row, found) {
            Ok(Mapped::Row(values)) => {
                if defers {
                    write.unpark.push(key.clone());
                }
                write
                    .couplings
                    .push(coupling::couple(mapping, key.clone(), version, &values));
                write.rows.push((key, values));
            }
            Ok(Mapped::Skip) => {
                write.skipped += 1;
                if defers {
                    write.unpark.push(key);
                }
            }
            Ok(Mapped::Defer(reason)) => write.deferred.push((key, reason, payload())),
            Err(e) => {
                if defers {
                    write.unpark.push(key.clone());
                }
                let mapped = serde_json::to_string(&e.mapped).unwrap_or_default();
                write.failures.push((
                    key,
                    format!("{}: {}", e.column, e.message),
                    payload(),
                    mapped,
                ));
            }
        }
    }
    write.checkpoint = high.map(|value| Checkpoint::Version { value });
    write
}
