//! The database's clock, as SQL. Lease and leader expiries, retry times and push times are written and
//! compared by the database (DESIGN §2, invariant 1), so a process whose clock is skewed neither loses
//! its runs nor keeps other processes' expired ones: no process clock decides who holds what.
//!
//! SQLite has no server; its `'now'` is read by the library inside the writing process, which on one
//! machine (one-process mode) is the one clock there is. Times are written there as RFC 3339 text in
//! UTC, the form the driver decodes and that compares correctly as text.

use sea_orm::DbBackend;

/// The current time, as stored in a timestamp column.
pub fn now(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Sqlite => "strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')",
        _ => "now()",
    }
}

/// The current time plus one `?` parameter of milliseconds (an `i64`).
pub fn after(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Sqlite => {
            "strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now', printf('%+.3f seconds', ? / 1000.0))"
        }
        _ => "(now() + ? * interval '1 millisecond')",
    }
}

/// Milliseconds from now until the timestamp `column` (negative once it has passed), as a float.
pub fn millis_until(backend: DbBackend, column: &str) -> String {
    match backend {
        DbBackend::Sqlite => format!("((julianday({column}) - julianday('now')) * 86400000.0)"),
        _ => format!("(EXTRACT(EPOCH FROM ({column} - now())) * 1000.0)::float8"),
    }
}

/// A duration as the `i64` milliseconds `after` takes.
pub fn millis(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
