//! The API token, against the real `ferry` binary: a token set but empty is no token (every protected
//! route answers 401, also to a request with no `Authorization` header), and a short token stops the
//! process before it listens, saying how to make a good one and never echoing the bad one. The metrics
//! token opens `/metrics` and nothing else, and an address that keeps failing is answered 429.

use std::time::Duration;

use crate::helpers::TestEnv;
use crate::process::Process;

/// Routes that need the token.
const PROTECTED: [(&str, &str); 5] = [
    ("GET", "/metrics"),
    ("GET", "/api/v1/runs"),
    ("GET", "/api/v1/runs/1"),
    ("GET", "/api/v1/queue"),
    ("POST", "/api/v1/integrations/customers/runs"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_api_token_keeps_every_protected_route_closed() {
    let env = TestEnv::without_worker(1, 1).await;
    env.apply(&env.write_definitions("")).await;
    let mut command = env.ferry(&["scheduler"]);
    command
        .env("FERRY__API__TOKEN", "")
        .env("FERRY__API__LISTEN", "127.0.0.1:0");
    let mut scheduler = Process::start(command);
    let started = scheduler.wait_for_message("scheduler started", Duration::from_secs(60));
    let api = format!(
        "http://{}",
        started["api"].as_str().expect("the API address")
    );

    let http = reqwest::Client::new();
    for (method, path) in PROTECTED {
        let url = format!("{api}{path}");
        let method: reqwest::Method = method.parse().unwrap();
        let bare = http.request(method.clone(), &url).send().await.unwrap();
        assert_eq!(bare.status(), 401, "{path} without Authorization");
        let empty = http
            .request(method, &url)
            .header("Authorization", "Bearer ")
            .send()
            .await
            .unwrap();
        assert_eq!(empty.status(), 401, "{path} with an empty bearer token");
    }
    let health = http.get(format!("{api}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200, "health checks stay open");
    drop(scheduler);
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_api_token_stops_the_process_before_it_listens() {
    let env = TestEnv::without_worker(1, 1).await;
    for args in [&["scheduler"][..], &["serve", "--workers", "1"]] {
        let mut command = env.ferry(args);
        command
            .env("FERRY__API__TOKEN", "CHANGE-ME")
            .env("FERRY__API__LISTEN", "127.0.0.1:0");
        let mut process = Process::start(command);
        let status = process.wait_exit(Duration::from_secs(60));
        let stderr = process.stderr.join("\n");
        assert!(!status.success(), "`ferry {}` started: {stderr}", args[0]);
        assert!(
            stderr.contains("at least 32") && stderr.contains("openssl rand -hex 32"),
            "says what is needed and how to make it: {stderr}"
        );
        assert!(
            !stderr.contains("CHANGE-ME"),
            "the token is never shown: {stderr}"
        );
        assert!(
            !stderr.contains("scheduler started"),
            "refused before listening: {stderr}"
        );
    }
    env.finish().await;
}

/// A real `ferry scheduler` with both tokens, and the API's base URL.
fn scheduler_with_tokens(env: &TestEnv, metrics_token: Option<&str>) -> (Process, String) {
    let mut command = env.ferry(&["scheduler"]);
    command
        .env("FERRY__API__TOKEN", ADMIN_TOKEN)
        .env("FERRY__API__LISTEN", "127.0.0.1:0");
    if let Some(token) = metrics_token {
        command.env("FERRY__API__METRICS_TOKEN", token);
    }
    let mut scheduler = Process::start(command);
    let started = scheduler.wait_for_message("scheduler started", Duration::from_secs(60));
    let api = format!(
        "http://{}",
        started["api"].as_str().expect("the API address")
    );
    (scheduler, api)
}

const ADMIN_TOKEN: &str = "admin-token-0123456789abcdef0123456789";
const METRICS_TOKEN: &str = "metrics-token-0123456789abcdef012345678";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_token_opens_metrics_and_nothing_else() {
    let env = TestEnv::without_worker(1, 1).await;
    env.apply(&env.write_definitions("")).await;
    let (scheduler, api) = scheduler_with_tokens(&env, Some(METRICS_TOKEN));

    let http = reqwest::Client::new();
    for token in [METRICS_TOKEN, ADMIN_TOKEN] {
        let metrics = http
            .get(format!("{api}/metrics"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(metrics.status(), 200);
        assert!(metrics.text().await.unwrap().contains("ferry_workers"));
    }
    for (method, path) in PROTECTED.iter().filter(|(_, path)| *path != "/metrics") {
        let method: reqwest::Method = method.parse().unwrap();
        let refused = http
            .request(method, format!("{api}{path}"))
            .bearer_auth(METRICS_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 401, "{path} with the metrics token");
    }
    let runs = http
        .get(format!("{api}/api/v1/runs"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(runs.status(), 200, "the API token still opens the API");
    drop(scheduler);
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failed_sign_ins_from_one_address_are_answered_429_with_retry_after() {
    let env = TestEnv::without_worker(1, 1).await;
    let (scheduler, api) = scheduler_with_tokens(&env, None);

    let http = reqwest::Client::new();
    let mut statuses = Vec::new();
    for n in 0..12 {
        let answer = http
            .get(format!("{api}/api/v1/runs"))
            .bearer_auth(format!("guess-{n}"))
            .send()
            .await
            .unwrap();
        statuses.push(answer.status().as_u16());
    }
    assert_eq!(&statuses[..10], [401; 10], "{statuses:?}");
    assert_eq!(&statuses[10..], [429; 2], "{statuses:?}");
    let locked = http
        .get(format!("{api}/metrics"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(locked.status(), 429, "no token is looked at while locked");
    let retry_after: u64 = locked.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let body: serde_json::Value = locked.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("too many"),
        "{body}"
    );
    let health = http.get(format!("{api}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200, "health checks stay open");
    drop(scheduler);
    env.finish().await;
}
