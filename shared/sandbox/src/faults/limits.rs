//! BC's per-user service limits: a request budget over a sliding window (429 beyond it) and a
//! cap on concurrent requests (extra requests queue, then get 503 when the queue wait runs out).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use super::counts::{Admitted, Counts, CountsSnapshot};
use crate::auth::Principal;

/// The limits in force; changeable at run time through `POST /_sandbox/limits`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub struct Limits {
    /// Requests allowed per user within `window_secs` (BC: 6,000 per 5 minutes).
    pub requests_per_window: usize,
    pub window_secs: u64,
    /// Requests one user may have in flight (BC: 5).
    pub max_concurrent: usize,
    /// How long an extra request waits for a slot before 503 (BC: up to 8 minutes).
    pub queue_timeout_ms: u64,
    /// An operation running longer than this gets 408 (BC: 8 minutes).
    #[serde(default = "default_operation_timeout")]
    pub operation_timeout_ms: u64,
    /// A request (queueing included) taking longer than this gets 504 from the gateway (BC: 10
    /// minutes).
    #[serde(default = "default_gateway_timeout")]
    pub gateway_timeout_ms: u64,
}

fn default_operation_timeout() -> u64 {
    480_000
}

fn default_gateway_timeout() -> u64 {
    600_000
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            requests_per_window: 6000,
            window_secs: 300,
            max_concurrent: 5,
            queue_timeout_ms: 480_000,
            operation_timeout_ms: default_operation_timeout(),
            gateway_timeout_ms: default_gateway_timeout(),
        }
    }
}

impl Limits {
    /// Dataverse's numbers ("Service protection API limits"): 6,000 requests per 300 s and 52
    /// concurrent requests per user; an extra request is refused at once (no queue).
    pub fn dataverse() -> Self {
        Self {
            max_concurrent: 52,
            queue_timeout_ms: 0,
            ..Self::default()
        }
    }
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Over the window budget; retry after this many seconds.
    TooMany { retry_after: u64, limit: usize },
    /// No concurrency slot freed up within the queue timeout.
    Busy,
}

#[derive(Debug)]
struct User {
    recent: VecDeque<Instant>,
    slots: Arc<Semaphore>,
    /// The `max_concurrent` the semaphore was made for; a change of limits replaces it.
    slots_for: usize,
}

#[derive(Debug)]
pub struct RateLimiter {
    limits: Mutex<Limits>,
    users: Mutex<HashMap<Principal, User>>,
    counts: Counts,
}

impl RateLimiter {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits: Mutex::new(limits),
            users: Mutex::default(),
            counts: Counts::default(),
        }
    }

    fn users(&self) -> MutexGuard<'_, HashMap<Principal, User>> {
        self.users.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn limits(&self) -> Limits {
        *self.limits.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Requests let through and refused so far, and the most in flight at once.
    pub fn counts(&self) -> CountsSnapshot {
        self.counts.snapshot()
    }

    /// Starts the counts afresh.
    pub fn reset_counts(&self) {
        self.counts.reset();
    }

    /// New limits apply from the next request; counted requests are kept.
    pub fn set_limits(&self, limits: Limits) {
        *self.limits.lock().unwrap_or_else(|p| p.into_inner()) = limits;
    }

    /// Counts the request against the window, then waits for a concurrency slot. The slot is held
    /// until the response is produced (the returned guard is dropped).
    pub async fn admit(&self, who: &Principal) -> Result<Admitted, Refusal> {
        let admitted = self.admit_uncounted(who).await;
        match &admitted {
            Ok(_) => {}
            Err(Refusal::TooMany { .. }) => self.counts.too_many(),
            Err(Refusal::Busy) => self.counts.busy(),
        }
        admitted
    }

    async fn admit_uncounted(&self, who: &Principal) -> Result<Admitted, Refusal> {
        let limits = self.limits();
        let window = Duration::from_secs(limits.window_secs);
        let slots = {
            let now = Instant::now();
            let mut users = self.users();
            let user = users.entry(who.clone()).or_insert_with(|| User {
                recent: VecDeque::new(),
                slots: Arc::new(Semaphore::new(limits.max_concurrent)),
                slots_for: limits.max_concurrent,
            });
            while user
                .recent
                .front()
                .is_some_and(|t| now.duration_since(*t) >= window)
            {
                user.recent.pop_front();
            }
            if user.recent.len() >= limits.requests_per_window {
                let oldest = user.recent.front().copied().unwrap_or(now);
                let wait = window.saturating_sub(now.duration_since(oldest));
                return Err(Refusal::TooMany {
                    retry_after: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
                    limit: limits.requests_per_window,
                });
            }
            user.recent.push_back(now);
            if user.slots_for != limits.max_concurrent {
                user.slots = Arc::new(Semaphore::new(limits.max_concurrent));
                user.slots_for = limits.max_concurrent;
            }
            user.slots.clone()
        };
        let wait = Duration::from_millis(limits.queue_timeout_ms);
        match tokio::time::timeout(wait, slots.acquire_owned()).await {
            Ok(Ok(permit)) => Ok(self.counts.admit(permit)),
            _ => Err(Refusal::Busy),
        }
    }
}
