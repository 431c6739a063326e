//! An OData service on loopback whose `$metadata` and entity-set body are text the test writes, byte
//! for byte: what no JSON library would produce (a lone UTF-16 surrogate, a number past `f64`) can be
//! served as a real service would. Every request's query is kept, to see what Ferry asked for.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

/// What the service answers; the test may change it between runs.
#[derive(Debug, Default)]
pub struct Served {
    pub metadata: Mutex<String>,
    /// The whole body of `GET /svc/{entity set}` (one page, no next link unless the text has one).
    pub body: Mutex<String>,
    /// The query of each entity-set request, percent-decoded.
    pub queries: Mutex<Vec<String>>,
}

pub struct RawService {
    pub addr: SocketAddr,
    pub served: Arc<Served>,
}

impl RawService {
    /// Serves `metadata` at `/svc/$metadata` and `body` for every entity set beneath `/svc/`. The
    /// server lives as long as the test's runtime.
    pub async fn start(metadata: &str, body: &str) -> RawService {
        let served = Arc::new(Served {
            metadata: Mutex::new(metadata.to_string()),
            body: Mutex::new(body.to_string()),
            queries: Mutex::default(),
        });
        let app = Router::new()
            .route("/svc/$metadata", get(metadata_route))
            .route("/svc/{set}", get(entity_set))
            .with_state(served.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        RawService { addr, served }
    }

    pub fn set_body(&self, body: &str) {
        *self.served.body.lock().unwrap() = body.to_string();
    }

    /// A `[[connection]]` named `raw` (no sign-in) to this service, followed by `integrations`.
    pub fn definitions(&self, integrations: &str) -> String {
        format!(
            r#"
[[connection]]
name = "raw"
kind = "odata"
url = "http://{}/svc"
[connection.auth]
flow = "none"
{integrations}"#,
            self.addr
        )
    }
}

async fn metadata_route(State(served): State<Arc<Served>>) -> impl IntoResponse {
    let text = served.metadata.lock().unwrap().clone();
    ([(header::CONTENT_TYPE, "application/xml")], text)
}

async fn entity_set(
    State(served): State<Arc<Served>>,
    Query(query): Query<Vec<(String, String)>>,
) -> impl IntoResponse {
    let decoded: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    served.queries.lock().unwrap().push(decoded.join("&"));
    let text = served.body.lock().unwrap().clone();
    ([(header::CONTENT_TYPE, "application/json")], text)
}
