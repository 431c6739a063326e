//! Reading an OData v4 service: authenticated GETs, pages with `@odata.nextLink`, `$metadata`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use secrecy::ExposeSecret;
use serde_json::Value;
use serde_json::value::RawValue;
use url::Url;

use super::csdl::{CsdlError, Feed, Metadata};
use super::prefer::{self, Preference};
pub use super::rows::{Row, Rows, Undecodable};
use crate::auth::{AuthError, TokenSource};
use crate::budget::{BudgetError, Gate};
use crate::limits::{self, Body, Capped, ReadError};

/// A page of rows and where the next one is.
#[derive(Debug)]
pub struct Page {
    pub rows: Rows,
    pub next: Option<Url>,
}

/// Why reading the source failed. Messages name the URL path and the server's own words, never a token.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("{status} from {url}: {message}")]
    Http {
        status: u16,
        url: String,
        message: String,
        /// Seconds the server asked us to wait (Retry-After), when it said.
        retry_after: Option<u64>,
    },
    #[error("cannot reach {url}: {message}")]
    Transport { url: String, message: String },
    /// The service did not answer (or finish its answer) within the connection's `timeout_secs`: a
    /// stalled source fails the attempt, which is retried with backoff.
    #[error("{url} did not answer within {secs} s: timed out (the connection's timeout_secs)")]
    TimedOut { url: String, secs: u64 },
    #[error("unreadable response from {url}: {message}")]
    Decode { url: String, message: String },
    /// An answer longer than its kind's cap (`limits.rs`): read further, it could exhaust the
    /// worker's memory. The same answer would come again, so it is not retried.
    #[error("{url}: {message}")]
    TooLarge { url: String, message: String },
    /// No slot of the connection's request budget came free in time (or the worker is stopping):
    /// the request was not sent.
    #[error(transparent)]
    Budget(#[from] BudgetError),
    #[error(transparent)]
    Metadata(#[from] CsdlError),
    #[error("{0}")]
    Schema(String),
    /// A link (an `@odata.nextLink`) points away from the connection's service: following it would
    /// hand the connection's bearer token to another server (invariant 8). Only origins are named:
    /// the link's query may carry a skip token.
    #[error(
        "refusing to follow a link to {link_origin}: the connection's service is {service_origin}, \
         and its access token goes nowhere else"
    )]
    ForeignOrigin {
        link_origin: String,
        service_origin: String,
    },
    /// The service's `@odata.nextLink`s lead back to a page this read already followed: its paging
    /// loops, and following it would never end.
    #[error(
        "the service's @odata.nextLink leads back to a page already read ({url}): its paging loops, \
         so the run stops rather than read for ever"
    )]
    LinkCycle { url: String },
}

impl SourceError {
    /// Worth retrying from the checkpoint: the source was busy or unreachable, not wrong. An unreadable
    /// body counts as unreachable: a 200 whose JSON is garbled (a proxy's error page, a body cut short)
    /// is gone on the next read, and one that stays garbled still fails after `retry.max_attempts`.
    pub fn is_retriable(&self) -> bool {
        match self {
            SourceError::Auth(e) => e.is_retriable(),
            SourceError::Http { status, .. } => matches!(status, 408 | 429 | 502 | 503 | 504),
            SourceError::Transport { .. }
            | SourceError::TimedOut { .. }
            | SourceError::Decode { .. }
            | SourceError::Budget(_) => true,
            SourceError::Metadata(_)
            | SourceError::Schema(_)
            | SourceError::ForeignOrigin { .. }
            | SourceError::TooLarge { .. }
            | SourceError::LinkCycle { .. } => false,
        }
    }
}

/// One request as `send_once` sends it (and sends it again after a 401).
struct Outgoing<'a> {
    method: reqwest::Method,
    accept: &'a str,
    headers: Vec<(&'static str, String)>,
    body: Option<bytes::Bytes>,
}

/// The parts of a page body Ferry reads. Rows stay unparsed text here: each is decoded on its own
/// (`rows.rs`), so one unreadable row fails its record, not the page.
#[derive(serde::Deserialize)]
struct PageBody<'a> {
    #[serde(borrow)]
    value: Vec<&'a RawValue>,
    #[serde(rename = "@odata.nextLink")]
    next: Option<String>,
    #[serde(rename = "@odata.deltaLink")]
    delta: Option<String>,
}

/// An authenticated client for one OData service root.
#[derive(Debug, Clone)]
pub struct ODataClient {
    http: reqwest::Client,
    /// Always ends with `/`, so relative links resolve beneath it.
    root: Url,
    tokens: Arc<TokenSource>,
    page_size: u32,
    /// Asked on every request besides the page size: a read's next links must be asked the same as
    /// its first page, or later pages would come without what the first one carried.
    prefer: Vec<Preference>,
    /// Each request's time limit (the connection's `timeout_secs`).
    timeout: Duration,
    /// What busy answers cost this client (and its clones) so far.
    waits: Arc<Mutex<Waits>>,
    /// The connection's request budget, shared with every worker: each request takes a slot before
    /// it is sent (`send_once`).
    gate: Gate,
}

/// Requests repeated because the source was busy, and the time spent waiting for them: what makes an
/// 18-second run that would take 2.5 seconds say why.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Waits {
    pub retried: u64,
    pub waited_ms: u64,
    /// The last busy answer repeated (status, URL without its query, the server's words).
    pub last_error: Option<String>,
}

/// The HTTP client Ferry uses everywhere: bounded timeouts, no redirects (a redirect would carry the
/// bearer token elsewhere). Requests to a source carry the connection's own limit besides
/// (`ODataClient::new`).
pub fn http_client() -> reqwest::Client {
    http_client_connecting_within(Duration::from_secs(
        crate::definitions::DEFAULT_CONNECT_TIMEOUT_SECS,
    ))
}

/// `http_client` with another connect timeout (a connection's `connect_timeout_secs`).
pub fn http_client_connecting_within(connect: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(connect)
        .timeout(Duration::from_secs(600))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("ferry/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("the TLS backend initializes")
}

impl ODataClient {
    pub fn new(
        http: reqwest::Client,
        service_root: &str,
        tokens: Arc<TokenSource>,
        page_size: u32,
        timeout: Duration,
        gate: Gate,
    ) -> Result<ODataClient, SourceError> {
        let mut root = Url::parse(service_root)
            .map_err(|e| SourceError::Schema(format!("service root {service_root:?}: {e}")))?;
        if !root.path().ends_with('/') {
            root.set_path(&format!("{}/", root.path()));
        }
        Ok(ODataClient {
            http,
            root,
            tokens,
            page_size,
            prefer: Vec::new(),
            timeout,
            waits: Arc::default(),
            gate,
        })
    }

    /// This client asking `preferences` too (one read's: `Source::read`). It shares the token and
    /// the count of waits with `self`.
    pub fn preferring(&self, preferences: &[Preference]) -> ODataClient {
        ODataClient {
            prefer: preferences.to_vec(),
            ..self.clone()
        }
    }

    /// What busy answers cost so far.
    pub fn waits(&self) -> Waits {
        self.waits.lock().map(|w| w.clone()).unwrap_or_default()
    }

    /// `path` (relative, e.g. `companies(…)/RescoCustomer`) beneath the service root, with `query`.
    pub fn url(&self, path: &str, query: &str) -> Url {
        let mut url = self.root.join(path).unwrap_or_else(|_| self.root.clone());
        url.set_query((!query.is_empty()).then_some(query));
        url
    }

    /// A stored link (a delta link kept as a checkpoint), resolved and held to the service root's
    /// origin before any request carries a token to it.
    pub fn link(&self, link: &str) -> Result<Url, SourceError> {
        let url = self.resolve(link)?;
        self.same_origin(&url)?;
        Ok(url)
    }

    /// Resolves a `@odata.nextLink`, absolute or relative to the service root.
    fn resolve(&self, link: &str) -> Result<Url, SourceError> {
        self.root.join(link).map_err(|e| SourceError::Decode {
            url: self.root.to_string(),
            message: format!("bad @odata.nextLink {link:?}: {e}"),
        })
    }

    /// A GET that rides out a busy moment: 429/502/503 are repeated here a few times after a short
    /// backoff (or the server's Retry-After, when it is short), so one busy answer costs a request, not
    /// a run attempt; a source that stays busy (or asks for a long wait) reaches the run-level retry.
    async fn get(&self, url: &Url, accept: &str) -> Result<reqwest::Response, SourceError> {
        let prefer = prefer::header(self.page_size, &self.prefer);
        let request = Outgoing {
            method: reqwest::Method::GET,
            accept,
            headers: vec![("Prefer", prefer)],
            body: None,
        };
        self.busy_aware(url, &request, &[429, 502, 503]).await
    }

    /// A JSON write (Business Central's JSON `$batch`): `post` with `application/json`.
    pub(crate) async fn post_json(
        &self,
        url: &Url,
        body: Vec<u8>,
        headers: Vec<(&'static str, String)>,
    ) -> Result<reqwest::Response, SourceError> {
        self.post(url, body, "application/json", headers).await
    }

    /// A write (a `$batch` POST) whose body is of `content_type`, asking for JSON back: repeated on
    /// 429 and 503 only, which say the request was not carried out. Any other failure, a lost reply
    /// included, is the caller's to make safe. Every format of write passes here, so the busy retry
    /// and the same-origin gate before the token stay one piece of code.
    pub(crate) async fn post(
        &self,
        url: &Url,
        body: Vec<u8>,
        content_type: &str,
        headers: Vec<(&'static str, String)>,
    ) -> Result<reqwest::Response, SourceError> {
        let mut headers = headers;
        headers.push(("Content-Type", content_type.to_string()));
        let request = Outgoing {
            method: reqwest::Method::POST,
            accept: "application/json",
            headers,
            body: Some(bytes::Bytes::from(body)),
        };
        self.busy_aware(url, &request, &[429, 503]).await
    }

    /// Reads a response body of kind `body` up to its cap.
    pub(crate) async fn body(
        &self,
        url: &Url,
        response: reqwest::Response,
        body: Body,
    ) -> Result<Vec<u8>, SourceError> {
        self.read(url, response, body).await
    }

    async fn busy_aware(
        &self,
        url: &Url,
        request: &Outgoing<'_>,
        busy_statuses: &[u16],
    ) -> Result<reqwest::Response, SourceError> {
        let mut busy = 0;
        loop {
            match self.send_once(url, request).await {
                Err(
                    error @ SourceError::Http {
                        status,
                        retry_after,
                        ..
                    },
                ) if busy_statuses.contains(&status)
                    && busy < BUSY_RETRIES
                    && retry_after.is_none_or(|s| s <= MAX_BUSY_WAIT_SECS) =>
                {
                    busy += 1;
                    let wait = busy_wait(busy, retry_after);
                    if let Ok(mut waits) = self.waits.lock() {
                        waits.retried += 1;
                        waits.waited_ms += wait.as_millis() as u64;
                        waits.last_error = Some(error.to_string());
                    }
                    tokio::time::sleep(wait).await;
                }
                other => return other,
            }
        }
    }

    /// The one gate every request passes before a token is attached: the URL must have the service
    /// root's scheme, host and port. A next link elsewhere fails the run instead of being followed.
    fn same_origin(&self, url: &Url) -> Result<(), SourceError> {
        if url.origin() == self.root.origin() {
            return Ok(());
        }
        Err(SourceError::ForeignOrigin {
            link_origin: url.origin().ascii_serialization(),
            service_origin: self.root.origin().ascii_serialization(),
        })
    }

    /// A request with the bearer token; on 401 the token is renewed once and the request repeated.
    ///
    /// Each request sent holds a slot of the connection's budget (`budget::Gate`) from before it is
    /// sent until its answer is dropped: the slot travels in the response's extensions, and every
    /// reader (`limits::read`, `Capped`, `read_prefix`) keeps the response until its body is read.
    /// The slot is taken after the token, so signing in holds none.
    async fn send_once(
        &self,
        url: &Url,
        outgoing: &Outgoing<'_>,
    ) -> Result<reqwest::Response, SourceError> {
        self.same_origin(url)?;
        for attempt in 0..2 {
            let mut request = self
                .http
                .request(outgoing.method.clone(), url.clone())
                .header("Accept", outgoing.accept)
                .timeout(self.timeout);
            for (name, value) in &outgoing.headers {
                request = request.header(*name, value);
            }
            if let Some(body) = &outgoing.body {
                request = request.body(body.clone());
            }
            let token = self.tokens.bearer(&self.http).await?;
            if let Some(token) = &token {
                request = request.bearer_auth(token.expose_secret());
            }
            let permit = self.gate.enter().await?;
            let mut response = request.send().await.map_err(|e| self.transport(url, e))?;
            response.extensions_mut().insert(permit);
            // An access token that expired mid-run (or was revoked): renew once and repeat.
            if response.status() == StatusCode::UNAUTHORIZED
                && attempt == 0
                && let Some(token) = &token
            {
                self.tokens.reject(token).await;
                continue;
            }
            if !response.status().is_success() {
                return Err(http_error(url, response).await);
            }
            return Ok(response);
        }
        unreachable!("the loop returns on its second attempt")
    }

    /// A failed exchange: a timeout names the connection's limit, anything else the transport's words.
    fn transport(&self, url: &Url, e: reqwest::Error) -> SourceError {
        if e.is_timeout() {
            return SourceError::TimedOut {
                url: display(url),
                secs: self.timeout.as_secs(),
            };
        }
        SourceError::Transport {
            url: display(url),
            message: e.without_url().to_string(),
        }
    }

    /// A body of kind `body`, read up to its cap.
    async fn read(
        &self,
        url: &Url,
        response: reqwest::Response,
        body: Body,
    ) -> Result<Vec<u8>, SourceError> {
        limits::read(response, body)
            .await
            .map_err(|e| self.read_error(url, e))
    }

    /// A body that could not be read: the transport failed, or it passed its cap.
    fn read_error(&self, url: &Url, e: ReadError) -> SourceError {
        match e {
            ReadError::Transport(e) => self.transport(url, e),
            too_large => SourceError::TooLarge {
                url: display(url),
                message: too_large.to_string(),
            },
        }
    }

    /// One page of an entity set.
    pub async fn page(&self, url: &Url) -> Result<Page, SourceError> {
        let response = self.get(url, "application/json").await?;
        let body = self.read(url, response, Body::Page).await?;
        let decode = |message: String| SourceError::Decode {
            url: display(url),
            message,
        };
        // The page's frame first (rows as text, other annotations skipped), then each row on its own:
        // a body that is not JSON fails the page, one unreadable row fails only its record.
        let document: PageBody =
            serde_json::from_slice(&body).map_err(|e| decode(e.to_string()))?;
        let next = match document.next {
            Some(link) => Some(self.resolve(&link)?),
            None => None,
        };
        let mut rows = Rows::decode(&document.value);
        rows.delta_link = match document.delta {
            Some(link) => Some(self.resolve(&link)?),
            None => None,
        };
        Ok(Page { rows, next })
    }

    /// A JSON document (e.g. the `companies` collection).
    pub async fn json(&self, url: &Url) -> Result<Value, SourceError> {
        let response = self.get(url, "application/json").await?;
        let body = self.read(url, response, Body::Page).await?;
        serde_json::from_slice(&body).map_err(|e| SourceError::Decode {
            url: display(url),
            message: e.to_string(),
        })
    }

    /// The service's `$metadata`, parsed while its body arrives (on a blocking thread): only the
    /// parsed model is kept, never the document, which for Dataverse is tens of MB of mostly
    /// annotations. A body that fails or passes `limits.metadata_bytes` fails the read for that
    /// reason, whatever the parser made of its cut-off document.
    pub async fn metadata(&self) -> Result<Metadata, SourceError> {
        let url = self.url("$metadata", "");
        let response = self.get(&url, "application/xml").await?;
        let mut chunks =
            Capped::new(response, Body::Metadata).map_err(|e| self.read_error(&url, e))?;
        let mut feed = Feed::start();
        while let Some(chunk) = chunks.next().await.map_err(|e| self.read_error(&url, e))? {
            if !feed.push(chunk).await {
                // The parser stopped on a bad document: the rest of the body cannot mend it.
                break;
            }
        }
        Ok(feed.finish().await?)
    }
}

/// The longest `Retry-After` believed (a day).
const MAX_RETRY_AFTER_SECS: u64 = 86_400;

/// Busy answers repeated per request before the run-level retry takes over.
const BUSY_RETRIES: u32 = 4;
/// A longer Retry-After is left to the run-level retry, which frees the worker meanwhile.
const MAX_BUSY_WAIT_SECS: u64 = 10;

/// 250 ms, 500 ms, 1 s, 2 s (each with jitter in [0.5, 1)), or the server's Retry-After.
fn busy_wait(busy: u32, retry_after: Option<u64>) -> Duration {
    match retry_after {
        Some(seconds) => Duration::from_secs(seconds),
        None => {
            Duration::from_millis(250 << (busy - 1).min(4)).mul_f64(0.5 + fastrand::f64() / 2.0)
        }
    }
}

/// A URL for messages: scheme, host and path, without the query or any user-info (either may carry a
/// credential).
pub(crate) fn display(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string()
}

/// Reads an OData error body (`{"error":{"code","message"}}`) when there is one.
async fn http_error(url: &Url, response: reqwest::Response) -> SourceError {
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        // A server's word on how long to wait is believed up to a day: `u64::MAX` must not overflow
        // the retry's clock arithmetic.
        .map(|s| s.min(MAX_RETRY_AFTER_SECS));
    // Only the start of an error answer is read: it is there for its message.
    let text =
        String::from_utf8_lossy(&limits::read_prefix(response, Body::Error).await).into_owned();
    let message = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| {
            let error = v.get("error")?;
            let code = error.get("code").and_then(Value::as_str).unwrap_or("");
            let message = error.get("message").and_then(Value::as_str)?;
            Some(format!("{code}: {message}"))
        })
        .unwrap_or_else(|| text.chars().take(300).collect());
    let message = crate::printable::printable(&message);
    SourceError::Http {
        status,
        url: display(url),
        message,
        retry_after,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(status: u16) -> SourceError {
        SourceError::Http {
            status,
            url: "http://bc/x".into(),
            message: String::new(),
            retry_after: None,
        }
    }

    #[test]
    fn busy_and_unreachable_sources_are_retried_wrong_requests_are_not() {
        for status in [408, 429, 502, 503, 504] {
            assert!(http(status).is_retriable(), "{status}");
        }
        for status in [400, 401, 403, 404, 412, 413, 500] {
            assert!(!http(status).is_retriable(), "{status}");
        }
        let transport = SourceError::Transport {
            url: "http://bc/x".into(),
            message: "connection refused".into(),
        };
        assert!(transport.is_retriable());
        let decode = SourceError::Decode {
            url: "http://bc/x".into(),
            message: "not JSON".into(),
        };
        assert!(decode.is_retriable(), "a garbled page is read again");
        let refused = SourceError::Auth(AuthError::Refused {
            token_url: "http://login/token".into(),
            message: "invalid_client".into(),
        });
        assert!(!refused.is_retriable());
        let unreachable = SourceError::Auth(AuthError::Unreachable {
            token_url: "http://login/token".into(),
            message: "timed out".into(),
        });
        assert!(unreachable.is_retriable());
    }

    fn client(root: &str) -> ODataClient {
        let tokens = Arc::new(TokenSource::anonymous());
        let gate = crate::budget::Budgets::in_process(Default::default()).gate(
            "test",
            crate::budget::Budget {
                concurrent: 1,
                window: None,
            },
            Duration::from_secs(1),
        );
        ODataClient::new(
            http_client(),
            root,
            tokens,
            10,
            Duration::from_secs(60),
            gate,
        )
        .unwrap()
    }

    #[test]
    fn only_links_with_the_services_scheme_host_and_port_are_followed() {
        let client = client("https://bc.example:443/v2.0/t/production/api");
        for same in [
            "Products?$skiptoken=1",
            "https://bc.example/v2.0/t/production/api/Products?$skiptoken=1",
            "https://BC.example:443/other/path",
        ] {
            let url = client.resolve(same).unwrap();
            assert!(client.same_origin(&url).is_ok(), "{same}");
        }
        for (foreign, origin) in [
            ("http://bc.example/v2.0/x", "http://bc.example"),
            ("https://bc.example:8443/v2.0/x", "https://bc.example:8443"),
            ("https://evil.example/v2.0/x", "https://evil.example"),
            ("//evil.example/steal", "https://evil.example"),
        ] {
            let url = client.resolve(foreign).unwrap();
            let error = client.same_origin(&url).unwrap_err();
            let message = error.to_string();
            assert!(
                message.contains(origin) && message.contains("https://bc.example"),
                "{message}"
            );
            assert!(!error.is_retriable());
        }
    }
}
