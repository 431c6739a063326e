//! Shared helpers for the HTTP tests: a started sandbox, a token, and JSON GETs.
#![allow(dead_code)]

use ferry_sandbox::{Sandbox, SandboxConfig};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;

pub struct Env {
    pub sandbox: Sandbox,
    pub client: reqwest::Client,
    pub token: String,
    pub company: String,
}

pub fn config(customers: usize, contacts: usize, seed: u64) -> SandboxConfig {
    SandboxConfig {
        customers,
        contacts,
        seed,
        ..SandboxConfig::default()
    }
}

pub async fn start(config: SandboxConfig) -> Env {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap(), config)
        .await
        .expect("sandbox starts");
    let client = reqwest::Client::new();
    let token = token(&client, &sandbox).await;
    let mut env = Env {
        sandbox,
        client,
        token,
        company: String::new(),
    };
    let (status, _, body) = env
        .get(&format!("{}/companies", env.sandbox.resco_url()))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    env.company = body["value"][0]["id"]
        .as_str()
        .expect("company id")
        .to_owned();
    env
}

pub async fn token(client: &reqwest::Client, sandbox: &Sandbox) -> String {
    let response = client
        .post(format!("{}/sandbox/oauth2/v2.0/token", sandbox.base_url()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "ferry"),
            ("client_secret", "ferry-secret"),
            ("scope", "https://api.businesscentral.dynamics.com/.default"),
        ])
        .send()
        .await
        .expect("token request");
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("token json");
    body["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

impl Env {
    /// `<resco root>/companies(<id>)/<entity><query>`; `query` starts with `?` or is empty. Spaces
    /// are sent as %20 by the URL parser.
    pub fn entity_url(&self, entity: &str, query: &str) -> String {
        format!(
            "{}/companies({})/{entity}{query}",
            self.sandbox.resco_url(),
            self.company
        )
    }

    pub async fn get(&self, url: &str) -> (StatusCode, HeaderMap, Value) {
        self.get_paged(url, None).await
    }

    pub async fn get_paged(
        &self,
        url: &str,
        max_page_size: Option<usize>,
    ) -> (StatusCode, HeaderMap, Value) {
        let mut request = self.client.get(url).bearer_auth(&self.token);
        if let Some(n) = max_page_size {
            request = request.header("Prefer", format!("odata.maxpagesize={n}"));
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, headers, body)
    }

    /// Follows `@odata.nextLink` to the end; returns every page's rows in order, and the page count.
    pub async fn walk(&self, url: &str, max_page_size: Option<usize>) -> (Vec<Value>, usize) {
        let mut rows = Vec::new();
        let mut pages = 0;
        let mut next = Some(url.to_owned());
        while let Some(url) = next {
            let (status, _, body) = self.get_paged(&url, max_page_size).await;
            assert_eq!(status, StatusCode::OK, "{url}: {body}");
            pages += 1;
            rows.extend(
                body["value"]
                    .as_array()
                    .expect("value array")
                    .iter()
                    .cloned(),
            );
            next = body["@odata.nextLink"].as_str().map(str::to_owned);
            assert!(pages < 100_000, "runaway paging");
        }
        (rows, pages)
    }

    /// The OData error code of a failed request, asserting the status.
    pub async fn error(&self, url: &str, status: StatusCode) -> (String, String) {
        let (got, _, body) = self.get(url).await;
        assert_eq!(got, status, "{url}: {body}");
        let code = body["error"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no OData error body: {body}"));
        let message = body["error"]["message"].as_str().expect("message");
        (code.to_owned(), message.to_owned())
    }
}

pub fn keys(rows: &[Value]) -> Vec<String> {
    rows.iter()
        .map(|r| r["No"].as_str().expect("No").to_owned())
        .collect()
}
