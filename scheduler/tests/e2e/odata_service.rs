//! A small generic OData v4 service (not Business Central) for the `kind = "odata"` tests: no company
//! segment, no sign-in, Int64 values as strings (IEEE754Compatible), relative next links, and a full
//! last page followed by an empty one, as some servers do.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::{Value, json};

pub const METADATA: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
  <edmx:DataServices>
    <Schema Namespace="Demo.Catalog" Alias="D" xmlns="http://docs.oasis-open.org/odata/ns/edm">
      <EntityType Name="Product">
        <Key><PropertyRef Name="Code"/></Key>
        <Property Name="Code" Type="Edm.String" Nullable="false" MaxLength="20"/>
        <Property Name="Title" Type="Edm.String"/>
        <Property Name="Price" Type="Edm.Decimal" Precision="12" Scale="2"/>
        <Property Name="Version" Type="Edm.Int64" Nullable="false"/>
      </EntityType>
      <EntityContainer Name="Container">
        <EntitySet Name="Products" EntityType="D.Product"/>
      </EntityContainer>
    </Schema>
  </edmx:DataServices>
</edmx:Edmx>"#;

/// Rows served, and every request's path and query (to assert what Ferry asked for).
#[derive(Debug, Default)]
pub struct ServiceState {
    pub rows: Vec<Value>,
    pub requests: Mutex<Vec<String>>,
}

pub struct ODataService {
    pub addr: SocketAddr,
    pub state: Arc<ServiceState>,
}

impl ODataService {
    /// Serves `count` products (versions 1..=count) in pages of `page` rows.
    pub async fn start(count: usize) -> ODataService {
        let rows = (1..=count)
            .map(|n| {
                json!({
                    "Code": format!("P{n:04}"),
                    "Title": format!("Product {n}"),
                    "Price": n as f64 * 1.25,
                    // Int64 as a string, as IEEE754Compatible=true servers send it.
                    "Version": (1_000_000_000_000i64 + n as i64).to_string(),
                })
            })
            .collect();
        let state = Arc::new(ServiceState {
            rows,
            requests: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route("/svc/$metadata", get(metadata))
            .route("/svc/Products", get(products))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        ODataService { addr, state }
    }

    pub fn root(&self) -> String {
        format!("http://{}/svc", self.addr)
    }
}

async fn metadata() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/xml")], METADATA)
}

/// Pages of `PAGE` rows with `$skiptoken`; the version filter (`Version gt N`) and a descending
/// order's top row are honoured. When the
/// rows run out exactly at a page boundary the last full page still carries a next link, whose page is
/// empty.
async fn products(
    State(state): State<Arc<ServiceState>>,
    Query(query): Query<Vec<(String, String)>>,
) -> impl IntoResponse {
    const PAGE: usize = 10;
    let get = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    state.requests.lock().unwrap().push(format!("{query:?}"));
    let above: i64 = get("$filter")
        .and_then(|f| f.rsplit("gt ").next().map(str::to_string))
        .and_then(|n| n.trim().trim_end_matches(')').parse().ok())
        .unwrap_or(0);
    let skip: usize = get("$skiptoken").and_then(|s| s.parse().ok()).unwrap_or(0);
    let matching: Vec<&Value> = state
        .rows
        .iter()
        .filter(|r| r["Version"].as_str().unwrap().parse::<i64>().unwrap() > above)
        .collect();
    // The high-water query of a first load (`$orderby=Version desc&$top=1`): rows are in version
    // order, so the last one.
    if get("$orderby").is_some_and(|o| o.ends_with(" desc")) {
        let top = matching.last().map(|v| (*v).clone());
        return axum::Json(
            json!({ "@odata.context": "$metadata#Products", "value": top.into_iter().collect::<Vec<_>>() }),
        );
    }
    let page: Vec<Value> = matching
        .iter()
        .skip(skip)
        .take(PAGE)
        .map(|v| (*v).clone())
        .collect();
    let mut body = json!({ "@odata.context": "$metadata#Products", "value": page });
    if page.len() == PAGE {
        let mut rest: Vec<(String, String)> = query
            .iter()
            .filter(|(k, _)| k != "$skiptoken")
            .cloned()
            .collect();
        rest.push(("$skiptoken".into(), (skip + PAGE).to_string()));
        let encoded = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(rest)
            .finish()
            .replace('+', "%20");
        // Relative to the service root.
        body["@odata.nextLink"] = Value::String(format!("Products?{encoded}"));
    }
    axum::Json(body)
}
