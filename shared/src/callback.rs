//! Status back to a workflow: when a run with a `callback_url` ends, its summary is POSTed there, signed
//! with HMAC-SHA256 so the receiver can tell it came from this Ferry.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use crate::runs::RunSummary;
use crate::storage::statement;

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

/// POSTs the summary with retries and backoff, and records the outcome on the run
/// (`delivered`, or `failed: <why>`).
pub async fn deliver(
    db: &DatabaseConnection,
    http: &reqwest::Client,
    url: &str,
    summary: &RunSummary,
    secret: Option<&SecretString>,
) {
    let body = serde_json::to_vec(summary).expect("summaries serialize");
    let mut outcome = String::new();
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(500 << attempt)).await;
        }
        let mut request = http
            .post(url)
            .header("content-type", "application/json")
            .timeout(Duration::from_secs(10))
            .body(body.clone());
        if let Some(secret) = secret {
            request = request.header(SIGNATURE_HEADER, signature(secret, &body));
        }
        match request.send().await {
            Ok(response) if response.status().is_success() => {
                outcome = "delivered".into();
                break;
            }
            Ok(response) => outcome = format!("failed: HTTP {}", response.status().as_u16()),
            Err(e) => outcome = format!("failed: {}", e.without_url()),
        }
    }
    tracing::info!(run_id = summary.run_id, outcome = %outcome, "callback");
    let _ = db
        .execute_raw(statement(
            db.get_database_backend(),
            "UPDATE ferry_runs SET callback_status = ? WHERE id = ?",
            [outcome.into(), summary.run_id.into()],
        ))
        .await;
}
