//! End-to-end tests: the BC sandbox over HTTP, a real Postgres database and a real Redis queue (or one
//! SQLite file) per test, the real worker. One test binary, like zero2prod's `tests/api`.

mod api;
mod api_token;
mod apply;
mod auth;
mod bounded;
mod budget;
mod callbacks;
mod cancel;
#[path = "../support/certificates.rs"]
mod certificates;
mod check;
mod checkpoints;
mod console;
mod console_browser;
mod counts;
mod couplings;
mod database_tls;
mod dataverse;
mod dataverse_labels;
mod dataverse_limits;
mod deletes;
mod discover;
mod exact;
mod export;
mod export_dataverse;
mod export_two_way;
mod export_two_way_dataverse;
mod failure_log;
mod failures;
mod first_load;
mod helpers;
mod hostile;
mod jobs;
mod leases;
mod lifecycle;
mod logging;
mod lookups;
mod managed_tls;
mod mapping;
mod mapping_bench;
mod odata;
mod odata_service;
mod overlap;
mod poisoned;
mod preview;
// The chaos suite's private servers; this binary leaves their crash and restart unused.
#[allow(dead_code)]
#[path = "../chaos/postgres.rs"]
mod private_postgres;
#[path = "../chaos/redis.rs"]
mod private_redis;
mod process;
mod progress;
mod queue_down;
mod raw_service;
mod recovery;
mod refresh_claim;
mod retention;
mod retry_memory;
mod scheduler;
mod secret_binding;
mod secrets;
mod serve;
mod shared_rows;
mod standard_api;
mod storage;
mod sync;
mod token_origin;
mod waits;
#[path = "../support/webdriver.rs"]
mod webdriver;
#[path = "../support/worker_binary.rs"]
mod worker_binary;

/// A free loopback port (for servers a test starts itself).
pub fn free_port() -> u16 {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    probe.local_addr().unwrap().port()
}
