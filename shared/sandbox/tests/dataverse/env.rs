//! A started sandbox with a Dataverse token, and requests against its Web API.

use ferry_sandbox::{Sandbox, SandboxConfig};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;

pub struct Env {
    pub sandbox: Sandbox,
    pub client: reqwest::Client,
    /// A token for `{environment URL}/.default`.
    pub token: String,
}

pub fn config(accounts: usize, contacts: usize) -> SandboxConfig {
    SandboxConfig {
        customers: 3,
        contacts: 3,
        accounts,
        dv_contacts: contacts,
        ..SandboxConfig::default()
    }
}

/// A client-credentials token for `scope`.
pub async fn token(client: &reqwest::Client, sandbox: &Sandbox, scope: &str) -> String {
    let response = client
        .post(format!("{}/sandbox/oauth2/v2.0/token", sandbox.base_url()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "ferry"),
            ("client_secret", "ferry-secret"),
            ("scope", scope),
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

pub async fn start(config: SandboxConfig) -> Env {
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap(), config)
        .await
        .expect("sandbox starts");
    let client = reqwest::Client::new();
    let token = token(&client, &sandbox, &sandbox.dataverse_scope()).await;
    Env {
        sandbox,
        client,
        token,
    }
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The body as sent (Money's exact digits are only visible here).
    pub text: String,
    pub json: Value,
}

impl Env {
    /// `{service root}{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sandbox.dataverse_url())
    }

    /// GET with the Dataverse token and these `Prefer` values.
    pub async fn get(&self, url: &str, prefer: &[&str]) -> Reply {
        let mut request = self.client.get(url).bearer_auth(&self.token);
        if !prefer.is_empty() {
            request = request.header("Prefer", prefer.join(","));
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            text,
            json,
        }
    }

    /// Follows next links to the end; returns every page's body.
    pub async fn pages(&self, url: &str, prefer: &[&str]) -> Vec<Value> {
        let mut pages = Vec::new();
        let mut next = Some(url.to_owned());
        while let Some(url) = next {
            let reply = self.get(&url, prefer).await;
            assert_eq!(reply.status, StatusCode::OK, "{url}: {}", reply.text);
            next = reply.json["@odata.nextLink"].as_str().map(str::to_owned);
            pages.push(reply.json);
            assert!(pages.len() < 1000, "runaway paging");
        }
        pages
    }

    /// A control endpoint POST.
    pub async fn control(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let response = self
            .client
            .post(format!("{}/_sandbox/{path}", self.sandbox.base_url()))
            .json(&body)
            .send()
            .await
            .expect("control request");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Asserts an error reply's status and returns its Dataverse code and message.
    pub async fn error(&self, url: &str, prefer: &[&str], status: StatusCode) -> (String, String) {
        let reply = self.get(url, prefer).await;
        assert_eq!(reply.status, status, "{url}: {}", reply.text);
        let code = reply.json["error"]["code"].as_str().expect("error code");
        let message = reply.json["error"]["message"].as_str().expect("message");
        (code.to_owned(), message.to_owned())
    }
}

/// Every row of every page.
pub fn rows(pages: &[Value]) -> Vec<Value> {
    pages
        .iter()
        .flat_map(|p| p["value"].as_array().expect("value").clone())
        .collect()
}

/// SQL Server's uniqueidentifier order, written independently of the sandbox's: bytes 10–15, 8–9,
/// then 7,6 / 5,4 / 3,2,1,0 of the text form.
pub fn sql_guid_key(id: &str) -> Vec<u8> {
    let hex: String = id.chars().filter(|c| *c != '-').collect();
    let bytes: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&hex[i * 2..i * 2 + 2], 16).expect("hex"))
        .collect();
    [10, 11, 12, 13, 14, 15, 8, 9, 7, 6, 5, 4, 3, 2, 1, 0]
        .iter()
        .map(|&i| bytes[i])
        .collect()
}
