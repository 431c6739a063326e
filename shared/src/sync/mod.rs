//! Executing a run (DESIGN §3): claim it, read the delta page by page, map, write each page with its
//! checkpoint, then finish, retry later, or hand the run back on shutdown.

mod error;
mod execute;
mod import;
mod metadata_cache;
mod retry;

pub use error::SyncError;
pub use execute::{SyncContext, execute};
pub use metadata_cache::MetadataCache;
pub use retry::backoff;
