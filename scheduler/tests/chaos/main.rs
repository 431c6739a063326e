//! The chaos suite: a customer import with two real `ferry worker` processes and a `ferry scheduler`
//! process, attacked while it runs — workers killed with SIGKILL again and again, Redis restarted empty,
//! PostgreSQL crash-restarted, a source that answers 429/503 and one malformed page. After each scenario
//! the target must equal the source exactly and the run history must say what happened (see `verify`).
//!
//! Every scenario draws its random choices from a printed seed; `FERRY_CHAOS_SEED=N` replays it.
//! `FERRY_CHAOS_ROWS` sizes the import (CI default below; the full size is 200000).

#[allow(dead_code)]
#[path = "../e2e/helpers/mod.rs"]
mod helpers;

mod export_kills;
mod flaky_source;
mod kill_workers;
// The TLS servers of `postgres` and `redis` are the e2e suite's (managed_tls.rs).
#[allow(dead_code)]
mod postgres;
mod postgres_restart;
#[allow(dead_code)]
mod redis;
mod redis_restart;
mod verify;
mod world;

/// Rows imported per scenario unless `FERRY_CHAOS_ROWS` says otherwise: the 200k-row import,
/// which runs all four scenarios in under four minutes in a debug build on two cores.
const DEFAULT_ROWS: usize = 200_000;

pub fn rows() -> usize {
    std::env::var("FERRY_CHAOS_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_ROWS)
}

/// The suite's seed: `FERRY_CHAOS_SEED`, or the clock. Each scenario mixes its name in, so scenarios
/// differ but one printed number replays them all.
pub fn seed(scenario: &str) -> u64 {
    static BASE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let base = *BASE.get_or_init(|| {
        std::env::var("FERRY_CHAOS_SEED")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
                    % 1_000_000_000
            })
    });
    println!("chaos seed {base} (replay: FERRY_CHAOS_SEED={base}), scenario {scenario}");
    scenario
        .bytes()
        .fold(base, |h, b| h.rotate_left(5) ^ u64::from(b))
}

/// A free loopback port (bound and released; the server takes it a moment later).
pub fn free_port() -> u16 {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    probe.local_addr().unwrap().port()
}
