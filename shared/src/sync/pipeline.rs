//! The delta in two stages, so the source and the database work at the same time: the reader fetches,
//! parses, maps and hashes the next page while the run's own task writes the previous one, one
//! transaction per page. Pages keep the source's order, so each commit's checkpoint is still a safe
//! place to resume from. Two stages, not three: a separate mapper would hold two more parsed pages (the
//! bulk of a worker's memory) for no gain, since writing is the slower stage.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sea_orm::DatabaseConnection;
use tokio::sync::{Semaphore, mpsc};
use tokio_util::task::AbortOnDropHandle;

use super::error::SyncError;
use super::map::{map_page, resolving};
use crate::mapping::Mapping;
use crate::odata::client::Rows;
use crate::sink::PageWrite;
use crate::source::Pages;
use crate::storage::{Dialect, Landing};

/// A page ready for the writer, with how long its stages took (for the per-page debug line).
#[derive(Debug)]
pub struct MappedPage {
    pub write: PageWrite,
    pub fetch: Duration,
    pub map: Duration,
    /// The key fields of the page's last readable record: where a scan in key order stands once the
    /// page is written (`sync/scan.rs`).
    pub last_key: Option<crate::odata::client::Row>,
}

/// Pages the writer will write as they come (no couplings to compare with, nothing screens them): the
/// reader then also builds their statements, landing as the run decided.
#[derive(Debug, Clone)]
pub struct FinalRows {
    pub integration: String,
    pub landing: Landing,
}

/// The running reader; it stops when this is dropped.
pub struct Stages {
    mapped: mpsc::Receiver<Result<MappedPage, SyncError>>,
    /// Present when the mapping looks rows up in its own target table: the reader then waits for each
    /// page to be written before it maps the next, so a lookup sees every earlier page, as it would
    /// one page at a time.
    written: Option<Arc<Semaphore>>,
    reader: AbortOnDropHandle<()>,
}

impl Stages {
    /// Starts reading at `first` and mapping what is read. With `final_rows` the reader also builds
    /// each page's statements.
    pub fn start(
        pages: Pages,
        db: DatabaseConnection,
        mapping: Arc<Mapping>,
        clears: bool,
        final_rows: Option<FinalRows>,
    ) -> Stages {
        let (mapped_pages, mapped) = mpsc::channel(1);
        let written = mapping
            .lookups
            .iter()
            .any(|l| l.table == mapping.table)
            .then(|| Arc::new(Semaphore::new(1)));
        let reader = Reader {
            db,
            mapping,
            clears: AtomicBool::new(clears),
            final_rows,
            written: written.clone(),
        };
        Stages {
            mapped,
            written,
            reader: AbortOnDropHandle::new(tokio::spawn(reader.run(pages, mapped_pages))),
        }
    }

    /// The next mapped page, or `None` after the last one.
    pub async fn next(&mut self) -> Option<Result<MappedPage, SyncError>> {
        if let Some(page) = self.mapped.recv().await {
            return Some(page);
        }
        // The channel also closes when the reader panicked: that must fail the run, not end it as if
        // the source had no more pages.
        match (&mut self.reader).await {
            Err(e) if e.is_panic() => Some(Err(SyncError::Internal(format!(
                "reading pages panicked: {e}"
            )))),
            _ => None,
        }
    }

    /// Tells the reader the page it handed over is committed.
    pub fn page_written(&self) {
        if let Some(written) = &self.written {
            written.add_permits(1);
        }
    }
}

/// The first stage: fetches page after page and maps each.
struct Reader {
    db: DatabaseConnection,
    mapping: Arc<Mapping>,
    /// Whether written records resolve failures: the integration had open ones when the run began,
    /// or a page of this run recorded some (a record failing early in a run and written later in it
    /// ends resolved).
    clears: AtomicBool,
    final_rows: Option<FinalRows>,
    written: Option<Arc<Semaphore>>,
}

impl Reader {
    async fn run(self, mut pages: Pages, mapped: mpsc::Sender<Result<MappedPage, SyncError>>) {
        loop {
            let started = Instant::now();
            let Some(rows) = pages.next().await else {
                return;
            };
            let page = match rows {
                Ok(rows) => self.map(rows, started.elapsed()).await,
                Err(e) => Err(e.into()),
            };
            let failed = page.is_err();
            if mapped.send(page).await.is_err() || failed {
                return;
            }
        }
    }

    /// One page, mapped.
    async fn map(&self, rows: Rows, fetch: Duration) -> Result<MappedPage, SyncError> {
        if let Some(written) = &self.written {
            written
                .acquire()
                .await
                .map_err(|_| SyncError::Stopped)?
                .forget();
        }
        let started = Instant::now();
        let last_key = rows
            .rows
            .last()
            .or(rows.undecodable.last().map(|u| &u.fields))
            .map(|row| super::scan::key_of(&self.mapping, row));
        let mapped = map_page(&self.db, &self.mapping, rows).await?;
        if !mapped.failures.is_empty() {
            self.clears.store(true, Ordering::Relaxed);
        }
        let mut write = resolving(self.clears.load(Ordering::Relaxed), mapped);
        if let Some(FinalRows {
            integration,
            landing,
        }) = &self.final_rows
        {
            write.landing = *landing;
            write.prepare(Dialect::of(&self.db), &self.mapping, integration);
        }
        Ok(MappedPage {
            write,
            fetch,
            map: started.elapsed(),
            last_key,
        })
    }
}
