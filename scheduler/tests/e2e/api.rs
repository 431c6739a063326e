//! The workflow API: token, idempotent triggers, run status, queue depth, metrics, signed callbacks.

use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::routing::post;
use ferry_shared::callback::{SIGNATURE_HEADER, signature};
use ferry_shared::runs::Mode;
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::helpers::{Backend, TestEnv};

const TOKEN: &str = crate::helpers::API_TOKEN;

/// The API of a test's scheduler, signed in with the test token.
struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    fn new(base: &str) -> Api {
        Api {
            base: base.to_string(),
            http: reqwest::Client::new(),
        }
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        let url = format!("{}{path}", self.base);
        self.http.get(url).bearer_auth(TOKEN).send().await.unwrap()
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        self.get(path).await.json().await.unwrap()
    }

    async fn post_json(&self, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.base);
        let request = self.http.post(url).bearer_auth(TOKEN).json(&body);
        request.send().await.unwrap().json().await.unwrap()
    }

    /// The status of an unauthenticated GET (health probes, the refusal of /metrics).
    async fn anonymous_status(&self, path: &str) -> u16 {
        let url = format!("{}{path}", self.base);
        self.http.get(url).send().await.unwrap().status().as_u16()
    }
}

crate::on_both_backends!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    triggers_need_the_token_and_an_idempotency_key_returns_the_same_run
);
async fn triggers_need_the_token_and_an_idempotency_key_returns_the_same_run(backend: Backend) {
    let mut env = TestEnv::without_worker_on(backend, 50, 5).await;
    env.apply(&env.write_definitions("")).await;
    let api = env.start_scheduler().await;
    let http = reqwest::Client::new();
    let trigger = format!("{api}/api/v1/integrations/customers/runs");

    let anonymous = http.post(&trigger).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert!(anonymous.json::<Value>().await.unwrap()["error"].is_string());
    let wrong = http
        .post(&trigger)
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);

    let post = |key: &'static str| {
        http.post(&trigger)
            .bearer_auth(TOKEN)
            .header("Idempotency-Key", key)
            .json(&json!({"mode": "full"}))
            .send()
    };
    let first = post("order-42").await.unwrap();
    assert_eq!(first.status(), 202);
    let first: Value = first.json().await.unwrap();
    let again: Value = post("order-42").await.unwrap().json().await.unwrap();
    assert_eq!(first["run_id"], again["run_id"]);

    env.start_worker();
    let run_id = first["run_id"].as_i64().unwrap();
    let run = ferry_scheduler::cli::wait_for(&env.db, run_id, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        (run.status.as_str(), run.mode.as_str()),
        ("succeeded", "full")
    );
    // The key still answers with its run after the run ended.
    let later: Value = post("order-42").await.unwrap().json().await.unwrap();
    assert_eq!(later["run_id"], first["run_id"]);

    let api = Api::new(&api);
    let status: Value = api.get_json(&format!("/api/v1/runs/{run_id}")).await;
    assert_eq!(
        (status["status"].as_str(), status["inserted"].as_i64()),
        (Some("succeeded"), Some(50))
    );
    let listed: Vec<Value> = api.get_json("/api/v1/runs?integration=customers").await;
    assert_eq!(listed.len(), 1);
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    bad_input_gets_a_json_4xx_never_a_500
);
async fn bad_input_gets_a_json_4xx_never_a_500(backend: Backend) {
    let mut env = TestEnv::without_worker_on(backend, 5, 1).await;
    env.apply(&env.write_definitions("")).await;
    let api = env.start_scheduler().await;
    ferry_scheduler::cli::trigger(&env.db, &env.settings, "customers", Mode::Incremental)
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let cases = [
        (
            http.post(format!("{api}/api/v1/integrations/nope/runs")),
            404,
        ),
        (
            http.post(format!("{api}/api/v1/integrations/customers/runs"))
                .body("{not json"),
            400,
        ),
        (
            http.post(format!("{api}/api/v1/integrations/customers/runs"))
                .json(&json!({"mode": "sideways"})),
            400,
        ),
        (
            http.post(format!("{api}/api/v1/integrations/customers/runs"))
                .json(&json!({"callback_url": "ftp://x"})),
            400,
        ),
        // An incremental run is queued below; a reconcile cannot join it.
        (
            http.post(format!("{api}/api/v1/integrations/customers/runs"))
                .json(&json!({"mode": "reconcile"})),
            409,
        ),
        (http.get(format!("{api}/api/v1/runs/abc")), 400),
        (http.get(format!("{api}/api/v1/runs/999999")), 404),
        (http.get(format!("{api}/api/v1/runs?limit=many")), 400),
        (http.get(format!("{api}/api/v1/nothing")), 404),
    ];
    for (request, expected) in cases {
        let response = request.bearer_auth(TOKEN).send().await.unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert_eq!(status, expected, "{body}");
        assert!(body["error"].is_string(), "JSON error body: {body}");
    }
    let api = Api::new(&api);
    assert_eq!(api.anonymous_status("/healthz").await, 200);
    assert_eq!(api.anonymous_status("/readyz").await, 200);
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    metrics_and_queue_depth_describe_the_runs
);
async fn metrics_and_queue_depth_describe_the_runs(backend: Backend) {
    let mut env = TestEnv::start_on(backend, 30, 3).await;
    env.apply(&env.write_definitions("")).await;
    let api = env.start_scheduler().await;
    let run = env
        .run("customers", ferry_shared::runs::Mode::Incremental)
        .await;
    assert_eq!(run.status, "succeeded");
    let api = Api::new(&api);
    assert_eq!(api.anonymous_status("/metrics").await, 401);
    let metrics = api.get("/metrics").await.text().await.unwrap();
    for line in [
        "ferry_queue_depth{state=\"queued\"} 0",
        "ferry_queue_depth{state=\"running\"} 0",
        "ferry_runs_total{integration=\"customers\",status=\"succeeded\"} 1",
        "ferry_rows_total{integration=\"customers\",op=\"inserted\"} 30",
        "ferry_run_duration_seconds_count 1",
        "ferry_run_duration_seconds_bucket{le=\"7200\"} 1",
        "ferry_run_duration_seconds_bucket{le=\"+Inf\"} 1",
        "ferry_workers 1",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "missing {line:?} in\n{metrics}"
        );
    }
    assert!(
        metrics.contains(
            "ferry_integration_last_success_timestamp_seconds{integration=\"customers\"}"
        )
    );

    let depth: Value = api.get_json("/api/v1/queue").await;
    assert_eq!(depth["queued"], 0);
    assert_eq!(depth["workers"].as_array().unwrap().len(), 1);
    assert_eq!(depth["workers"][0]["alive"], true);
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    a_finished_run_posts_its_signed_summary_to_the_callback
);
async fn a_finished_run_posts_its_signed_summary_to_the_callback(backend: Backend) {
    let (received, mut inbox) = mpsc::channel::<(HeaderMap, Bytes)>(4);
    let receiver = Router::new().route(
        "/done",
        post(move |headers: HeaderMap, body: Bytes| {
            let received = received.clone();
            async move {
                let _ = received.send((headers, body)).await;
                "thanks"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let callback = format!("http://{}/done", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, receiver).await });

    let mut env = TestEnv::start_on(backend, 40, 2).await;
    env.apply(&env.write_definitions("")).await;
    let api = env.start_scheduler().await;
    let response = Api::new(&api)
        .post_json(
            "/api/v1/integrations/customers/runs",
            json!({ "callback_url": callback }),
        )
        .await;
    let run_id = response["run_id"].as_i64().unwrap();

    let (headers, body) = tokio::time::timeout(Duration::from_secs(60), inbox.recv())
        .await
        .expect("callback arrives")
        .unwrap();
    let summary: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(summary["run_id"].as_i64(), Some(run_id));
    assert_eq!(summary["status"], "succeeded");
    assert_eq!(summary["inserted"], 40);
    let secret = secrecy::SecretString::from("test-callback-secret".to_string());
    assert_eq!(
        headers.get(SIGNATURE_HEADER).unwrap().to_str().unwrap(),
        signature(&secret, &body)
    );
    let mut status = None;
    for _ in 0..250 {
        status = ferry_shared::runs::get(&env.db, run_id)
            .await
            .unwrap()
            .unwrap()
            .callback_status;
        if status.as_deref() == Some("delivered") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status.as_deref(), Some("delivered"));
    server.abort();
    env.finish().await;
}

/// The API's edges (issue 20, item 10): the `Bearer` scheme in any case; a wrong method and a body too
/// large answer JSON like every other error; a callback into the scheduler's own network is refused
/// unless `api.allow_private_callbacks`; an `Idempotency-Key` stands for one integration and one mode.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_apis_edges_answer_json_and_refuse_what_they_should() {
    let mut env = TestEnv::without_worker(5, 0).await;
    env.settings.api.allow_private_callbacks = false;
    env.apply(&env.write_definitions("")).await;
    let base = env.start_scheduler().await;
    let http = reqwest::Client::new();
    let runs = format!("{base}/api/v1/integrations/customers/runs");

    let lower = http
        .get(format!("{base}/api/v1/runs"))
        .header("Authorization", format!("bearer {TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        lower.status().as_u16(),
        200,
        "RFC 7235: the scheme is case-insensitive"
    );

    let wrong_method = http.delete(&runs).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(wrong_method.status().as_u16(), 405);
    assert!(
        wrong_method.headers().contains_key("allow"),
        "405 keeps Allow"
    );
    let answer: Value = wrong_method.json().await.expect("a 405 answers JSON");
    assert!(answer["error"].is_string(), "{answer}");

    // Just past the limit, then nothing more until the answer: a body still being written when the
    // server answers and closes would race the answer against a connection reset.
    let past_the_limit = futures::stream::iter(
        std::iter::repeat_n(64 * 1024, 33).map(|n| Ok::<_, std::io::Error>(vec![b' '; n])),
    )
    .chain(futures::stream::pending());
    let too_large = tokio::time::timeout(
        Duration::from_secs(30),
        http.post(&runs)
            .bearer_auth(TOKEN)
            .header("Content-Type", "application/json")
            .body(reqwest::Body::wrap_stream(past_the_limit))
            .send(),
    )
    .await
    .expect("the server answers before the body ends")
    .unwrap();
    assert_eq!(too_large.status().as_u16(), 413);
    let answer: Value = too_large.json().await.expect("a 413 answers JSON");
    assert!(answer["error"].is_string(), "{answer}");

    for private in [
        "http://127.0.0.1:9/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://localhost:9/hook",
        "http://[::1]:9/hook",
    ] {
        let refused = http
            .post(&runs)
            .bearer_auth(TOKEN)
            .json(&json!({ "callback_url": private }))
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status().as_u16(), 400, "{private}");
        let answer: Value = refused.json().await.unwrap();
        assert!(
            answer["error"]
                .as_str()
                .is_some_and(|e| e.contains("allow_private_callbacks")),
            "{private}: {answer}"
        );
    }

    let keyed = |mode: &'static str, key: &'static str| {
        http.post(&runs)
            .bearer_auth(TOKEN)
            .header("Idempotency-Key", key)
            .json(&json!({ "mode": mode }))
            .send()
    };
    assert_eq!(
        keyed("incremental", "k-1").await.unwrap().status().as_u16(),
        202
    );
    let other_mode = keyed("full", "k-1").await.unwrap();
    assert_eq!(
        other_mode.status().as_u16(),
        422,
        "a key stands for one mode"
    );
    let answer: Value = other_mode.json().await.unwrap();
    assert!(
        answer["error"]
            .as_str()
            .is_some_and(|e| e.contains("incremental")),
        "{answer}"
    );
    assert_eq!(
        keyed("incremental", "").await.unwrap().status().as_u16(),
        400
    );

    let missing = env.ferry(&["errors", "999999"]).output().unwrap();
    assert!(
        !missing.status.success(),
        "errors of a run that does not exist fail"
    );
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("run 999999 does not exist"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
    env.finish().await;
}
