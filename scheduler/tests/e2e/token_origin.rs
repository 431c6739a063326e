//! Invariant 8: the access token goes only to the service it was issued for. An OData service signed
//! in with client credentials answers its first page with an absolute `@odata.nextLink` to a second
//! local port; the run fails naming both origins, and the second port never sees a request, let
//! alone the token.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use axum::routing::get;
use ferry_shared::runs::Mode;
use serde_json::{Value, json};

use crate::helpers::TestEnv;
use crate::odata_service::METADATA;

/// What a server saw: one entry per request, the `Authorization` header it carried (if any).
type Seen = Arc<Mutex<Vec<Option<String>>>>;

fn authorization(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or("<not text>").to_string())
}

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// Any request at all, on any path, is recorded.
async fn elsewhere(seen: Seen) -> SocketAddr {
    let app = Router::new().fallback(move |headers: HeaderMap| {
        let seen = seen.clone();
        async move {
            seen.lock().unwrap().push(authorization(&headers));
            axum::Json(json!({ "value": [] }))
        }
    });
    serve(app).await
}

/// `$metadata` and one page of products whose next link is `next` (absolute, another origin).
async fn service(seen: Seen, next: String) -> SocketAddr {
    async fn metadata(
        State((seen, _)): State<(Seen, String)>,
        headers: HeaderMap,
    ) -> impl IntoResponse {
        seen.lock().unwrap().push(authorization(&headers));
        ([(header::CONTENT_TYPE, "application/xml")], METADATA)
    }
    async fn products(
        State((seen, next)): State<(Seen, String)>,
        headers: HeaderMap,
    ) -> axum::Json<Value> {
        seen.lock().unwrap().push(authorization(&headers));
        let rows: Vec<Value> = (1..=3)
            .map(|n| json!({ "Code": format!("P{n}"), "Title": "t", "Price": 1.0, "Version": n.to_string() }))
            .collect();
        axum::Json(json!({ "value": rows, "@odata.nextLink": next }))
    }
    let app = Router::new()
        .route("/svc/$metadata", get(metadata))
        .route("/svc/Products", get(products))
        .with_state((seen, next));
    serve(app).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_next_link_to_another_origin_fails_the_run_and_never_gets_the_token() {
    let other_seen = Seen::default();
    let other = elsewhere(other_seen.clone()).await;
    let service_seen = Seen::default();
    let next = format!("http://{other}/svc/Products?$skiptoken=3");
    let service = service(service_seen.clone(), next).await;

    let env = TestEnv::start(1, 1).await;
    let file = env.dir.join("catalog.toml");
    std::fs::write(
        &file,
        format!(
            r#"
[[connection]]
name = "catalog"
kind = "odata"
url = "http://{service}/svc"
[connection.auth]
flow = "client_credentials"
authority = "{authority}"
tenant = "sandbox"
client_id = "ferry"
client_secret_env = "BC_SANDBOX_SECRET"
scope = "https://api.businesscentral.dynamics.com/.default"

[[integration]]
name = "products"
connection = "catalog"
source = {{ entity = "Products", key = ["Code"], version = "Version" }}
target = {{ table = "product", key = ["code"], create = true }}
fields = [
  {{ from = "Code", to = "code" }},
  {{ from = "Version", to = "version" }},
]
"#,
            authority = env.sandbox.base_url(),
        ),
    )
    .unwrap();
    env.apply(&file).await;

    let run = env.run("products", Mode::Incremental).await;

    let service_seen = service_seen.lock().unwrap().clone();
    assert!(
        service_seen
            .iter()
            .any(|a| a.as_deref().is_some_and(|a| a.starts_with("Bearer "))),
        "the service itself got the token: {service_seen:?}"
    );
    assert_eq!(
        *other_seen.lock().unwrap(),
        Vec::<Option<String>>::new(),
        "the other origin saw no request and no token"
    );
    assert_eq!(run.status, "failed", "{:?}", run.error);
    let error = run.error.unwrap_or_default();
    assert!(
        error.contains(&format!("http://{other}")) && error.contains(&format!("http://{service}")),
        "the error names both origins: {error}"
    );
    assert!(
        !error.contains("skiptoken"),
        "only origins are shown: {error}"
    );
    assert_eq!(
        run.attempt, 1,
        "not retried: following it would never be allowed"
    );
    env.finish().await;
}
