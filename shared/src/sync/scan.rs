//! The initial load in key order (ARCHITECTURE.md, "Initial load"). Business Central has no index on
//! the Resco `RowVersionNumber`, so reading a whole table ordered by it makes the service sort the
//! table for every page. A read of everything therefore asks for the high-water version once, reads
//! the entity in key order, and ends by setting the checkpoint to that high-water mark, never to the
//! largest version met: the first delta then re-reads whatever changed while the scan ran.
//!
//! Each committed page saves where the scan stands (`Checkpoint::Scan`: the high-water mark and the
//! last key written), so a run that stops part way, or the retry of one, goes on by key from there
//! with the same high-water mark (`sync/start.rs` hands it back).

use super::error::SyncError;
use crate::checkpoint::{Checkpoint, jump};
use crate::definitions::{ChangeOrder, ConnectionKind};
use crate::mapping::Mapping;
use crate::odata::client::Row;
use crate::odata::query::Query;
use crate::settings::WorkerSettings;
use crate::source::{Pages, Source};

/// Whether a read of everything of this integration goes in key order: a source ordered by a row
/// version on Business Central or a generic OData service. Dataverse pages by its own cookie in GUID
/// order (never by `key gt last`), and a timestamp or a tracked source keeps its own read.
pub(super) fn applies(kind: ConnectionKind, mapping: &Mapping) -> bool {
    mapping.change_order == ChangeOrder::Version && kind != ConnectionKind::Dataverse
}

/// A scan in key order, begun or resumed.
#[derive(Debug, Clone)]
pub(super) struct Scan {
    /// The highest version the source held before the scan began (0 when it held no row).
    pub high: i64,
    /// The key fields of the last record written (none before the first page).
    pub after: Option<Row>,
    /// Whether this run read the high-water mark itself (a scan begun), or took it over.
    pub begun: bool,
}

impl Scan {
    /// The scan a run reads with, if it reads everything in key order: when the source `applies`,
    /// `worker.scan_in_key_order` is on, and the run reads from the start (`watermark` 0) or has a
    /// scan to go on with (`resume`, from `sync/start.rs`).
    pub async fn for_run(
        settings: &WorkerSettings,
        kind: ConnectionKind,
        source: &Source,
        mapping: &Mapping,
        watermark: i64,
        resume: Option<(i64, Option<Row>)>,
    ) -> Result<Option<Scan>, SyncError> {
        if !settings.scan_in_key_order
            || !applies(kind, mapping)
            || (resume.is_none() && watermark != 0)
        {
            return Ok(None);
        }
        Scan::begin(source, mapping, resume, settings.max_version_jump)
            .await
            .map(Some)
    }

    /// Goes on with the scan `resume` (`sync/start.rs`), or begins one: reads the high-water mark
    /// first, so nothing written after it is taken as read. The mark is checked like any version a
    /// run moves its checkpoint to (`checkpoint::jump`).
    pub async fn begin(
        source: &Source,
        mapping: &Mapping,
        resume: Option<(i64, Option<Row>)>,
        max_version_jump: i64,
    ) -> Result<Scan, SyncError> {
        if let Some((high, after)) = resume {
            return Ok(Scan {
                high,
                after,
                begun: false,
            });
        }
        let mut pages = source.read(&mapping.entity, &super::read::high_water(mapping));
        let high = match pages.next().await {
            // The top row; the largest of the page, should a service answer with more.
            Some(rows) => rows?
                .rows
                .iter()
                .filter_map(|row| mapping.version(row))
                .max(),
            None => None,
        }
        .unwrap_or(0);
        jump::check(0, high, max_version_jump).map_err(|e| SyncError::Refused(e.to_string()))?;
        Ok(Scan {
            high,
            after: None,
            begun: true,
        })
    }

    /// The pages of the scan from where it stands.
    pub fn pages(&self, source: &Source, mapping: &Mapping) -> Pages {
        source.read(&mapping.entity, &self.query(mapping))
    }

    /// The query of the scan from where it stands (`sync/read.rs::scan`).
    pub fn query(&self, mapping: &Mapping) -> Query {
        super::read::scan(mapping, self.after.as_ref())
    }

    /// The checkpoint of a page whose last record has the key fields `last` (none: a page of no
    /// readable record, which moves the scan nowhere).
    pub fn passed(&mut self, last: Option<Row>) -> Checkpoint {
        if last.is_some() {
            self.after = last;
        }
        Checkpoint::Scan {
            high: self.high,
            after: self.after.clone(),
        }
    }

    /// The checkpoint once every page is written: the high-water mark read before the scan.
    pub fn finished(&self) -> Checkpoint {
        Checkpoint::Version { value: self.high }
    }
}

/// The key fields of `row`, as a scan's position.
pub(super) fn key_of(mapping: &Mapping, row: &Row) -> Row {
    mapping
        .source_key
        .iter()
        .filter_map(|k| row.get(k).map(|v| (k.clone(), v.clone())))
        .collect()
}
