//! The OAuth 2.0 device authorization grant (RFC 8628) as Microsoft's identity platform speaks it:
//! request a code, show the server's `message`, poll the token endpoint at the server's `interval`
//! (5 s when it names none), slowing down by 5 s on every `slow_down`, until approval, refusal or
//! expiry.

use std::future::Future;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::time::Instant;

use super::AuthError;
use super::token_endpoint::{self, EndpointError, TokenResponse, short_description};

/// RFC 8628 §3.2: "If no value is provided, clients MUST use 5 as the default."
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// RFC 8628 §3.5: on `slow_down` the interval "MUST be increased by 5 seconds for this and all
/// subsequent requests".
pub const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);
/// The longest wait between polls after connection failures (each one doubles the interval).
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// The grant type of the polling requests.
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// What the device authorization endpoint answered. The device code is a secret (it can be traded for
/// tokens); the user code is meant to be shown.
#[derive(Debug)]
pub struct DeviceAuthorization {
    pub device_code: SecretString,
    pub user_code: String,
    pub verification_uri: String,
    /// Microsoft's ready-made instruction; composed from the URI and code when the server sent none.
    pub message: String,
    pub expires_in: Duration,
    pub interval: Duration,
}

#[derive(Deserialize)]
struct Raw {
    device_code: SecretString,
    user_code: String,
    /// Microsoft's v1 endpoint spelled it `verification_url`.
    #[serde(alias = "verification_url")]
    verification_uri: String,
    #[serde(default)]
    message: Option<String>,
    expires_in: serde_json::Value,
    #[serde(default)]
    interval: Option<serde_json::Value>,
}

fn seconds(value: &serde_json::Value) -> Option<u64> {
    value
        .as_u64()
        .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
}

/// Asks for a device code (`client_id` and `scope` in a form POST).
pub async fn request(
    http: &reqwest::Client,
    url: &str,
    client_id: &str,
    scope: &str,
) -> Result<DeviceAuthorization, AuthError> {
    let unreachable = |message: String| AuthError::Unreachable {
        token_url: url.to_string(),
        message,
    };
    let response = http
        .post(url)
        .header("Accept", "application/json")
        .form(&[("client_id", client_id), ("scope", scope)])
        .send()
        .await
        .map_err(|e| unreachable(e.without_url().to_string()))?;
    let status = response.status();
    let body = token_endpoint::read_token_body(response)
        .await
        .map_err(unreachable)?;
    if !status.is_success() {
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let error = value["error"].as_str().unwrap_or("HTTP error").to_string();
        let description = short_description(value["error_description"].as_str());
        return Err(AuthError::Refused {
            token_url: url.to_string(),
            message: match description {
                Some(d) => format!("{error} ({status}): {d}"),
                None => format!("{error} ({status})"),
            },
        });
    }
    decode(&body).map_err(|message| AuthError::Refused {
        token_url: url.to_string(),
        message,
    })
}

/// Reads a device authorization response (RFC 8628 §3.2, plus Microsoft's `message`).
fn decode(body: &[u8]) -> Result<DeviceAuthorization, String> {
    let raw: Raw = serde_json::from_slice(body)
        .map_err(|e| format!("unreadable device authorization response: {e}"))?;
    // Shown on the operator's terminal as the provider wrote it, control characters escaped.
    let message = crate::printable::printable(&raw.message.unwrap_or_else(|| {
        format!(
            "To sign in, use a web browser to open the page {} and enter the code {} to authenticate.",
            raw.verification_uri, raw.user_code
        )
    }));
    Ok(DeviceAuthorization {
        device_code: raw.device_code,
        user_code: raw.user_code,
        verification_uri: raw.verification_uri,
        message,
        expires_in: super::bounded(Duration::from_secs(seconds(&raw.expires_in).unwrap_or(900))),
        interval: raw
            .interval
            .as_ref()
            .and_then(seconds)
            .map(|s| super::bounded(Duration::from_secs(s)))
            .unwrap_or(DEFAULT_INTERVAL),
    })
}

/// Polls `token_url` until the user approved (tokens), declined, or the code expired.
pub async fn poll_token_endpoint(
    http: &reqwest::Client,
    token_url: &str,
    client_id: &str,
    client_secret: Option<&SecretString>,
    authorization: &DeviceAuthorization,
) -> Result<TokenResponse, AuthError> {
    poll(authorization, token_url, || async {
        let mut params = vec![
            ("grant_type", GRANT_TYPE),
            ("client_id", client_id),
            ("device_code", authorization.device_code.expose_secret()),
        ];
        if let Some(secret) = client_secret {
            params.push(("client_secret", secret.expose_secret()));
        }
        token_endpoint::post(http, token_url, &params).await
    })
    .await
}

/// The polling loop, apart from HTTP so its timing can be tested with a paused clock.
pub async fn poll<F, Fut>(
    authorization: &DeviceAuthorization,
    token_url: &str,
    mut exchange: F,
) -> Result<TokenResponse, AuthError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<TokenResponse, EndpointError>>,
{
    let deadline = Instant::now() + authorization.expires_in;
    let mut interval = authorization.interval;
    let mut unreachable = None;
    loop {
        tokio::time::sleep(interval).await;
        if Instant::now() >= deadline {
            return Err(match unreachable {
                Some(message) => AuthError::Unreachable {
                    token_url: token_url.to_string(),
                    message,
                },
                None => AuthError::CodeExpired,
            });
        }
        let (error, description) = match exchange().await {
            Ok(tokens) => return Ok(tokens),
            // RFC 8628 §3.5: on a connection failure the client polls less often and goes on — the
            // user may be approving the code right now — until the code expires.
            Err(EndpointError::Transport(message)) => {
                interval = (interval * 2).clamp(Duration::from_millis(100), MAX_BACKOFF);
                unreachable = Some(message);
                continue;
            }
            Err(EndpointError::OAuth { error, description }) => (error, description),
        };
        unreachable = None;
        match error.as_str() {
            "authorization_pending" => {}
            "slow_down" => interval += SLOW_DOWN_STEP,
            "authorization_declined" | "access_denied" => return Err(AuthError::Declined),
            "expired_token" => return Err(AuthError::CodeExpired),
            "bad_verification_code" => return Err(AuthError::BadCode),
            _ => {
                let message = match short_description(description.as_deref()) {
                    Some(d) => format!("{error}: {d}"),
                    None => error,
                };
                return Err(AuthError::Refused {
                    token_url: token_url.to_string(),
                    message,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    fn authorization(interval: Duration, expires_in: Duration) -> DeviceAuthorization {
        DeviceAuthorization {
            device_code: SecretString::from("dc"),
            user_code: "ABCD".into(),
            verification_uri: "https://microsoft.com/devicelogin".into(),
            message: "m".into(),
            expires_in,
            interval,
        }
    }

    fn oauth(error: &str) -> EndpointError {
        EndpointError::OAuth {
            error: error.into(),
            description: Some("AADSTS70016: pending. Trace ID: 1 Correlation ID: 2".into()),
        }
    }

    fn token() -> TokenResponse {
        serde_json::from_str(r#"{"access_token":"a","refresh_token":"r","expires_in":"3599"}"#)
            .unwrap()
    }

    /// Replays `answers` and records the (paused-clock) time of every poll.
    async fn run(
        auth: &DeviceAuthorization,
        answers: Vec<Result<TokenResponse, EndpointError>>,
    ) -> (Result<TokenResponse, AuthError>, Vec<Duration>) {
        let start = Instant::now();
        let times = Arc::new(Mutex::new(Vec::new()));
        let answers = Arc::new(Mutex::new(answers.into_iter()));
        let result = poll(auth, "http://idp/token", || {
            times.lock().unwrap().push(start.elapsed());
            let next = answers.lock().unwrap().next().expect("an answer per poll");
            async move { next }
        })
        .await;
        let times = times.lock().unwrap().clone();
        (result, times)
    }

    #[tokio::test(start_paused = true)]
    async fn pending_then_slow_down_adds_five_seconds_for_good() {
        let auth = authorization(Duration::from_secs(2), Duration::from_secs(900));
        let (result, times) = run(
            &auth,
            vec![
                Err(oauth("authorization_pending")),
                Err(oauth("slow_down")),
                Err(oauth("authorization_pending")),
                Ok(token()),
            ],
        )
        .await;
        assert!(result.is_ok());
        let secs: Vec<u64> = times.iter().map(Duration::as_secs).collect();
        assert_eq!(secs, vec![2, 4, 11, 18]);
        assert_eq!(
            result.unwrap().expires_in(),
            Some(Duration::from_secs(3599))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn each_refusal_has_its_own_error() {
        let auth = authorization(Duration::from_secs(1), Duration::from_secs(900));
        for (code, expected) in [
            ("authorization_declined", "declined"),
            ("access_denied", "declined"),
            ("expired_token", "expired"),
            ("bad_verification_code", "not recognised"),
            ("invalid_client", "invalid_client: AADSTS70016: pending."),
        ] {
            let (result, _) = run(&auth, vec![Err(oauth(code))]).await;
            let message = result.unwrap_err().to_string();
            assert!(message.contains(expected), "{code}: {message}");
            assert!(!message.contains("Trace ID"), "{message}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_endpoint_is_polled_less_often_not_given_up_on() {
        let auth = authorization(Duration::from_secs(2), Duration::from_secs(900));
        let down = || Err(EndpointError::Transport("HTTP 503".into()));
        let (result, times) = run(&auth, vec![down(), down(), Ok(token())]).await;
        assert!(result.is_ok(), "{:?}", result.err());
        let secs: Vec<u64> = times.iter().map(Duration::as_secs).collect();
        assert_eq!(
            secs,
            vec![2, 6, 14],
            "the interval doubles after each failure"
        );

        let auth = authorization(Duration::from_secs(5), Duration::from_secs(20));
        let (result, _) = run(&auth, vec![down(), down()]).await;
        let message = result.unwrap_err().to_string();
        assert!(
            message.contains("HTTP 503"),
            "the last failure is the cause: {message}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_when_the_code_expires() {
        let auth = authorization(Duration::from_secs(5), Duration::from_secs(12));
        let answers = (0..2)
            .map(|_| Err(oauth("authorization_pending")))
            .collect();
        let (result, times) = run(&auth, answers).await;
        assert!(matches!(result, Err(AuthError::CodeExpired)));
        assert_eq!(times.len(), 2, "no poll after the deadline");
    }

    #[test]
    fn missing_interval_means_five_seconds_and_message_is_composed() {
        let auth = decode(
            br#"{"device_code":"d","user_code":"U1","verification_uri":"https://idp/device","expires_in":600}"#,
        )
        .unwrap();
        assert_eq!(auth.interval, Duration::from_secs(5));
        assert_eq!(auth.expires_in, Duration::from_secs(600));
        assert!(auth.message.contains("https://idp/device") && auth.message.contains("U1"));
    }

    #[test]
    fn microsoft_message_is_kept_verbatim() {
        let auth = decode(
            br#"{"device_code":"d","user_code":"U1","verification_url":"https://microsoft.com/devicelogin","expires_in":"900","interval":"7","message":"To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code U1 to authenticate."}"#,
        )
        .unwrap();
        assert_eq!(auth.interval, Duration::from_secs(7));
        assert_eq!(
            auth.message,
            "To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code U1 to authenticate."
        );
    }
}
