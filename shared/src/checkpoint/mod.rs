//! Checkpoints are typed and opaque to storage (ARCHITECTURE.md, "Checkpoints and couplings"): a version number for BC today, a delta link or
//! a timestamp for other connectors later.

use serde::{Deserialize, Serialize};

/// How far an integration has read its source, as committed with the last written page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Checkpoint {
    /// Every row with a version up to and including `value` has been written.
    Version { value: i64 },
}

impl Checkpoint {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("checkpoints always serialize")
    }

    pub fn from_json(text: &str) -> Result<Checkpoint, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The version watermark (0 before the first run).
    pub fn version(this: Option<&Checkpoint>) -> i64 {
        match this {
            Some(Checkpoint::Version { value }) => *value,
            None => 0,
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
