//! The incremental import: rows with a version above the checkpoint, in version order, so each committed
//! page's highest version is a safe place to resume from.

use std::time::Duration;

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::checkpoint::Checkpoint;
use crate::definitions::{ApplyError, IntegrationDef, load_connection};
use crate::drift::check_source;
use crate::mapping::{DriftError, Mapping};
use crate::odata::client::{Page, SourceError};
use crate::odata::query::Query;
use crate::runs::{self, Claim, Lease, Mode, Outcome, RunError};
use crate::secrets::{Credentials, SecretsError};
use crate::settings::{Settings, WorkerSettings};
use crate::source::Source;
use crate::storage::entities::{checkpoint, integration};
use crate::sync::MetadataCache;
use crate::target::{PageWrite, create_table, write_page};

/// What a worker needs to execute runs; built once per process.
#[derive(Debug, Clone)]
pub struct SyncContext {
    pub db: DatabaseConnection,
    pub http: reqwest::Client,
    pub settings: WorkerSettings,
    /// Stored client secrets and sign-ins, and the master key to open them.
    pub credentials: Credentials,
    pub metadata: MetadataCache,
}

impl SyncContext {
    /// Built once per worker process. Fails only on a malformed master key; a missing one fails just
    /// the runs that need a stored secret.
    pub fn new(
        db: DatabaseConnection,
        http: reqwest::Client,
        settings: &Settings,
    ) -> Result<SyncContext, SecretsError> {
        Ok(SyncContext {
            credentials: Credentials::new(db.clone(), &settings.secrets)?,
            db,
            http,
            settings: settings.worker.clone(),
            metadata: MetadataCache::default(),
        })
    }
}

/// Why a run failed. Each says what to fix; none carries a secret.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Drift(#[from] DriftError),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error("definition: {0}")]
    Definition(String),
    #[error("creating target table failed: {0}")]
    Table(sea_orm::DbErr),
}

impl From<ApplyError> for SyncError {
    fn from(e: ApplyError) -> SyncError {
        SyncError::Definition(e.to_string())
    }
}

/// Claims and executes run `run_id` as `owner`. Returns the claim's outcome: a duplicate job, or a run
/// of a busy integration, does nothing.
pub async fn execute(ctx: &SyncContext, run_id: i64, owner: &str) -> Result<Claim, RunError> {
    let claim = runs::claim(&ctx.db, run_id, owner, ctx.settings.lease()).await?;
    let Claim::Claimed(claimed) = &claim else {
        return Ok(claim);
    };
    let (lease, run) = &**claimed;
    let mode = if run.mode == "full" {
        Mode::Full
    } else {
        Mode::Incremental
    };
    let renewer = spawn_renewer(ctx.db.clone(), lease.clone());
    let result = import(ctx, lease, &run.integration, run.definition_version, mode).await;
    renewer.abort();
    let outcome = match result {
        Ok(()) => Outcome::Completed,
        Err(SyncError::Run(RunError::LeaseLost(id))) => {
            warn!(run_id = id, "lease lost; another worker owns the run now");
            return Ok(claim);
        }
        Err(e) => {
            warn!(run_id, error = %e, "run failed");
            Outcome::Failed(e.to_string())
        }
    };
    runs::finish(&ctx.db, lease, outcome).await?;
    Ok(claim)
}

/// Keeps the lease alive while a page is read or written, so a slow source does not look like a dead
/// worker.
fn spawn_renewer(db: DatabaseConnection, lease: Lease) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let every = (lease.duration / 3).max(Duration::from_millis(100));
        loop {
            tokio::time::sleep(every).await;
            if let Err(e) = runs::renew(&db, &lease).await {
                warn!(run_id = lease.run_id, error = %e, "lease renewal failed");
                if matches!(e, RunError::LeaseLost(_)) {
                    return;
                }
            }
        }
    })
}

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

async fn import(
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
    let (pages, mut incoming) = mpsc::channel::<Result<Page, SourceError>>(1);
    let reader = tokio::spawn(async move {
        let mut next = Some(first);
        while let Some(url) = next.take() {
            let page = source.page(&url).await;
            if let Ok(page) = &page {
                next = page.next.clone().filter(|n| *n != url);
            }
            if pages.send(page).await.is_err() {
                return;
            }
        }
    });
    let result = async {
        while let Some(page) = incoming.recv().await {
            let page = page?;
            let write = map_page(&mapping, page.rows);
            write_page(&ctx.db, lease, &mapping, write).await?;
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
