//! Fault rules (`POST /_sandbox/faults`) and the seeded decision of which request each one hits.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::glob;
use crate::model::rng::Rng;

/// What a rule does to a request it hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// The connection drops before any body arrives.
    Reset,
    /// A complete 200 response whose body is not valid JSON.
    Malformed,
    /// The real page starts streaming, then the connection drops mid-body.
    Truncated,
}

/// One rule as posted. At least one of `status`, `latency_ms`, `kind` must be set.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// Glob over the request path; default: every data route (BC's `/v2.0/…` and Dataverse's
    /// `/api/data/…`).
    #[serde(default)]
    pub route: Option<String>,
    /// Answer with this status instead of serving (408, 429, 500, 502, 503 or 504).
    #[serde(default)]
    pub status: Option<u16>,
    /// `Retry-After` seconds on a status fault.
    #[serde(default)]
    pub retry_after: Option<u64>,
    /// Delay before answering (or before the status fault).
    #[serde(default)]
    pub latency_ms: Option<u64>,
    #[serde(default)]
    pub kind: Option<Kind>,
    /// Share of matching requests hit, 0..=1 (default 1).
    #[serde(default = "one")]
    pub rate: f64,
    /// Hit at most this many requests, then the rule retires ("fail exactly the next N").
    #[serde(default)]
    pub count: Option<u64>,
}

fn one() -> f64 {
    1.0
}

/// Statuses a rule may inject: what BC and its gateway answer under load or timeouts.
pub const STATUSES: &[u16] = &[408, 429, 500, 502, 503, 504];

impl FaultSpec {
    pub fn validate(&self) -> Result<(), String> {
        if self.status.is_none() && self.latency_ms.is_none() && self.kind.is_none() {
            return Err("a fault needs at least one of status, latency_ms, kind".into());
        }
        if let Some(s) = self.status
            && !STATUSES.contains(&s)
        {
            return Err(format!("status {s} is not one of {STATUSES:?}"));
        }
        if self.status.is_some() && self.kind.is_some() {
            return Err("status and kind are exclusive".into());
        }
        if !(0.0..=1.0).contains(&self.rate) {
            return Err(format!("rate {} is outside 0..1", self.rate));
        }
        Ok(())
    }

    fn applies_to(&self, path: &str) -> bool {
        match &self.route {
            Some(pattern) => glob::matches(pattern, path),
            None => path.starts_with("/v2.0/") || path.starts_with("/api/data/"),
        }
    }
}

/// What to do to one request (the first rule that hits it wins).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    pub status: Option<u16>,
    pub retry_after: Option<u64>,
    pub latency: Option<Duration>,
    pub kind: Option<Kind>,
}

#[derive(Debug)]
struct Active {
    spec: FaultSpec,
    /// Each rule draws from its own stream derived from the seed and its ordinal, so a test that
    /// sends requests one at a time sees the same hits on every run.
    rng: Rng,
    hits: u64,
}

#[derive(Debug)]
struct Inner {
    rules: Vec<Active>,
    /// Rules added since start (never reset), for deriving each rule's stream.
    added: u64,
}

#[derive(Debug)]
pub struct FaultSet {
    seed: u64,
    inner: Mutex<Inner>,
}

impl FaultSet {
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            inner: Mutex::new(Inner {
                rules: Vec::new(),
                added: 0,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a validated rule; returns how many rules are active.
    pub fn add(&self, spec: FaultSpec) -> usize {
        let mut inner = self.lock();
        inner.added += 1;
        let rng = Rng::derive(self.seed, &format!("fault-{}", inner.added));
        inner.rules.push(Active { spec, rng, hits: 0 });
        inner.rules.len()
    }

    pub fn clear(&self) {
        self.lock().rules.clear();
    }

    pub fn list(&self) -> Vec<FaultSpec> {
        self.lock().rules.iter().map(|a| a.spec.clone()).collect()
    }

    /// Decides whether `path` is hit. Rules that used up their `count` are removed.
    pub fn decide(&self, path: &str) -> Option<Fault> {
        let mut inner = self.lock();
        if inner.rules.is_empty() {
            return None;
        }
        let mut fault = None;
        for active in inner.rules.iter_mut() {
            if !active.spec.applies_to(path) {
                continue;
            }
            let threshold = (active.spec.rate * 1_000_000.0).round() as u64;
            if active.rng.below(1_000_000) >= threshold {
                continue;
            }
            active.hits += 1;
            let spec = &active.spec;
            fault = Some(Fault {
                status: spec.status,
                retry_after: spec.retry_after,
                latency: spec.latency_ms.map(Duration::from_millis),
                kind: spec.kind,
            });
            break;
        }
        inner
            .rules
            .retain(|a| a.spec.count.is_none_or(|limit| a.hits < limit));
        fault
    }
}
