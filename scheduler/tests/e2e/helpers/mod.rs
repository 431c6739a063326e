//! The test harness: each test gets its own Postgres database and Redis key prefix — or, on the SQLite
//! backend, its own SQLite file holding database and queue — its own sandbox on a free port and its own
//! worker, so tests run in parallel without seeing each other.
//!
//! - `env`: a test's private world (`TestEnv`, `Backend`, `on_both_backends!`), which removes everything
//!   it made when it is dropped, also when the test panics.
//! - `fixtures`: what a test puts into that world — definition files, sandbox data and faults.
//! - `assertions`: what a test reads back out — target tables compared with the source, runs waited
//!   for, what the database and the logs hold.

mod assertions;
mod env;
mod fixtures;

pub use assertions::*;
pub use env::*;
pub use fixtures::*;
