//! End-to-end tests: the BC sandbox over HTTP, a real Postgres database and a real Redis queue (or one
//! SQLite file) per test, the real worker. One test binary, like zero2prod's `tests/api`.

mod api;
mod apply;
mod auth;
mod check;
mod couplings;
mod deletes;
mod discover;
mod failures;
mod helpers;
mod jobs;
mod lookups;
mod mapping;
mod mapping_bench;
mod odata;
mod odata_service;
mod overlap;
mod preview;
mod retention;
mod retry_memory;
mod scheduler;
mod secrets;
mod serve;
mod shared_rows;
mod storage;
mod sync;
#[path = "../support/worker_binary.rs"]
mod worker_binary;
