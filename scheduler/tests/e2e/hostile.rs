//! Servers that would loop or crash a worker (issue 21, item 5): a next-link cycle longer than one page
//! fails the run within seconds instead of reading for ever, and an absurd `Retry-After` is believed
//! only up to a day (the run waits to retry, the worker lives on); a server's error text reaches the
//! run record with its control characters escaped; a row version past any sane value fails the run
//! instead of becoming the checkpoint.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use ferry_scheduler::cli;
use ferry_shared::runs::Mode;
use serde_json::json;

use ferry_shared::checkpoint;

use crate::helpers::{Backend, TestEnv};
use crate::odata_service::METADATA;
use crate::on_both_backends;
use crate::raw_service::RawService;

/// How the hostile service answers the entity set.
#[derive(Clone, Copy)]
enum Hostility {
    /// Page 1 links to 2, 2 to 3, 3 back to 2.
    LinkCycle,
    /// Every request: 429 with `Retry-After: u64::MAX`.
    EndlessRetryAfter,
    /// Every request: a 400 whose OData error message carries terminal escapes (clear screen, bell).
    EscapesInError,
}

async fn serve(hostility: Hostility, requests: Arc<AtomicUsize>) -> SocketAddr {
    async fn metadata() -> impl IntoResponse {
        ([(header::CONTENT_TYPE, "application/xml")], METADATA)
    }
    async fn products(
        State((hostility, requests)): State<(Hostility, Arc<AtomicUsize>)>,
        Query(query): Query<std::collections::HashMap<String, String>>,
    ) -> Response {
        requests.fetch_add(1, Ordering::SeqCst);
        match hostility {
            Hostility::EndlessRetryAfter => (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, u64::MAX.to_string())],
                "slow down",
            )
                .into_response(),
            Hostility::EscapesInError => (
                StatusCode::BAD_REQUEST,
                axum::Json(
                    json!({ "error": { "code": "X", "message": "bad\u{1b}[2J request\u{7}" } }),
                ),
            )
                .into_response(),
            Hostility::LinkCycle => {
                let page: u32 = query
                    .get("$skiptoken")
                    .and_then(|t| t.parse().ok())
                    .unwrap_or(1);
                let next = if page == 3 { 2 } else { page + 1 };
                let rows: Vec<_> = (0..2)
                    .map(|n| {
                        let code = format!("P{page}-{n}");
                        json!({ "Code": code, "Title": "t", "Price": 1.0, "Version": page.to_string() })
                    })
                    .collect();
                axum::Json(json!({
                    "value": rows,
                    "@odata.nextLink": format!("Products?$skiptoken={next}"),
                }))
                .into_response()
            }
        }
    }
    let app = Router::new()
        .route("/svc/$metadata", get(metadata))
        .route("/svc/Products", get(products))
        .with_state((hostility, requests));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// No sign-in, for a service that asks for none.
const NO_SIGN_IN: &str = r#"flow = "none""#;

/// An OData connection to `service` signing in as `auth` says (the `[connection.auth]` lines), and an
/// integration of its products.
pub(crate) fn definitions(env: &TestEnv, service: SocketAddr, auth: &str) -> std::path::PathBuf {
    let file = env.dir.join("hostile.toml");
    std::fs::write(
        &file,
        format!(
            r#"
[[connection]]
name = "hostile"
kind = "odata"
url = "http://{service}/svc"
[connection.auth]
{auth}

[[integration]]
name = "products"
connection = "hostile"
source = {{ entity = "Products", key = ["Code"], version = "Version" }}
target = {{ table = "product", key = ["code"], create = true }}
fields = [{{ from = "Code", to = "code" }}, {{ from = "Version", to = "version" }}]
"#
        ),
    )
    .unwrap();
    file
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_next_link_cycle_fails_the_run_within_seconds() {
    let requests = Arc::new(AtomicUsize::new(0));
    let service = serve(Hostility::LinkCycle, requests.clone()).await;
    let env = TestEnv::start(1, 1).await;
    env.apply(&definitions(&env, service, NO_SIGN_IN)).await;

    let started = Instant::now();
    let run = env.run("products", Mode::Incremental).await;
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(run.status, "failed", "{run:?}");
    let error = run.error.unwrap_or_default();
    assert!(
        error.contains("leads back to a page already read"),
        "{error}"
    );
    assert_eq!(
        requests.load(Ordering::SeqCst),
        4,
        "the high-water query (a first load), then pages 1, 2 and 3 once each; the link back to 2 \
         is not followed"
    );
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_retry_after_is_believed_only_up_to_a_day() {
    let requests = Arc::new(AtomicUsize::new(0));
    let service = serve(Hostility::EndlessRetryAfter, requests.clone()).await;
    let env = TestEnv::start(1, 1).await;
    env.apply(&definitions(&env, service, NO_SIGN_IN)).await;

    let run_id = cli::trigger(&env.db, &env.settings, "products", Mode::Incremental)
        .await
        .unwrap();
    env.wait_until(run_id, "the busy attempt is handed back to retry", |run| {
        run.status == "queued" && run.retry_at.is_some()
    })
    .await;
    let run = ferry_shared::runs::get(&env.db, run_id)
        .await
        .unwrap()
        .unwrap();
    let retry_at = run.retry_at.unwrap();
    let wait = retry_at.signed_duration_since(chrono::Utc::now());
    assert!(
        wait > chrono::Duration::hours(23) && wait <= chrono::Duration::hours(25),
        "Retry-After u64::MAX is taken as a day: retry in {wait}"
    );
    // The worker lived through it: another integration's run still executes.
    env.apply(&env.write_definitions("")).await;
    let other = env.run("customers", Mode::Incremental).await;
    assert_eq!(other.status, "succeeded", "{other:?}");
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_servers_error_text_reaches_the_record_with_control_characters_escaped() {
    let requests = Arc::new(AtomicUsize::new(0));
    let service = serve(Hostility::EscapesInError, requests).await;
    let env = TestEnv::start(1, 1).await;
    env.apply(&definitions(&env, service, NO_SIGN_IN)).await;
    let run = env.run("products", Mode::Incremental).await;
    assert_eq!(run.status, "failed", "{run:?}");
    let error = run.error.unwrap_or_default();
    assert!(
        error.contains("bad\\u{1b}[2J request\\u{7}"),
        "escapes are shown, not passed on: {error:?}"
    );
    assert!(
        !error.contains('\u{1b}') && !error.contains('\u{7}'),
        "{error:?}"
    );
    env.finish().await;
}

/// Products with versions `versions`, one page.
fn products_page(versions: &[i64]) -> String {
    let rows: Vec<_> = versions
        .iter()
        .map(|v| json!({ "Code": format!("P{v}"), "Title": "t", "Price": 1.0, "Version": v.to_string() }))
        .collect();
    json!({ "value": rows }).to_string()
}

async fn a_version_past_any_sane_value_fails_the_run_and_keeps_the_checkpoint(backend: Backend) {
    let service = RawService::start(METADATA, &products_page(&[1, 2])).await;
    let env = TestEnv::start_on(backend, 1, 1).await;
    let file = env.dir.join("raw.toml");
    std::fs::write(
        &file,
        service.definitions(
            r#"
[[integration]]
name = "products"
connection = "raw"
source = { entity = "Products", key = ["Code"], version = "Version" }
target = { table = "product", key = ["code"], create = true }
fields = [{ from = "Code", to = "code" }, { from = "Version", to = "version" }]
"#,
        ),
    )
    .unwrap();
    env.apply(&file).await;
    let first = env.run("products", Mode::Incremental).await;
    assert_eq!(first.status, "succeeded", "{first:?}");

    service.set_body(&products_page(&[3, i64::MAX]));
    let poisoned = env.run("products", Mode::Incremental).await;
    assert_eq!(poisoned.status, "failed", "{poisoned:?}");
    let error = poisoned.error.clone().unwrap_or_default();
    assert!(
        error.contains("worker.max_version_jump") && error.contains(&i64::MAX.to_string()),
        "{error}"
    );
    let stored = checkpoint::load(&env.db, "products")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&stored.json).unwrap(),
        json!({ "kind": "version", "value": 2 }),
        "the checkpoint stays where the last sane page left it"
    );

    // Once the source is mended, the next run reads on from version 2.
    service.set_body(&products_page(&[3, 4]));
    let mended = env.run("products", Mode::Incremental).await;
    assert_eq!(
        (mended.status.as_str(), mended.inserted),
        ("succeeded", 2),
        "{mended:?}"
    );
    let queries = service.served.queries.lock().unwrap().clone();
    assert!(
        queries.last().unwrap().contains("Version gt 2"),
        "{queries:?}"
    );
    env.finish().await;
}
on_both_backends!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    a_version_past_any_sane_value_fails_the_run_and_keeps_the_checkpoint
);
