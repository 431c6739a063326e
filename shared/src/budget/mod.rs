//! A connection's request budget, shared by every worker (ARCHITECTURE.md, "Outside facts"): Business
//! Central lets one user have 5 requests in flight and send 6,000 per 5 minutes, Dataverse 52 and
//! 6,000 per 300 s, and past that answers 429 or 503. N workers on one connection share that one
//! budget, so every request Ferry sends a connection first takes a slot here ([`Gate::enter`]) and
//! holds it until its answer is read; when none is free it waits (up to the connection's
//! `timeout_secs`, and never past shutdown) rather than send.
//!
//! Where the count lives follows the queue: in Redis (`redis.rs`) when the queue is Redis, so every
//! process shares it, with leases a dead worker's slots come back from; in the process (`local.rs`)
//! when the queue is SQLite, which is one process. `odata/client.rs` enters the gate for each
//! request it sends, so no caller can go around it.

mod defaults;
mod local;
mod redis;

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::settings::QueueSettings;

pub use defaults::{Budget, Window};

/// Why a request could not take a slot of its connection's budget. Each is worth retrying: the
/// budget frees up, the worker restarts, Redis comes back.
#[derive(Debug, thiserror::Error)]
pub enum BudgetError {
    /// Every slot stayed taken (or the window's count spent) for as long as a request may wait.
    #[error(
        "connection {connection:?} stayed at its request budget ({budget}) for {waited_secs} s: \
         other runs use it; this run is tried again later (raise [connection.budget] only if the \
         service allows more)"
    )]
    Spent {
        connection: String,
        budget: Budget,
        waited_secs: u64,
    },
    /// The worker is stopping: the request was never sent.
    #[error("stopped while waiting for connection {connection:?}'s request budget")]
    Stopped { connection: String },
    /// The budget is kept in Redis, and Redis failed. The message says where, never a password.
    #[error("the request budget of connection {connection:?} is kept in Redis: {message}")]
    Unreachable { connection: String, message: String },
}

/// Every connection's budget, kept where this process's queue says: one per process, cloned cheaply.
#[derive(Debug, Clone)]
pub struct Budgets {
    store: Arc<Store>,
    /// A wait for a slot ends when this is cancelled (the worker's shutdown).
    stopping: CancellationToken,
}

#[derive(Debug)]
enum Store {
    Local(local::Local),
    Redis(redis::Shared),
}

impl Budgets {
    /// Budgets counted in this process only: one-process mode (a SQLite queue), and tests.
    pub fn in_process(stopping: CancellationToken) -> Budgets {
        Budgets {
            store: Arc::new(Store::Local(local::Local::default())),
            stopping,
        }
    }

    /// Budgets kept beside the queue `settings` name: in Redis, under the queue's key prefix, for a
    /// Redis queue (connected on the first request); in this process for a SQLite queue.
    pub fn for_queue(settings: &QueueSettings, stopping: CancellationToken) -> Budgets {
        if crate::queue::is_sqlite(&settings.url) {
            return Budgets::in_process(stopping);
        }
        Budgets::in_redis(settings, redis::LEASE, stopping)
    }

    /// Budgets in Redis whose leases last `lease` without renewal: how soon a dead worker's slots
    /// come back (tests shorten it).
    pub fn in_redis(
        settings: &QueueSettings,
        lease: Duration,
        stopping: CancellationToken,
    ) -> Budgets {
        Budgets {
            store: Arc::new(Store::Redis(redis::Shared::new(settings.clone(), lease))),
            stopping,
        }
    }

    /// The gate of `connection` with `budget`: a request waits at most `max_wait` for a slot.
    pub fn gate(&self, connection: &str, budget: Budget, max_wait: Duration) -> Gate {
        Gate {
            budgets: self.clone(),
            connection: Arc::from(connection),
            budget,
            max_wait,
        }
    }
}

/// One connection's budget, as its client holds it.
#[derive(Debug, Clone)]
pub struct Gate {
    budgets: Budgets,
    connection: Arc<str>,
    budget: Budget,
    max_wait: Duration,
}

/// What one try at a slot came to.
enum Entry {
    Granted(Held),
    /// None free: try again after this long.
    Wait(Duration),
}

/// A slot of a connection's budget, held while a request is in flight and given back when the last
/// clone is dropped. Cloneable because it travels in the response's extensions until the body is read.
#[derive(Debug, Clone)]
pub struct Permit(#[allow(dead_code)] Arc<Held>);

/// The backend's hold on a slot; its `Drop` gives the slot back.
#[derive(Debug)]
enum Held {
    Local(#[allow(dead_code)] local::Held),
    Redis(#[allow(dead_code)] redis::Lease),
}

impl Gate {
    /// Takes a slot for one request (and counts it in the window), waiting while the budget is spent:
    /// at most the gate's `max_wait`, and no longer than until shutdown.
    pub async fn enter(&self) -> Result<Permit, BudgetError> {
        let started = Instant::now();
        let deadline = started + self.max_wait;
        let mut outage = UNREACHABLE_FIRST_WAIT;
        loop {
            let entry = match &*self.budgets.store {
                Store::Local(local) => Ok(local.try_enter(&self.connection, self.budget)),
                Store::Redis(shared) => shared.try_enter(&self.connection, self.budget).await,
            };
            let wait = match entry {
                Ok(Entry::Granted(held)) => return Ok(Permit(Arc::new(held))),
                Ok(Entry::Wait(wait)) => wait,
                // Redis restarting or failing over is a pause, not a refusal: the request waits for
                // it as it waits for a slot (backing off), and only a Redis still gone at the
                // deadline fails the attempt.
                Err(message) => {
                    if Instant::now() >= deadline {
                        return Err(BudgetError::Unreachable {
                            connection: self.connection.to_string(),
                            message,
                        });
                    }
                    outage = (outage * 2).min(UNREACHABLE_LONGEST_WAIT);
                    outage / 2
                }
            };
            let now = Instant::now();
            if now >= deadline {
                return Err(BudgetError::Spent {
                    connection: self.connection.to_string(),
                    budget: self.budget,
                    waited_secs: now.duration_since(started).as_secs(),
                });
            }
            tokio::select! {
                () = tokio::time::sleep(wait.min(deadline - now)) => {}
                () = self.budgets.stopping.cancelled() => {
                    return Err(BudgetError::Stopped {
                        connection: self.connection.to_string(),
                    });
                }
            }
        }
    }
}

/// The first wait before asking an unreachable Redis again; it doubles up to the longest.
const UNREACHABLE_FIRST_WAIT: Duration = Duration::from_millis(100);
const UNREACHABLE_LONGEST_WAIT: Duration = Duration::from_secs(2);

/// How soon to look again when every slot is taken: a request takes tens of milliseconds, and a
/// jitter keeps the waiting workers from asking in step.
fn poll_again() -> Duration {
    Duration::from_millis(10 + fastrand::u64(0..30))
}

#[cfg(test)]
mod tests;
