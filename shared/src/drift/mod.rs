//! Drift: an integration that refers to external entities or fields that no longer exist, or whose
//! types no longer fit its target table (Resco's "validate on open"). `ferry check` reports every
//! problem; a worker checks the source side before each run and fails at once with the same words;
//! `ferry check --clean-up` drops the fields that are gone.

mod capture;
mod clean_up;
mod filter;
mod lookups;
mod read_before;
mod report;
mod source;
mod target;

use serde::Serialize;

pub use clean_up::{CleanUpError, clean_up};
pub use filter::{Mismatch, mismatches};
pub use lookups::check_lookups;
pub use read_before::{ReadBefore, read_before};
pub use report::{
    CheckError, Checker, CleanedUp, Report, StoredCheck, check_against_stored, integration_names,
};
pub use source::check_source;
pub use target::{TargetColumn, TargetTable, accepts, check_target, target_table};

/// What is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    MissingEntity,
    MissingField,
    IncompatibleType,
    /// `source.filter` compares a field with a value of another type.
    FilterTypeMismatch,
    /// `source.key` is not the entity's key in `$metadata` (a warning: it may still be unique).
    KeyNotEntityKey,
    MissingTable,
    MissingColumn,
    IncompatibleColumn,
    /// A column shorter or narrower than what the source sends (`MaxLength`, integer digits).
    ColumnTooNarrow,
    /// No primary key or unique index of the target table is exactly `target.key`.
    KeyWithoutUniqueIndex,
    /// A lookup's table neither exists nor is written by any integration.
    MissingLookupTable,
    /// A lookup's `match` or `select` column is not in its (existing) table.
    MissingLookupColumn,
    /// An exporting integration's table has no capture triggers, or ones made for other key columns:
    /// local changes are not (all) logged, so they would not be exported.
    MissingCapture,
    StaleCapture,
}

/// Whether a problem fails runs (`error`) or only deserves a look (`warning`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem of one integration: the field (or column) and every place of the mapping it breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub integration: String,
    pub severity: Severity,
    pub kind: ProblemKind,
    /// The source field, entity or target column concerned.
    pub field: String,
    /// Where the definition uses it, e.g. `fields[6] (City → city)`, `source.filter`.
    pub used_by: Vec<String>,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.severity == Severity::Warning {
            write!(f, "warning: ")?;
        }
        write!(f, "integration {:?}: {}", self.integration, self.message)?;
        if !self.used_by.is_empty() {
            write!(f, " (used by {})", self.used_by.join(", "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
