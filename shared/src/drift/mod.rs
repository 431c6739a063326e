//! Drift: an integration that refers to external entities or fields that no longer exist, or whose
//! types no longer fit its target table (Resco's "validate on open"). `ferry check` reports every
//! problem; a worker checks the source side before each run and fails at once with the same words;
//! `ferry check --clean-up` drops the fields that are gone.

mod clean_up;
mod filter;
mod report;
mod source;
mod target;

use serde::Serialize;

pub use clean_up::{CleanUpError, clean_up};
pub use filter::fields as filter_fields;
pub use report::{CheckError, Checker, Report, integration_names};
pub use source::check_source;
pub use target::{TargetColumn, check_target, target_columns};

/// What is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    MissingEntity,
    MissingField,
    IncompatibleType,
    MissingTable,
    MissingColumn,
    IncompatibleColumn,
}

/// One problem of one integration: the field (or column) and every place of the mapping it breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub integration: String,
    pub kind: ProblemKind,
    /// The source field, entity or target column concerned.
    pub field: String,
    /// Where the definition uses it, e.g. `fields[6] (City → city)`, `source.filter`.
    pub used_by: Vec<String>,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "integration {:?}: {}", self.integration, self.message)?;
        if !self.used_by.is_empty() {
            write!(f, " (used by {})", self.used_by.join(", "))?;
        }
        Ok(())
    }
}
