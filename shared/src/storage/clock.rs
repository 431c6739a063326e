//! The database's clock, as SQL. Lease and leader expiries, retry times and push times are written and
//! compared by the database (ARCHITECTURE.md, "Invariants"), so a process whose clock is skewed neither
//! loses its runs nor keeps other processes' expired ones: no process clock decides who holds what. Each
//! engine's spelling is its dialect's (`Dialect::now`).

use super::Dialect;

/// The current time, as stored in a timestamp column.
pub fn now(dialect: impl Into<Dialect>) -> &'static str {
    dialect.into().now()
}

/// The current time plus one `?` parameter of milliseconds (an `i64`).
pub fn after(dialect: impl Into<Dialect>) -> &'static str {
    dialect.into().after()
}

/// Milliseconds from now until the timestamp `column` (negative once it has passed), as a float.
pub fn millis_until(dialect: impl Into<Dialect>, column: &str) -> String {
    dialect.into().millis_until(column)
}

/// A duration as the `i64` milliseconds `after` takes.
pub fn millis(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
