//! Executing a run (ARCHITECTURE.md, "The sync path"): claim it, read the delta page by page, map, write each page with its
//! checkpoint, then finish, retry later, or hand the run back on shutdown.

mod commit;
mod conflicts;
mod deletes;
mod dependents;
mod error;
mod execute;
mod export;
mod import;
mod laps;
mod map;
mod metadata_cache;
mod pipeline;
pub(crate) mod prepare;
mod preview;
mod preview_export;

mod read;
mod replay;
mod retry;
mod scan;
mod start;
mod tracked;
mod window;

pub use error::SyncError;
pub use execute::{SyncContext, execute, push};
pub use metadata_cache::MetadataCache;
pub use preview::{Change, Op, Preview, PreviewOptions, PreviewRecord, PreviewSummary, preview};
pub use preview_export::{OutboundOp, OutboundPreview, OutboundRecord, OutboundSummary};
pub use retry::backoff;
