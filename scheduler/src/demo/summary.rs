//! What the demo prints: one line per run, and where the data went.

use ferry_shared::runs::RunSummary;

/// The header of the run table.
pub fn header() -> String {
    format!(
        "{:<18} {:<10} {:>8} {:>9} {:>8} {:>9} {:>7} {:>9}",
        "INTEGRATION", "STATUS", "READ", "INSERTED", "UPDATED", "DEFERRED", "FAILED", "ROWS/S"
    )
}

/// One run as a table line; rows/s is rows read over the run's wall time.
pub fn line(run: &RunSummary) -> String {
    let rate = match run.duration_ms {
        Some(ms) if ms > 0 => format!("{:.0}", run.rows_read as f64 * 1000.0 / ms as f64),
        _ => "-".into(),
    };
    format!(
        "{:<18} {:<10} {:>8} {:>9} {:>8} {:>9} {:>7} {:>9}",
        run.integration,
        run.status,
        run.rows_read,
        run.inserted,
        run.updated,
        run.deferred,
        run.failed,
        rate
    )
}
