//! What a limiter saw: requests let through and refused, and the most in flight at once, so a test
//! can show that a client kept within the limits (`GET /_sandbox/limits/counts`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use tokio::sync::OwnedSemaphorePermit;

/// Counters since the sandbox started (or since the last reset).
#[derive(Debug, Default)]
pub struct Counts {
    admitted: AtomicU64,
    too_many: AtomicU64,
    busy: AtomicU64,
    in_flight: Arc<AtomicU64>,
    max_in_flight: Arc<AtomicU64>,
}

/// A snapshot of [`Counts`], as the endpoint answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct CountsSnapshot {
    /// Requests let through to the handler.
    pub admitted: u64,
    /// Refused past the window's budget (BC and Dataverse: 429).
    pub too_many: u64,
    /// Refused for want of a concurrency slot (BC: 503; Dataverse: 429).
    pub busy: u64,
    /// Requests being handled now.
    pub in_flight: u64,
    /// The most requests handled at once.
    pub max_in_flight: u64,
}

/// A request let through: it holds its concurrency slot and counts as in flight until dropped.
#[derive(Debug)]
pub struct Admitted {
    _slot: OwnedSemaphorePermit,
    in_flight: Arc<AtomicU64>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Counts {
    pub(super) fn admit(&self, slot: OwnedSemaphorePermit) -> Admitted {
        self.admitted.fetch_add(1, Ordering::SeqCst);
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        Admitted {
            _slot: slot,
            in_flight: self.in_flight.clone(),
        }
    }

    pub(super) fn too_many(&self) {
        self.too_many.fetch_add(1, Ordering::SeqCst);
    }

    pub(super) fn busy(&self) {
        self.busy.fetch_add(1, Ordering::SeqCst);
    }

    pub fn snapshot(&self) -> CountsSnapshot {
        CountsSnapshot {
            admitted: self.admitted.load(Ordering::SeqCst),
            too_many: self.too_many.load(Ordering::SeqCst),
            busy: self.busy.load(Ordering::SeqCst),
            in_flight: self.in_flight.load(Ordering::SeqCst),
            max_in_flight: self.max_in_flight.load(Ordering::SeqCst),
        }
    }

    /// Starts counting afresh (requests in flight stay counted as such).
    pub fn reset(&self) {
        self.admitted.store(0, Ordering::SeqCst);
        self.too_many.store(0, Ordering::SeqCst);
        self.busy.store(0, Ordering::SeqCst);
        self.max_in_flight
            .store(self.in_flight.load(Ordering::SeqCst), Ordering::SeqCst);
    }
}
