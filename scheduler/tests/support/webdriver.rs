//! A real headless Chromium, driven through ChromeDriver over the W3C WebDriver protocol (plain JSON
//! over HTTP, so a few reqwest calls are the whole client). Each `Browser` starts its own ChromeDriver
//! on a free loopback port with its own profile, and stops both when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The key W3C WebDriver names an element reference by.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// Longest wait for anything the browser does.
const WAIT: Duration = Duration::from_secs(30);

pub struct Browser {
    driver: Child,
    http: reqwest::Client,
    /// `http://127.0.0.1:PORT/session/ID`.
    session: String,
    /// Chromium's profile, removed on drop.
    profile: PathBuf,
}

/// An element found on the page.
#[derive(Debug, Clone)]
pub struct Element(String);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Browser {
    /// Starts ChromeDriver and a headless Chromium window of `width` × `height`.
    pub async fn start(width: u32, height: u32) -> Browser {
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts (deploy/test.sh installs Debian's chromium-driver)");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + WAIT;
        loop {
            let ready = http.get(format!("{base}/status")).send().await;
            if let Ok(response) = ready
                && let Ok(status) = response.json::<Value>().await
                && status["value"]["ready"] == true
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not become ready"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = std::env::temp_dir().join(format!("ferry-chromium-{}", uuid::Uuid::new_v4()));
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--no-first-run", "--disable-extensions", "--hide-scrollbars",
                    format!("--window-size={width},{height}"),
                    format!("--user-data-dir={}", profile.display()),
                ],
            },
        } } });
        let created: Value = http
            .post(format!("{base}/session"))
            .json(&capabilities)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no browser session: {created}"))
            .to_string();
        Browser {
            driver,
            http,
            session: format!("{base}/session/{id}"),
            profile,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.session));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer: Value = request.send().await.unwrap().json().await.unwrap();
        if let Some(error) = answer["value"]["error"].as_str() {
            panic!("WebDriver {path}: {error}: {}", answer["value"]["message"]);
        }
        answer["value"].clone()
    }

    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    pub async fn url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap()
            .to_string()
    }

    /// The page's HTML as the browser has it now.
    pub async fn source(&self) -> String {
        self.call(reqwest::Method::GET, "/source", None)
            .await
            .as_str()
            .unwrap()
            .to_string()
    }

    /// The visible text of the page's `<main>`.
    pub async fn main_text(&self) -> String {
        let main = self.find("main").await;
        self.text(&main).await
    }

    /// The first element `using` (`css selector`, `xpath`) finds now, without waiting.
    async fn locate(&self, using: &str, value: &str) -> Option<Element> {
        let answer: Value = self
            .http
            .post(format!("{}/element", self.session))
            .json(&json!({ "using": using, "value": value }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answer["value"][ELEMENT]
            .as_str()
            .map(|id| Element(id.to_string()))
    }

    /// The first element `using` finds, waiting for it to appear; `what` names it if it never does.
    async fn wait_to_locate(&self, using: &str, value: &str, what: &str) -> Element {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(element) = self.locate(using, value).await {
                return element;
            }
            if Instant::now() >= deadline {
                panic!("no {what} in:\n{}", self.source().await);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The first element matching a CSS selector, waiting for it to appear.
    pub async fn find(&self, css: &str) -> Element {
        self.wait_to_locate("css selector", css, &format!("element {css:?}"))
            .await
    }

    /// The first link or button whose text contains `text`, waiting for it.
    pub async fn find_text(&self, tag: &str, text: &str) -> Element {
        let xpath = format!("//{tag}[contains(normalize-space(.), {text:?})]");
        self.wait_to_locate("xpath", &xpath, &format!("{tag} with text {text:?}"))
            .await
    }

    pub async fn click(&self, element: &Element) {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{}/click", element.0),
            Some(json!({})),
        )
        .await;
    }

    pub async fn type_into(&self, element: &Element, text: &str) {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{}/value", element.0),
            Some(json!({ "text": text })),
        )
        .await;
    }

    /// Empties an input.
    pub async fn clear(&self, element: &Element) {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{}/clear", element.0),
            Some(json!({})),
        )
        .await;
    }

    pub async fn text(&self, element: &Element) -> String {
        self.call(
            reqwest::Method::GET,
            &format!("/element/{}/text", element.0),
            None,
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    async fn try_text(&self, id: &str) -> Option<String> {
        let answer: Value = self
            .http
            .get(format!("{}/element/{id}/text", self.session))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        answer["value"].as_str().map(str::to_string)
    }

    /// Accepts the page's `confirm()` dialog, waiting for it.
    pub async fn accept_dialog(&self) {
        let deadline = Instant::now() + WAIT;
        loop {
            let answer: Value = self
                .http
                .post(format!("{}/alert/accept", self.session))
                .json(&json!({}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if answer["value"].is_null() {
                return;
            }
            assert!(Instant::now() < deadline, "no dialog: {answer}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the text of `<main>` contains `wanted` (live pages refresh themselves).
    pub async fn wait_for_text(&self, wanted: &str) -> String {
        self.wait_for("main", wanted).await
    }

    /// Waits until the text of the first element matching `css` contains `wanted`.
    pub async fn wait_for(&self, css: &str, wanted: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            // The page may be replaced between finding <main> and reading it (a navigation, a live
            // refresh): that read is simply tried again.
            if let Some(element) = self.locate("css selector", css).await
                && let Some(text) = self.try_text(&element.0).await
            {
                if text.contains(wanted) {
                    return text;
                }
                assert!(
                    Instant::now() < deadline,
                    "the page never showed {wanted:?}; it shows:\n{text}"
                );
            }
            if Instant::now() >= deadline {
                panic!("no readable {css:?} on the page:\n{}", self.source().await);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sets the window's size (a phone: 390 × 844).
    pub async fn resize(&self, width: u32, height: u32) {
        self.call(
            reqwest::Method::POST,
            "/window/rect",
            Some(json!({ "width": width, "height": height })),
        )
        .await;
    }

    /// Saves a PNG of the window to `path`.
    pub async fn screenshot(&self, path: &Path) {
        use base64::Engine;
        let png = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap())
            .unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    /// The value of the session cookie the browser holds (`None` once signed out).
    pub async fn cookie(&self, name: &str) -> Option<Value> {
        let cookies = self.call(reqwest::Method::GET, "/cookie", None).await;
        cookies
            .as_array()?
            .iter()
            .find(|c| c["name"] == name)
            .cloned()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ends the session first, so ChromeDriver closes Chromium (killing only the driver would leave
        // the browser running); Drop cannot await, so this is one blocking HTTP request by hand.
        end_session(&self.session);
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// `DELETE /session/ID`, blocking, bounded by a timeout.
fn end_session(session: &str) {
    use std::io::{Read, Write};
    let Some(rest) = session.strip_prefix("http://") else {
        return;
    };
    let Some((host, path)) = rest.split_once('/') else {
        return;
    };
    let Ok(mut stream) = std::net::TcpStream::connect(host) else {
        return;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let request = format!(
        "DELETE /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).is_ok() {
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
    }
}
