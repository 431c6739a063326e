//! Fault rules (`POST /_sandbox/faults`) and the seeded decision of which request each one hits.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use axum::http::Method;
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
    /// The write runs in full (rows written, versions bumped), then the connection drops before
    /// any byte of the answer: the client cannot tell whether it happened. Only writes (POST,
    /// PATCH, DELETE, and `$batch`, which is a POST) on data routes are hit, so an exporter's
    /// retry-after-unknown-outcome path gets exercised while its reads pass.
    #[serde(rename = "lost_reply")]
    LostReply,
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
    /// Delay after the request was carried out, before its answer: a write that has landed while
    /// its client still waits (a crash then leaves it applied but unacknowledged).
    #[serde(default)]
    pub latency_after_ms: Option<u64>,
    #[serde(default)]
    pub kind: Option<Kind>,
    /// Share of matching requests hit, 0..=1 (default 1).
    #[serde(default = "one")]
    pub rate: f64,
    /// Hit at most this many requests, then the rule retires ("fail exactly the next N").
    /// `times` is accepted as another name for it.
    #[serde(default, alias = "times")]
    pub count: Option<u64>,
}

fn one() -> f64 {
    1.0
}

/// Statuses a rule may inject: what BC and its gateway answer under load or timeouts.
pub const STATUSES: &[u16] = &[408, 429, 500, 502, 503, 504];

impl FaultSpec {
    pub fn validate(&self) -> Result<(), String> {
        if self.status.is_none()
            && self.latency_ms.is_none()
            && self.latency_after_ms.is_none()
            && self.kind.is_none()
        {
            return Err(
                "a fault needs at least one of status, latency_ms, latency_after_ms, kind".into(),
            );
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

    fn applies_to(&self, method: &Method, path: &str) -> bool {
        let data_route = path.starts_with("/v2.0/") || path.starts_with("/api/data/");
        if self.kind == Some(Kind::LostReply) && !(data_route && is_write(method)) {
            // A lost reply only means something for a write; reads and sign-ins pass untouched
            // (and do not use up the rule's count).
            return false;
        }
        match &self.route {
            Some(pattern) => glob::matches(pattern, path),
            None => data_route,
        }
    }
}

/// The methods that change data (a `$batch` is a POST).
fn is_write(method: &Method) -> bool {
    matches!(
        *method,
        Method::POST | Method::PATCH | Method::DELETE | Method::PUT
    )
}

/// What to do to one request (the first rule that hits it wins).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    pub status: Option<u16>,
    pub retry_after: Option<u64>,
    pub latency: Option<Duration>,
    pub latency_after: Option<Duration>,
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

    /// Decides whether a `method` request to `path` is hit. Rules that used up their `count` are
    /// removed.
    pub fn decide(&self, method: &Method, path: &str) -> Option<Fault> {
        let mut inner = self.lock();
        if inner.rules.is_empty() {
            return None;
        }
        let mut fault = None;
        for active in inner.rules.iter_mut() {
            if !active.spec.applies_to(method, path) {
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
                latency_after: spec.latency_after_ms.map(Duration::from_millis),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn lost_reply(times: u64) -> FaultSpec {
        serde_json::from_value(serde_json::json!({"kind": "lost_reply", "times": times}))
            .expect("a valid rule")
    }

    #[test]
    fn a_lost_reply_skips_reads_and_sign_ins_without_using_up_its_count() {
        let faults = FaultSet::new(1);
        faults.add(lost_reply(1));
        let data = "/api/data/v9.2/accounts";
        assert_eq!(faults.decide(&Method::GET, data), None);
        assert_eq!(
            faults.decide(&Method::POST, "/sandbox/oauth2/v2.0/token"),
            None
        );
        let hit = faults
            .decide(&Method::PATCH, data)
            .expect("the write is hit");
        assert_eq!(hit.kind, Some(Kind::LostReply));
        assert_eq!(
            faults.decide(&Method::POST, data),
            None,
            "retired after one"
        );
        assert!(faults.list().is_empty());
    }
}
