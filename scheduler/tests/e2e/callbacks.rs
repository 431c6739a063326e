//! Run callbacks: every trigger keeps its own `callback_url`, also one that joins a queued run, and
//! each is delivered when the run ends, signed with `api.callback_secret`. Without that secret a
//! trigger with a callback is refused, and a worker never signs with the API token instead.

use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::routing::post;
use ferry_shared::callback::{SIGNATURE_HEADER, signature};
use ferry_shared::runs::{Mode, NewRun};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::helpers::{API_TOKEN, Backend, TestEnv};

/// A callback receiver on a free port: its URL and what it was sent.
async fn receiver() -> (String, mpsc::UnboundedReceiver<(HeaderMap, Bytes)>) {
    let (received, inbox) = mpsc::unbounded_channel();
    let app = Router::new().route(
        "/done",
        post(move |headers: HeaderMap, body: Bytes| {
            let _ = received.send((headers, body));
            async { "thanks" }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/done", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, inbox)
}

async fn trigger(api: &str, body: Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{api}/api/v1/integrations/customers/runs"))
        .bearer_auth(API_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// The run's `callback_status`, once it stops being `pending` (bounded).
async fn settled_callback_status(env: &TestEnv, run_id: i64) -> Option<String> {
    let mut status = None;
    for _ in 0..500 {
        status = ferry_shared::runs::get(&env.db, run_id)
            .await
            .unwrap()
            .unwrap()
            .callback_status;
        if status.as_deref().is_some_and(|s| s != "pending") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    status
}

crate::on_both_backends!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    every_trigger_joining_a_queued_run_gets_its_own_signed_callback
);
async fn every_trigger_joining_a_queued_run_gets_its_own_signed_callback(backend: Backend) {
    let (first_url, mut first) = receiver().await;
    let (second_url, mut second) = receiver().await;
    let mut env = TestEnv::without_worker_on(backend, 20, 2).await;
    env.apply(&env.write_definitions("")).await;
    let api = env.start_scheduler().await;

    let a: Value = trigger(&api, json!({ "callback_url": first_url }))
        .await
        .json()
        .await
        .unwrap();
    let b: Value = trigger(&api, json!({ "callback_url": second_url }))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        a["run_id"], b["run_id"],
        "the second trigger joined the queued run"
    );
    let run_id = a["run_id"].as_i64().unwrap();
    env.start_worker();

    let secret = secrecy::SecretString::from("test-callback-secret".to_string());
    for inbox in [&mut first, &mut second] {
        let (headers, body) = tokio::time::timeout(Duration::from_secs(60), inbox.recv())
            .await
            .expect("each caller's callback arrives")
            .unwrap();
        let summary: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            (summary["run_id"].as_i64(), summary["status"].as_str()),
            (Some(run_id), Some("succeeded"))
        );
        assert_eq!(
            headers.get(SIGNATURE_HEADER).unwrap().to_str().unwrap(),
            signature(&secret, &body)
        );
    }
    assert_eq!(
        settled_callback_status(&env, run_id).await.as_deref(),
        Some("delivered")
    );
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_callback_secret_a_callback_is_refused_and_never_signed_with_the_api_token() {
    let (url, mut inbox) = receiver().await;
    let mut env = TestEnv::without_worker(5, 1).await;
    env.settings.api.callback_secret = None;
    env.apply(&env.write_definitions("")).await;
    let api = env.start_scheduler().await;

    let refused = trigger(&api, json!({ "callback_url": url })).await;
    assert_eq!(refused.status(), 400);
    let error = refused.json::<Value>().await.unwrap()["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        error.contains("api.callback_secret") && error.contains("FERRY__API__CALLBACK_SECRET"),
        "{error}"
    );
    assert!(!error.contains(API_TOKEN));
    assert_eq!(
        trigger(&api, json!({})).await.status(),
        202,
        "no callback, no secret needed"
    );

    // A callback that reached the queue some other way (an older scheduler, a library caller) meets a
    // worker without the secret: nothing is sent, and the outcome says why.
    let mut new = NewRun::manual("customers", Mode::Incremental);
    new.callback_url = Some(url);
    let run_id = ferry_shared::runs::enqueue(&env.db, &new)
        .await
        .unwrap()
        .run_id;
    env.start_worker();
    let run = ferry_scheduler::cli::wait_for(&env.db, run_id, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(run.status, "succeeded", "{:?}", run.error);
    let status = settled_callback_status(&env, run_id)
        .await
        .unwrap_or_default();
    assert!(status.contains("no api.callback_secret"), "{status}");
    assert!(
        inbox.try_recv().is_err(),
        "nothing was sent, least of all signed with the API token"
    );
    env.finish().await;
}
