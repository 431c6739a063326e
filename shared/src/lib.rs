//! Ferry's shared library: everything the `ferry` control plane and the `ferry-worker` processes both use.
//!
//! The sync path reads in one direction: `source` (the connector) → `mapping` → `sink` (the writer and
//! its checkpoint), driven by `sync`. Runs and their state machine live in `runs`; jobs in `queue`.

pub mod auth;
pub mod budget;
pub mod ca_file;
pub mod callback;
pub mod capture;
pub mod checkpoint;
pub mod conflicts;
pub mod definitions;
pub mod dispatch;
pub mod drift;
pub mod export;
pub mod filter;
pub mod limits;
pub mod lookup;
pub mod mapping;
pub mod odata;
pub mod printable;
pub mod queue;
pub mod reach;
pub mod runs;
pub mod secrets;
pub mod settings;
pub mod shutdown;
pub mod sink;
pub mod source;
pub mod storage;
pub mod sync;
pub mod telemetry;
