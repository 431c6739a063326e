//! Executing a run (DESIGN §3): claim it, read the delta page by page, map, write each page with its
//! checkpoint, finish. The reader runs one page ahead of the writer.

mod import;
mod metadata_cache;

pub use import::{SyncContext, SyncError, execute};
pub use metadata_cache::MetadataCache;
