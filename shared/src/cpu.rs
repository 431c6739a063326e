//! CPU-heavy steps on an async runtime.

use tokio::runtime::{Handle, RuntimeFlavor};

/// Runs CPU-heavy work (parsing or mapping a page takes tens of milliseconds) without stalling the
/// runtime's other tasks: on a multi-threaded runtime this thread first hands its queued tasks to
/// another, so the database and HTTP I/O of the other pipeline stages keeps moving meanwhile. On a
/// current-thread runtime (as in tests) it just runs.
pub fn heavy<T>(work: impl FnOnce() -> T) -> T {
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        _ => work(),
    }
}
