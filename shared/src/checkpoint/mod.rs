//! Checkpoints are typed and opaque to storage (ARCHITECTURE.md, "Checkpoints and couplings"): a version number, or a
//! last-modified timestamp (BC's standard API), or a delta link (a service's change tracking).

use serde::{Deserialize, Serialize};

use crate::definitions::ChangeOrder;

/// How far an integration has read its source, as committed with the last written page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Checkpoint {
    /// Every row with a version up to and including `value` has been written.
    Version { value: i64 },
    /// Every row modified up to and including `at` (RFC 3339) has been written (`source.modified`).
    Modified { at: String },
    /// The service's delta link (`@odata.deltaLink`, `source.changes = "track"`): following it returns
    /// what changed since the read that handed it out. Opaque: only the service reads its token.
    Delta { link: String },
    /// A read of everything in key order, part way (ARCHITECTURE.md, "Initial load"): every record up
    /// to the source key `after` (in the service's key order) has been written, and `high` is the
    /// highest row version the source held before the scan began. When the scan ends the checkpoint
    /// becomes `Version { value: high }`, not the largest version met, so the first delta re-reads
    /// whatever changed while the scan ran.
    Scan {
        high: i64,
        /// The key fields of the last record of the last committed page (none: no page yet).
        after: Option<crate::odata::client::Row>,
    },
}

impl Checkpoint {
    /// The checkpoint at `position` in a source ordered by `order` (a version, or Unix microseconds);
    /// none for a tracked source, whose rows carry no position (its delta link is the checkpoint).
    pub fn at(order: ChangeOrder, position: i64) -> Option<Checkpoint> {
        match order {
            ChangeOrder::Version => Some(Checkpoint::Version { value: position }),
            ChangeOrder::Modified => Some(Checkpoint::Modified {
                at: chrono::DateTime::from_timestamp_micros(position)
                    .unwrap_or_default()
                    .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            }),
            ChangeOrder::Track => None,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("checkpoints always serialize")
    }

    pub fn from_json(text: &str) -> Result<Checkpoint, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The position reached (0 before the first run): the version, or the time as Unix microseconds.
    /// A delta link has no position (0): it is followed, not compared.
    pub fn position(this: Option<&Checkpoint>) -> i64 {
        match this {
            Some(Checkpoint::Version { value }) => *value,
            Some(Checkpoint::Modified { at }) => chrono::DateTime::parse_from_rfc3339(at)
                .map(|t| t.timestamp_micros())
                .unwrap_or(0),
            // A scan part way covers no version range yet: it is resumed by key, not by position.
            Some(Checkpoint::Delta { .. } | Checkpoint::Scan { .. }) | None => 0,
        }
    }

    /// The position stored beside the checkpoint for the forward-only guard; none for a delta link,
    /// which is newer than the one before it by construction, and none for a scan part way, which
    /// only a read of everything writes (and which its own end replaces by its high-water mark).
    pub fn ordered_position(&self) -> Option<i64> {
        match self {
            Checkpoint::Delta { .. } | Checkpoint::Scan { .. } => None,
            _ => Some(Checkpoint::position(Some(self))),
        }
    }

    /// The delta link to follow, when this checkpoint is one.
    pub fn delta_link(this: Option<&Checkpoint>) -> Option<&str> {
        match this {
            Some(Checkpoint::Delta { link }) => Some(link),
            _ => None,
        }
    }

    /// The key-order scan this checkpoint is part way through, when it is one: its high-water mark
    /// and the key it has written up to.
    pub fn scan(this: Option<&Checkpoint>) -> Option<(i64, Option<&crate::odata::client::Row>)> {
        match this {
            Some(Checkpoint::Scan { high, after }) => Some((*high, after.as_ref())),
            _ => None,
        }
    }

    /// How the source is ordered that this checkpoint measures.
    pub fn order(&self) -> ChangeOrder {
        match self {
            Checkpoint::Version { .. } | Checkpoint::Scan { .. } => ChangeOrder::Version,
            Checkpoint::Modified { .. } => ChangeOrder::Modified,
            Checkpoint::Delta { .. } => ChangeOrder::Track,
        }
    }
}

pub mod jump;
mod measured;
mod store;

pub use measured::Measured;
pub use store::{Stored, forget, load, save};

/// How a run records its position with each page it commits.
#[derive(Debug, Clone)]
pub struct Track {
    /// What the run's source is, saved with the checkpoint.
    pub measured: Measured,
    /// Incremental runs never lower the stored watermark; a full re-read may.
    pub forward_only: bool,
}
