//! A refresh on SQLite holds no write lock across the token endpoint's HTTP call. The token endpoint
//! sits behind a gate that holds a refresh request until the test opens it; meanwhile another writer
//! (a trigger enqueuing a run) commits at once, and a second refresher waits for the first instead
//! of spending the rotating refresh token again.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use ferry_shared::odata::client::http_client;
use ferry_shared::runs::{Mode, NewRun};
use ferry_shared::source::Source;
use serde_json::json;
use tokio::sync::{Notify, mpsc};

use crate::auth::{connection, device_definitions, issued, sandbox, sign_in};
use crate::helpers::{Backend, TestEnv};

/// The identity endpoints, forwarded to the sandbox; while `armed`, a refresh-token request is held
/// (and reported on `arrived`) until `open` is notified.
struct Gate {
    upstream: String,
    armed: AtomicBool,
    arrived: mpsc::UnboundedSender<()>,
    open: Notify,
}

async fn forward(
    State(gate): State<Arc<Gate>>,
    Path((tenant, endpoint)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, Bytes) {
    let refresh = String::from_utf8_lossy(&body).contains("grant_type=refresh_token");
    if refresh && gate.armed.load(Ordering::SeqCst) {
        let _ = gate.arrived.send(());
        gate.open.notified().await;
    }
    let mut request = reqwest::Client::new()
        .post(format!("{}/{tenant}/oauth2/v2.0/{endpoint}", gate.upstream))
        .body(body);
    if let Some(kind) = headers.get("content-type") {
        request = request.header("content-type", kind.clone());
    }
    let answer = request.send().await.expect("the sandbox answers");
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
    (status, answer.bytes().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_token_endpoint_blocks_no_sqlite_writer_and_the_token_is_spent_once() {
    let env = TestEnv::with_sandbox_on(Backend::Sqlite, sandbox(1, |_| {})).await;
    let (arrived, mut arrivals) = mpsc::unbounded_channel();
    let gate = Arc::new(Gate {
        upstream: env.sandbox.base_url(),
        armed: AtomicBool::new(false),
        arrived,
        open: Notify::new(),
    });
    let app = Router::new()
        .route(
            "/{tenant}/oauth2/v2.0/{endpoint}",
            axum::routing::post(forward),
        )
        .with_state(gate.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let authority = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let file = device_definitions(&env);
    let text = std::fs::read_to_string(&file).unwrap().replace(
        &format!("authority = \"{}\"", env.sandbox.base_url()),
        &format!("authority = \"{authority}\""),
    );
    std::fs::write(&file, text).unwrap();
    env.apply(&file).await;
    sign_in(&env).await;
    assert_eq!(issued(&env, "refresh_tokens").await, 1);
    env.control("/_sandbox/tokens", json!({ "expire_access_tokens": true }))
        .await;
    gate.armed.store(true, Ordering::SeqCst);

    let def = Arc::new(connection(&env).await);
    let budgets = env.budgets();
    let refresh = |def: Arc<_>, credentials| {
        let budgets = budgets.clone();
        tokio::spawn(async move {
            Source::connect(&def, &credentials, &budgets, http_client(), 10)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    };
    let first = refresh(def.clone(), env.credentials());
    tokio::time::timeout(Duration::from_secs(30), arrivals.recv())
        .await
        .expect("the refresh reaches the token endpoint");

    // The refresh is inside its HTTP call now. Another writer commits without waiting for it.
    let enqueued = tokio::time::timeout(
        Duration::from_secs(5),
        ferry_shared::runs::enqueue(&env.db, &NewRun::manual("customers_dev", Mode::Incremental)),
    )
    .await;
    assert!(
        matches!(enqueued, Ok(Ok(_))),
        "a writer waited for the token endpoint: {enqueued:?}"
    );
    // A second refresher meets the same dead access token and waits for the first one's result.
    let second = refresh(def.clone(), env.credentials());

    gate.open.notify_waiters();
    gate.open.notify_one();
    for task in [first, second] {
        let done = tokio::time::timeout(Duration::from_secs(60), task)
            .await
            .expect("the refresh ends")
            .unwrap();
        assert_eq!(done, Ok(()));
    }
    assert!(
        arrivals.try_recv().is_err(),
        "only one refresh reached the token endpoint"
    );
    assert_eq!(
        issued(&env, "refresh_tokens").await,
        2,
        "the rotating refresh token was spent once"
    );
    env.finish().await;
}
