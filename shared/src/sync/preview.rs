//! Preview (a dry run): read what the next run would read, map it, compare it with the target, and say
//! per record what a run would do. It writes nothing anywhere — no table is created, no checkpoint
//! moves, no run is recorded, nothing is parked — so it is safe against production at any time. (A
//! delete preview stages the source's key set in a key scan, as a reconcile does, and discards it
//! before it returns.)
//!
//! Deletes are listed when the integration detects them (`deletes = { detect = "reconcile", … }`) or
//! when asked (`--reconcile`): the rows it owns through its couplings whose source key vanished and
//! that no live coupling still backs — what a reconcile would delete now, whether or not `deletes.every` makes the next run reconcile.

use std::collections::BTreeMap;

use sea_orm::{DatabaseConnection, Value};
use serde::Serialize;
use serde_json::Value as Json;

use super::error::SyncError;
use super::import::latest_definition;
use super::map::map_page;
use crate::checkpoint::{self, Checkpoint, Measured};
use crate::definitions::{ChangeOrder, Direction, load_connection};
use crate::lookup::parked_records;
use crate::mapping::{Mapping, value_json};
use crate::odata::client::Rows;
use crate::runs::RunError;
use crate::sink::key_scan::KeyScan;
use crate::sink::vanished;
use crate::source::Source;
use crate::storage::Dialect;

/// What to preview.
#[derive(Debug, Clone, Copy, Default)]
pub struct PreviewOptions {
    /// At most this many records (all of the delta when `None`).
    pub limit: Option<u64>,
    /// As `ferry run --full` would read: everything, not just what changed since the checkpoint.
    pub full: bool,
    /// List the deletes a reconcile would make even when the definition has no `deletes` setting (as
    /// `ferry run --reconcile` would). With a `deletes` setting they are always listed.
    pub reconcile: bool,
    /// `lookups.max_defer_hours` as a duration: parked records older than this are failed by the
    /// run, not replayed (`None`: the default, 24 hours).
    pub max_defer: Option<std::time::Duration>,
}

/// `lookups.max_defer_hours` when the caller gives none (config/default.toml).
const DEFAULT_MAX_DEFER: std::time::Duration = std::time::Duration::from_secs(24 * 3_600);

/// What a run would do to one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Insert,
    Update,
    Unchanged,
    Delete,
    Deferred,
    Skipped,
    Error,
}

/// A changed column, as JSON before and after.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub before: Json,
    pub after: Json,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PreviewRecord {
    pub op: Op,
    /// The source key (`A|B` for a composite key).
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changes: Option<BTreeMap<String, Change>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PreviewSummary {
    pub rows_read: u64,
    pub insert: u64,
    pub update: u64,
    pub unchanged: u64,
    pub delete: u64,
    pub deferred: u64,
    pub skipped: u64,
    pub error: u64,
    /// Why a reconcile would refuse the deletes listed (past `max_share`): it would delete nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delete_refused: Option<String>,
    /// The version the read starts above, as the run's: the checkpoint less `source.overlap` (0: all).
    pub read_from: i64,
    /// Why the run would read everything although it is incremental: the checkpoint was measured on
    /// another source (`ferry apply` says so too).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reads_everything_because: Option<String>,
    /// Of `rows_read`, the records parked by a `defer` lookup that the run replays first (overdue ones
    /// among them are listed as errors, as the run fails them).
    pub parked: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Preview {
    pub records: Vec<PreviewRecord>,
    pub summary: PreviewSummary,
    /// What the run would send, for an integration that exports (`preview_export.rs`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outbound: Option<super::preview_export::OutboundPreview>,
}

/// Previews the latest stored version of `integration`.
pub async fn preview(
    db: &DatabaseConnection,
    credentials: &crate::secrets::Credentials,
    budgets: &crate::budget::Budgets,
    http: reqwest::Client,
    page_size: u32,
    integration: &str,
    options: PreviewOptions,
) -> Result<Preview, SyncError> {
    let def = latest_definition(db, integration).await?;
    let connection = load_connection(db, &def.connection).await?.ok_or_else(|| {
        SyncError::Definition(format!("connection {:?} is not stored", def.connection))
    })?;
    let page_size = match options.limit {
        Some(limit) => page_size.min(limit.clamp(1, u64::from(u32::MAX)) as u32),
        None => page_size,
    };
    let source = Source::connect(&connection, credentials, budgets, http, page_size).await?;
    let metadata = source.metadata().await?;
    let mut mapping = Mapping::compile(&def, &metadata)?;
    super::prepare::type_columns(db, &mut mapping).await?;
    let mut preview = Preview {
        records: Vec::new(),
        summary: PreviewSummary::default(),
        outbound: None,
    };
    let outbound = match def.direction {
        Direction::Import => None,
        Direction::Export | Direction::Bidirectional => Some(
            crate::export::Outbound::new(&def, &mapping, &metadata)
                .map_err(SyncError::Definition)?,
        ),
    };
    if def.direction == Direction::Export
        && let Some(outbound) = &outbound
    {
        preview.outbound = Some(
            super::preview_export::preview_export(
                db,
                &def,
                outbound,
                options.limit,
                &Default::default(),
            )
            .await?,
        );
        return Ok(preview);
    }
    let mut written = Written::default();
    let mut delta_link = None;
    let mut watermark = 0;
    if !options.full {
        let stored = checkpoint::load(db, integration)
            .await
            .map_err(RunError::from)?;
        let measured = Measured::of(&connection, &def);
        match super::start::no_longer_holds(stored.as_ref(), &measured) {
            Some(why) => preview.summary.reads_everything_because = Some(why),
            None => {
                let checkpoint = stored.as_ref().map(|s| &s.checkpoint);
                watermark = Checkpoint::position(checkpoint);
                preview.summary.read_from =
                    super::start::read_from(watermark, def.source.overlap_positions());
                delta_link = Checkpoint::delta_link(checkpoint).map(str::to_string);
            }
        }
    }
    if mapping.defers() {
        let max_defer = options.max_defer.unwrap_or(DEFAULT_MAX_DEFER);
        let parked = Parked {
            integration,
            max_defer,
            page_size,
        };
        written.remember = true;
        preview_parked(db, &mapping, parked, &mut written, &mut preview).await?;
        written.remember = false;
    }
    let from = preview.summary.read_from;
    // A delta link may be followed more than once: the preview reads what the run would read.
    let mut tracked_reconcile = false;
    let mut pages = if mapping.change_order == ChangeOrder::Track {
        let (pages, because) =
            super::tracked::pages(&source, &mapping, delta_link.as_deref()).await?;
        // A tracked run that reads everything reconciles after it (`sync/import.rs`).
        tracked_reconcile = mapping.applies_removals && (delta_link.is_none() || because.is_some());
        if because.is_some() {
            preview.summary.reads_everything_because = because;
        }
        pages
    } else if super::window::light(db, integration, &mapping, (from, watermark))
        .await
        .map_err(RunError::from)?
    {
        // The run reads the window by key and version and fetches only what changed
        // (`sync/window.rs`): so does its preview, so both count the same records.
        let mut window = super::window::pages(&source, &mapping, (from, watermark));
        'window: while let Some(rows) = window.next().await {
            let rows = rows?;
            let stale = super::window::stale(db, integration, &mapping, &rows, &written.versions)
                .await
                .map_err(RunError::from)?;
            // Those not fetched are read and unchanged, as the run counts them.
            let current = (rows.len() - stale.len()) as u64;
            preview.summary.rows_read += current;
            preview.summary.unchanged += current;
            for chunk in stale.chunks(super::window::KEYS_PER_REQUEST) {
                let mut records = super::window::records(&source, &mapping, chunk);
                let limited = preview_pages(
                    db,
                    integration,
                    &mapping,
                    &mut records,
                    &options,
                    &mut written,
                    &mut preview,
                )
                .await?;
                if limited {
                    break 'window;
                }
            }
        }
        source.read(&mapping.entity, &super::read::delta(&mapping, watermark))
    } else {
        source.read(&mapping.entity, &super::read::delta(&mapping, from))
    };
    preview_pages(
        db,
        integration,
        &mapping,
        &mut pages,
        &options,
        &mut written,
        &mut preview,
    )
    .await?;
    if options.reconcile
        || tracked_reconcile
        || def
            .deletes
            .as_ref()
            .is_some_and(|d| d.detect == "reconcile")
    {
        let max_share = def
            .deletes
            .as_ref()
            .and_then(|d| d.max_share)
            .unwrap_or(super::deletes::DEFAULT_MAX_SHARE);
        preview_deletes(
            db,
            &mapping,
            &source,
            integration,
            max_share,
            options.limit,
            &mut preview,
        )
        .await?;
    }
    if let Some(outbound) = &outbound {
        // Records the import side would write that changed locally too are conflicts.
        let inbound: std::collections::HashSet<String> = preview
            .records
            .iter()
            .filter(|r| matches!(r.op, Op::Insert | Op::Update | Op::Delete))
            .map(|r| r.key.clone())
            .collect();
        preview.outbound = Some(
            super::preview_export::preview_export(db, &def, outbound, options.limit, &inbound)
                .await?,
        );
    }
    Ok(preview)
}

/// Previews each page of `pages` as the run would write it, up to the preview's limit; says whether
/// the limit was reached.
async fn preview_pages(
    db: &DatabaseConnection,
    integration: &str,
    mapping: &Mapping,
    pages: &mut crate::source::Pages,
    options: &PreviewOptions,
    written: &mut Written,
    preview: &mut Preview,
) -> Result<bool, SyncError> {
    while let Some(rows) = pages.next().await {
        let mut rows: Rows = rows?;
        let mut last = false;
        if let Some(limit) = options.limit {
            let room = limit.saturating_sub(preview.summary.rows_read) as usize;
            if rows.len() >= room {
                rows.undecodable.truncate(room);
                rows.rows.truncate(room - rows.undecodable.len());
                rows.removed
                    .truncate(room - rows.undecodable.len() - rows.rows.len());
                last = true;
            }
        }
        preview_page(db, integration, mapping, rows, written, preview).await?;
        if last {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Which parked records to replay, and how.
struct Parked<'a> {
    integration: &'a str,
    max_defer: std::time::Duration,
    page_size: u32,
}

/// The records the parking replay would write, by record key, with their mapped values. A run writes
/// a parked record first, then may read it again from the source (changed, or in the overlap window):
/// the second time it finds its own write, not the target as it was. The preview compares such a
/// record with what the replay "wrote" instead, so it counts what the run counts. It holds the parked
/// records only (what the parking holds, not the entity), and only while `remember` is on.
#[derive(Default)]
struct Written {
    rows: std::collections::HashMap<String, Vec<Value>>,
    /// The source versions of `rows`: the couplings the run would have stored for them, which the
    /// overlap window compares with (`sync/window.rs`).
    versions: std::collections::HashMap<String, Option<i64>>,
    remember: bool,
}

/// The records parked by earlier runs, as the run treats them before it reads the source: overdue ones
/// become errors, the others are mapped again (their lookups may resolve now).
async fn preview_parked(
    db: &DatabaseConnection,
    mapping: &Mapping,
    parked: Parked<'_>,
    written: &mut Written,
    preview: &mut Preview,
) -> Result<(), SyncError> {
    let Parked {
        integration,
        max_defer,
        page_size,
    } = parked;
    let hours = max_defer.as_secs() / 3_600;
    let mut after = String::new();
    loop {
        let parked = parked_records(db, integration, max_defer, &after, u64::from(page_size))
            .await
            .map_err(RunError::from)?;
        let Some(last) = parked.last() else {
            return Ok(());
        };
        after = last.record_key.clone();
        preview.summary.parked += parked.len() as u64;
        let (overdue, waiting): (Vec<_>, Vec<_>) = parked.into_iter().partition(|p| p.overdue);
        for p in overdue {
            preview.summary.rows_read += 1;
            preview.summary.error += 1;
            let reason = format!("still deferred after {hours} h (lookups.max_defer_hours)");
            preview
                .records
                .push(record(Op::Error, p.record_key, None, Some(reason)));
        }
        let rows = Rows::from_payloads(waiting.iter().map(|p| p.payload.as_str()));
        preview_page(db, integration, mapping, rows, written, preview).await?;
    }
}

/// The owned rows a reconcile would delete now (their source key vanished and nothing else backs their
/// row), found as a reconcile finds them: every source key staged in a key scan (discarded before
/// this returns), then this integration's couplings. At most `limit` are listed; the summary counts
/// them all, and says when `max_share` would make the reconcile refuse.
async fn preview_deletes(
    db: &DatabaseConnection,
    mapping: &Mapping,
    source: &Source,
    integration: &str,
    max_share: f64,
    limit: Option<u64>,
    preview: &mut Preview,
) -> Result<(), SyncError> {
    let scan = KeyScan::start(db, integration, None)
        .await
        .map_err(RunError::from)?;
    let result = vanished_rows(db, mapping, source, integration, scan, limit).await;
    scan.discard(db).await.map_err(RunError::from)?;
    let (total, gone, deletes, listed) = result?;
    preview.summary.delete = deletes;
    preview.summary.delete_refused = super::deletes::refusal(total, gone as usize, max_share);
    for key in listed {
        preview.records.push(record(Op::Delete, key, None, None));
    }
    Ok(())
}

/// The owned rows' count, the vanished couplings' count, how many rows would go, and the source keys
/// of the first `limit` of those.
async fn vanished_rows(
    db: &DatabaseConnection,
    mapping: &Mapping,
    source: &Source,
    integration: &str,
    scan: KeyScan,
    limit: Option<u64>,
) -> Result<(i64, i64, u64, Vec<String>), SyncError> {
    super::deletes::source_keys(db, mapping, source, scan).await?;
    let (total, gone) = vanished::count(db, integration, scan)
        .await
        .map_err(RunError::from)?;
    let deletes = vanished::count_unbacked(db, integration, scan)
        .await
        .map_err(RunError::from)?;
    let mut listed = Vec::new();
    let mut wanted = limit.unwrap_or(u64::MAX).min(deletes as u64);
    let mut after = String::new();
    while wanted > 0 {
        let step = vanished::unbacked(db, integration, scan, &after, wanted.min(10_000))
            .await
            .map_err(RunError::from)?;
        let Some(last) = step.last() else { break };
        after = last.source_key.clone();
        wanted -= step.len() as u64;
        listed.extend(step.into_iter().map(|owned| owned.source_key));
    }
    Ok((total, gone, deletes as u64, listed))
}

/// Maps a page exactly as a run would, then compares the mapped rows with the target in one query
/// (or, for a record this preview already wrote, with what it wrote).
async fn preview_page(
    db: &DatabaseConnection,
    integration: &str,
    mapping: &Mapping,
    rows: Rows,
    written: &mut Written,
    preview: &mut Preview,
) -> Result<(), SyncError> {
    let mut write = map_page(db, mapping, rows).await?;
    let removed = std::mem::take(&mut write.removed);
    let gone = crate::sink::removed::unbacked(db, integration, &removed)
        .await
        .map_err(RunError::from)?;
    let summary = &mut preview.summary;
    summary.rows_read += write.rows_read;
    // Removals whose row stays (never written, or backed by another coupling), and those kept on
    // purpose, are unchanged, as the run counts them.
    summary.delete += gone.len() as u64;
    summary.unchanged += (removed.len() - gone.len()) as u64 + write.unchanged;
    for owned in gone {
        preview
            .records
            .push(record(Op::Delete, owned.source_key, None, None));
    }
    let handled = write.rows.len()
        + write.failures.len()
        + write.deferred.len()
        + removed.len()
        + write.unchanged as usize;
    summary.skipped += write.rows_read - handled as u64;
    for (key, reason, _) in write.deferred {
        summary.deferred += 1;
        preview
            .records
            .push(record(Op::Deferred, key, None, Some(reason)));
    }
    for (key, message, _, _) in write.failures {
        summary.error += 1;
        preview
            .records
            .push(record(Op::Error, key, None, Some(message)));
    }
    let versions: std::collections::HashMap<String, Option<i64>> = if written.remember {
        let couplings = std::mem::take(&mut write.couplings);
        couplings
            .into_iter()
            .map(|c| (c.source_key, c.source_version))
            .collect()
    } else {
        Default::default()
    };
    let (again, fresh): (Vec<_>, Vec<_>) = write
        .rows
        .into_iter()
        .partition(|(key, _)| written.rows.contains_key(key));
    let compared = compare(db, mapping, &fresh).await.map_err(RunError::from)?;
    let columns: Vec<&str> = mapping.columns.iter().map(|c| c.name.as_str()).collect();
    let again = again.into_iter().map(|row| {
        let before = &written.rows[&row.0];
        let compared = compared_in_memory(&columns, before, &row.1);
        (row, compared)
    });
    let outcomes: Vec<_> = fresh
        .into_iter()
        .zip(compared)
        .chain(again.collect::<Vec<_>>())
        .collect();
    for ((key, values), (op, changes)) in outcomes {
        match op {
            Op::Insert => summary.insert += 1,
            Op::Update => summary.update += 1,
            _ => summary.unchanged += 1,
        }
        if written.remember && op != Op::Unchanged {
            if let Some(version) = versions.get(&key) {
                written.versions.insert(key.clone(), *version);
            }
            written.rows.insert(key.clone(), values);
        }
        preview.records.push(record(op, key, changes, None));
    }
    Ok(())
}

/// A record against the values this preview already wrote for it: unchanged, or an update with each
/// changed column.
fn compared_in_memory(columns: &[&str], before: &[Value], after: &[Value]) -> Compared {
    let changes: BTreeMap<String, Change> = columns
        .iter()
        .zip(before.iter().zip(after))
        .filter(|(_, (b, a))| value_json(b) != value_json(a))
        .map(|(column, (b, a))| {
            let change = Change {
                before: value_json(b),
                after: value_json(a),
            };
            (column.to_string(), change)
        })
        .collect();
    if changes.is_empty() {
        (Op::Unchanged, None)
    } else {
        (Op::Update, Some(changes))
    }
}

fn record(
    op: Op,
    key: String,
    changes: Option<BTreeMap<String, Change>>,
    error: Option<String>,
) -> PreviewRecord {
    PreviewRecord {
        op,
        key,
        changes,
        error,
    }
}

type Compared = (Op, Option<BTreeMap<String, Change>>);

/// For each mapped row: insert (no target row with its key), update (with each changed column) or
/// unchanged. Compared by the database, with the upsert's own test (`Dialect::compare`).
async fn compare(
    db: &DatabaseConnection,
    mapping: &Mapping,
    rows: &[(String, Vec<Value>)],
) -> Result<Vec<Compared>, sea_orm::DbErr> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let Some(found) = Dialect::compare(db, &crate::sink::shape(mapping), rows).await? else {
        return Ok(rows.iter().map(|_| (Op::Insert, None)).collect());
    };
    found
        .iter()
        .map(|row| compared(row, mapping.columns.iter().map(|c| c.name.clone())))
        .collect()
}

/// Reads one row of a comparison query — `#`, whether the target has the key, then per column
/// (differs, target value as JSON text, mapped value as JSON text) — into its operation. Both engines'
/// queries answer in this shape.
fn compared(
    row: &sea_orm::QueryResult,
    columns: impl Iterator<Item = String>,
) -> Result<(Op, Option<BTreeMap<String, Change>>), sea_orm::DbErr> {
    if !row.try_get_by_index::<bool>(1)? {
        return Ok((Op::Insert, None));
    }
    let json = |i: usize| -> Result<Json, sea_orm::DbErr> {
        let text: Option<String> = row.try_get_by_index(i)?;
        Ok(text
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Json::Null))
    };
    let mut changes = BTreeMap::new();
    for (c, name) in columns.enumerate() {
        let at = 2 + c * 3;
        if row.try_get_by_index::<bool>(at)? {
            changes.insert(
                name,
                Change {
                    before: json(at + 1)?,
                    after: json(at + 2)?,
                },
            );
        }
    }
    Ok(if changes.is_empty() {
        (Op::Unchanged, None)
    } else {
        (Op::Update, Some(changes))
    })
}
