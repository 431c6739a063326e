//! The delta's three stages, each a page ahead of the next, so the source, the mapping and the database
//! work at the same time: the reader fetches and parses pages, the mapper maps and hashes them, and the
//! run's own task writes them, one transaction per page. Pages keep the source's order end to end, so
//! each commit's checkpoint is still a safe place to resume from.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sea_orm::DatabaseConnection;
use tokio::sync::{Semaphore, mpsc};
use tokio_util::task::AbortOnDropHandle;
use url::Url;

use super::error::SyncError;
use super::import::{map_page, resolving};
use crate::mapping::Mapping;
use crate::odata::client::{Page, SourceError};
use crate::source::Source;
use crate::target::PageWrite;

/// A page ready for the writer, with how long its stages took (for the per-page debug line).
#[derive(Debug)]
pub struct MappedPage {
    pub write: PageWrite,
    pub fetch: Duration,
    pub map: Duration,
}

/// The running reader and mapper; both stop when this is dropped.
pub struct Stages {
    mapped: mpsc::Receiver<Result<MappedPage, SyncError>>,
    /// Present when the mapping looks rows up in its own target table: the mapper then waits for each
    /// page to be written before it maps the next, so a lookup sees every earlier page, as it would
    /// one page at a time.
    written: Option<Arc<Semaphore>>,
    _reader: AbortOnDropHandle<()>,
    _mapper: AbortOnDropHandle<()>,
}

impl Stages {
    /// Starts reading at `first` and mapping what is read.
    pub fn start(
        source: Source,
        first: Url,
        db: DatabaseConnection,
        mapping: Arc<Mapping>,
        clears: bool,
    ) -> Stages {
        let (pages, fetched) = mpsc::channel(1);
        let (mapped_pages, mapped) = mpsc::channel(1);
        let written = mapping
            .lookups
            .iter()
            .any(|l| l.table == mapping.table)
            .then(|| Arc::new(Semaphore::new(1)));
        let reader = tokio::spawn(read(source, first, pages));
        let mapper = tokio::spawn(map(
            db,
            mapping,
            clears,
            written.clone(),
            fetched,
            mapped_pages,
        ));
        Stages {
            mapped,
            written,
            _reader: AbortOnDropHandle::new(reader),
            _mapper: AbortOnDropHandle::new(mapper),
        }
    }

    /// The next mapped page, or `None` after the last one.
    pub async fn next(&mut self) -> Option<Result<MappedPage, SyncError>> {
        self.mapped.recv().await
    }

    /// Tells the mapper the page it handed over is committed.
    pub fn page_written(&self) {
        if let Some(written) = &self.written {
            written.add_permits(1);
        }
    }
}

/// Fetches page after page, following `@odata.nextLink`, one page ahead of the mapper.
async fn read(
    source: Source,
    first: Url,
    pages: mpsc::Sender<(Result<Page, SourceError>, Duration)>,
) {
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
}

/// Maps each fetched page (lookups, transforms, coupling hashes), one page ahead of the writer.
async fn map(
    db: DatabaseConnection,
    mapping: Arc<Mapping>,
    clears: bool,
    written: Option<Arc<Semaphore>>,
    mut fetched: mpsc::Receiver<(Result<Page, SourceError>, Duration)>,
    mapped: mpsc::Sender<Result<MappedPage, SyncError>>,
) {
    while let Some((page, fetch)) = fetched.recv().await {
        if let Some(written) = &written {
            match written.acquire().await {
                Ok(permit) => permit.forget(),
                Err(_) => return,
            }
        }
        let started = Instant::now();
        let result = match page {
            Ok(page) => map_page(&db, &mapping, page.rows)
                .await
                .map(|write| MappedPage {
                    write: resolving(clears, write),
                    fetch,
                    map: started.elapsed(),
                }),
            Err(e) => Err(e.into()),
        };
        let failed = result.is_err();
        if mapped.send(result).await.is_err() || failed {
            return;
        }
    }
}
