//! Status back to a workflow: when a run ends, its summary is POSTed to the `callback_url` of every
//! trigger that gave one, signed with HMAC-SHA256 under `api.callback_secret` so the receiver can tell
//! it came from this Ferry.

mod target;

use std::time::Duration;

use hmac::{Hmac, Mac};
use sea_orm::DatabaseConnection;
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use crate::runs::{RunSummary, callbacks};

pub use target::refusal;

/// The signature header: `sha256=<hex of HMAC-SHA256(secret, body)>`.
pub const SIGNATURE_HEADER: &str = "X-Ferry-Signature";
/// Delivery attempts before the callback is recorded as failed.
const ATTEMPTS: u32 = 4;

/// `sha256=…` for `body` under `secret`.
pub fn signature(secret: &SecretString, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// Delivers the summary of an ended run to each of its pending callbacks (each trigger that asked for
/// one), at the same time, and records each outcome (`delivered`, or `failed: <why>`). Without a
/// callback secret nothing is sent: an unsigned summary cannot be told from a forged one, and the API
/// token is never used in its place.
pub async fn deliver(
    db: &DatabaseConnection,
    http: &reqwest::Client,
    summary: &RunSummary,
    secret: Option<&SecretString>,
) {
    let pending = match callbacks::pending(db, summary.run_id).await {
        Ok(pending) => pending,
        Err(e) => {
            tracing::warn!(run_id = summary.run_id, error = %e, "callbacks unreadable; not delivered");
            return;
        }
    };
    if pending.is_empty() {
        return;
    }
    let body = serde_json::to_vec(summary).expect("summaries serialize");
    let deliveries = pending.iter().map(|callback| async {
        let outcome = match secret {
            Some(secret) => post(http, &callback.url, &body, secret).await,
            None => "failed: no api.callback_secret on this worker to sign it".to_string(),
        };
        tracing::info!(run_id = summary.run_id, callback = callback.id, outcome = %outcome, "callback");
        if let Err(e) = callbacks::record(db, callback, &outcome).await {
            tracing::warn!(run_id = summary.run_id, error = %e, "callback outcome not recorded");
        }
    });
    futures::future::join_all(deliveries).await;
    if let Err(e) = callbacks::settle(db, summary.run_id).await {
        tracing::warn!(run_id = summary.run_id, error = %e, "callback status not recorded");
    }
}

/// POSTs the signed body with retries and backoff; the outcome as it is recorded.
async fn post(http: &reqwest::Client, url: &str, body: &[u8], secret: &SecretString) -> String {
    let mut outcome = String::new();
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(500 << attempt)).await;
        }
        let request = http
            .post(url)
            .header("content-type", "application/json")
            .header(SIGNATURE_HEADER, signature(secret, body))
            .timeout(Duration::from_secs(10))
            .body(body.to_vec());
        match request.send().await {
            Ok(response) if response.status().is_success() => return callbacks::DELIVERED.into(),
            Ok(response) => outcome = format!("failed: HTTP {}", response.status().as_u16()),
            Err(e) => outcome = format!("failed: {}", e.without_url()),
        }
    }
    outcome
}
