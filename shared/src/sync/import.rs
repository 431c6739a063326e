//! The incremental import: rows with a version above the checkpoint, in version order, so each committed
//! page's highest version is a safe place to resume from.

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use tokio::sync::mpsc;
use std::time::{Duration, Instant};

use tracing::{debug, info};

use super::error::SyncError;
use super::execute::SyncContext;
use crate::checkpoint::Checkpoint;
use crate::definitions::{IntegrationDef, load_connection};
use crate::drift::check_source;
use crate::mapping::{DriftError, Mapping};
use crate::odata::client::{Page, SourceError};
use crate::odata::query::Query;
use crate::runs::{Lease, Mode, RunError};
use crate::source::Source;
use crate::storage::entities::{checkpoint, integration};
use crate::target::{PageWrite, create_table, write_page};

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

pub(super) async fn import(
    ctx: &SyncContext,
    lease: &Lease,
    name: &str,
    version: i32,
    mode: Mode,
) -> Result<(), SyncError> {
    let def = definition(&ctx.db, name, version).await?;
    let connection = load_connection(&ctx.db, &def.connection)
        .await?
        .ok_or_else(|| {
            SyncError::Definition(format!("connection {:?} is not stored", def.connection))
        })?;
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
    let mapping = compile(&def, &metadata)?;
    if mapping.create {
        create_table(&ctx.db, &mapping)
            .await
            .map_err(SyncError::Table)?;
    }
    let watermark = match mode {
        Mode::Full => 0,
        Mode::Incremental => {
            let stored = checkpoint::Entity::find_by_id(name.to_string())
                .one(&ctx.db)
                .await
                .map_err(RunError::from)?
                .and_then(|c| Checkpoint::from_json(&c.value).ok());
            Checkpoint::version(stored.as_ref())
        }
    };
    let version_predicate = format!("{} gt {watermark}", mapping.version_field);
    let query = Query {
        select: mapping.select.clone(),
        filter: Some(match &def.source.filter {
            Some(user) => format!("({user}) and {version_predicate}"),
            None => version_predicate,
        }),
        orderby: vec![format!("{} asc", mapping.version_field)],
        top: None,
    };
    let first = source.entity_url(&mapping.entity, &query);
    info!(
        run_id = lease.run_id,
        integration = name,
        watermark,
        "reading delta"
    );

    // One page in flight while the previous one is written.
    let (pages, mut incoming) = mpsc::channel::<(Result<Page, SourceError>, Duration)>(1);
    let reader = tokio::spawn(async move {
        let mut next = Some(first);
        while let Some(url) = next.take() {
            let started = Instant::now();
            let page = source.page(&url).await;
            if let Ok(page) = &page {
                next = page.next.clone().filter(|n| *n != url);
            }
            if pages.send((page, started.elapsed())).await.is_err() {
                return;
            }
        }
    });
    let result = async {
        while let Some((page, fetched)) = incoming.recv().await {
            let page = page?;
            let started = Instant::now();
            let rows = page.rows.len();
            let write = map_page(&mapping, page.rows);
            let mapped = started.elapsed();
            write_page(&ctx.db, lease, &mapping, write).await?;
            debug!(
                run_id = lease.run_id,
                rows,
                fetch_ms = fetched.as_millis() as u64,
                map_ms = mapped.as_millis() as u64,
                write_ms = (started.elapsed() - mapped).as_millis() as u64,
                "page written"
            );
            // Stop between pages: what is committed stays, the next worker resumes from it.
            if ctx.stopping.is_cancelled() {
                return Err(SyncError::Stopped);
            }
        }
        Ok(())
    }
    .await;
    reader.abort();
    match result {
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
    }
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

/// Maps a page; a record that cannot be mapped becomes a failure with its payload, the rest go on.
fn map_page(mapping: &Mapping, rows: Vec<crate::odata::client::Row>) -> PageWrite {
    let mut write = PageWrite {
        rows_read: rows.len() as u64,
        ..PageWrite::default()
    };
    let mut high = None;
    for row in rows {
        if let Some(v) = mapping.version(&row) {
            high = high.max(Some(v));
        }
        let key = mapping.record_key(&row);
        match mapping.map_row(&row) {
            Ok(values) => write.rows.push((key, values)),
            Err(e) => {
                let payload = serde_json::to_string(&row).unwrap_or_default();
                write
                    .failures
                    .push((key, format!("{}: {}", e.column, e.message), payload));
            }
        }
    }
    write.checkpoint = high.map(|value| Checkpoint::Version { value });
    write
}
