//! End-to-end tests: the BC sandbox over HTTP, a real Postgres database and a real Redis queue per test,
//! the real worker. One test binary, like zero2prod's `tests/api`.

mod api;
mod apply;
mod auth;
mod check;
mod discover;
mod helpers;
mod jobs;
mod odata;
mod odata_service;
mod scheduler;
mod secrets;
mod sync;
