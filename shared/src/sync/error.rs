//! Why a run did not complete, and whether trying again could help. Each boundary (HTTP source,
//! database) classifies its own errors in one place; this only combines them.

use std::time::Duration;

use crate::definitions::ApplyError;
use crate::mapping::DriftError;
use crate::odata::client::SourceError;
use crate::runs::RunError;

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
    /// The run refused to do something unsafe (e.g. a reconcile past `max_share`); nothing was changed.
    #[error("{0}")]
    Refused(String),
    /// The worker is shutting down; the committed pages stay, the rest is for another worker.
    #[error("worker stopping")]
    Stopped,
    /// Someone cancelled the run (who, as recorded); the committed pages stay.
    #[error("cancelled by {0}")]
    Cancelled(String),
    /// A bug (a panic) ended part of the run; the committed pages stay.
    #[error("internal error: {0}")]
    Internal(String),
    /// A page of a first load written by plain insert (`Landing::Insert`) met a key already in the
    /// target: the page is rolled back, and the run goes on from its checkpoint by upsert
    /// (`sync/execute.rs`).
    #[error("a first load met a key already in the target table")]
    KeyTaken,
}

impl From<ApplyError> for SyncError {
    fn from(e: ApplyError) -> SyncError {
        SyncError::Definition(e.to_string())
    }
}

impl SyncError {
    /// Timeouts, connection errors, 408/429/5xx-busy from the source, lost database connections: the
    /// same run may well succeed later. Refused sign-in, drift, bad definitions and 4xx will not.
    pub fn is_retriable(&self) -> bool {
        match self {
            SyncError::Source(e) => e.is_retriable(),
            SyncError::KeyTaken => true,
            SyncError::Run(RunError::Database(e)) | SyncError::Table(e) => {
                crate::storage::is_retriable(e)
            }
            SyncError::Run(_)
            | SyncError::Drift(_)
            | SyncError::Definition(_)
            | SyncError::Refused(_) => false,
            SyncError::Stopped | SyncError::Cancelled(_) | SyncError::Internal(_) => false,
        }
    }

    /// How long the source asked us to wait (Retry-After), if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            SyncError::Source(SourceError::Http {
                retry_after: Some(seconds),
                ..
            }) => Some(Duration::from_secs(*seconds)),
            _ => None,
        }
    }
}
