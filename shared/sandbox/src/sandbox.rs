//! A running sandbox server.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::SandboxConfig;
use crate::model::{HeldMutation, MutateRequest, MutateResponse, SchemaChange};
use crate::odata::serialize::plain_row;
use crate::routes;
use crate::state::AppState;

/// A sandbox serving on a local port. Dropping it stops the server task.
#[derive(Debug)]
pub struct Sandbox {
    addr: SocketAddr,
    state: Arc<AppState>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Sandbox {
    /// Binds `listen` (port 0 allowed), generates the data, spawns the server on the current tokio
    /// runtime, and returns once it accepts connections.
    pub async fn start(listen: SocketAddr, config: SandboxConfig) -> anyhow::Result<Sandbox> {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("binding {listen}"))?;
        let mut addr = listener.local_addr()?;
        if addr.ip().is_unspecified() {
            addr.set_ip(IpAddr::V4(Ipv4Addr::LOCALHOST));
        }
        let base_url = format!("http://{addr}");
        // Generating a million rows takes a while; keep it off the async worker threads.
        let state = tokio::task::spawn_blocking(move || AppState::new(config, base_url))
            .await
            .context("generating sandbox data")?;
        let state = Arc::new(state);
        let app = routes::router(state.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = rx.await;
            });
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "sandbox server failed");
            }
        });
        tracing::info!(%addr, "sandbox listening");
        Ok(Sandbox {
            addr,
            state,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, also the OAuth authority.
    pub fn base_url(&self) -> String {
        self.state.base_url.clone()
    }

    /// The Resco API service root.
    pub fn resco_url(&self) -> String {
        format!(
            "{}/v2.0/{}/{}/{}",
            self.state.base_url,
            self.state.config.tenant,
            self.state.config.environment,
            routes::api::API_PATH
        )
    }

    /// The standard API v2.0 service root (`…/api/v2.0`).
    pub fn standard_url(&self) -> String {
        format!(
            "{}/v2.0/{}/{}/{}",
            self.state.base_url,
            self.state.config.tenant,
            self.state.config.environment,
            routes::api::STANDARD_PATH
        )
    }

    /// The ODataV4 service root (`…/ODataV4`); pages live under `Company('CRONUS USA, Inc.')/`.
    pub fn odata_v4_url(&self) -> String {
        format!(
            "{}/v2.0/{}/{}/{}",
            self.state.base_url,
            self.state.config.tenant,
            self.state.config.environment,
            routes::odatav4::PATH
        )
    }

    /// The Dataverse environment URL (`http://127.0.0.1:PORT`, the sandbox itself).
    pub fn dataverse_environment_url(&self) -> String {
        self.state.base_url.clone()
    }

    /// The Dataverse Web API service root, `{environment URL}/api/data/v9.2/`.
    pub fn dataverse_url(&self) -> String {
        format!("{}/{}/", self.state.base_url, routes::dataverse::PATH)
    }

    /// The scope a Dataverse token is asked for: `{environment URL}/.default`. A token for BC's
    /// scope does not open the Dataverse routes, nor this one BC's.
    pub fn dataverse_scope(&self) -> String {
        format!("{}/.default", self.state.base_url)
    }

    /// Makes every Dataverse delta token issued so far expired (as if `ExpireChangeTrackingInDays`
    /// had passed): following its link answers ExpiredVersionStamp (0x80044352). Same as
    /// `POST /_sandbox/dataverse/expire_tokens`.
    pub fn expire_delta_tokens(&self) {
        self.state.write().expire_delta_tokens();
    }

    /// Changes Dataverse's service protection limits at run time (same as
    /// `POST /_sandbox/dataverse/limits`).
    pub fn set_dataverse_limits(&self, limits: crate::faults::Limits) {
        self.state.dataverse_limiter.set_limits(limits);
    }

    /// Every row of `entity` (API property names, no `@odata.etag`), ordered by key; empty for an
    /// unknown entity. A Dataverse entity set name (`accounts`) names its table too.
    pub fn rows(&self, entity: &str) -> Vec<serde_json::Map<String, serde_json::Value>> {
        let store = self.state.read();
        store
            .table(entity)
            .or_else(|| {
                crate::model::dataverse::logical_of(entity).and_then(|logical| store.table(logical))
            })
            .map(|t| t.rows.values().map(|r| plain_row(t.schema, r)).collect())
            .unwrap_or_default()
    }

    /// The data requests served so far, oldest first, as `METHOD path?query` (same as
    /// `GET /_sandbox/requests`).
    pub fn requests(&self) -> Vec<String> {
        self.state.requests.lines()
    }

    /// Forgets the requests served so far (same as `DELETE /_sandbox/requests`).
    pub fn clear_requests(&self) {
        self.state.requests.clear();
    }

    /// Charges `us_per_row` microseconds per row of an entity to a query ordered by its version
    /// field (same as `POST /_sandbox/sort_cost`).
    pub fn set_sort_cost(&self, us_per_row: u64) {
        self.state.sort_cost.set(us_per_row);
    }

    /// Same as `POST /_sandbox/mutate`.
    pub fn mutate(&self, request: MutateRequest) -> anyhow::Result<MutateResponse> {
        Ok(self.state.write().mutate(&request)?)
    }

    /// A late commit (ARCHITECTURE.md, "Late commits"): inserted and updated rows take their row versions now but stay
    /// invisible until [`Sandbox::release`], so rows written afterwards become visible first with
    /// higher versions. Same as `POST /_sandbox/mutate` with `"hold": true`.
    pub fn mutate_held(&self, request: MutateRequest) -> anyhow::Result<HeldMutation> {
        Ok(self.state.write().mutate_held(&request)?)
    }

    /// Commits one held mutation (`None`: every one); returns the hold ids released.
    pub fn release(&self, hold_id: Option<u64>) -> Vec<u64> {
        self.state.write().release(hold_id)
    }

    /// Same as `POST /_sandbox/schema`: later responses and `$metadata` follow the new schema.
    pub fn change_schema(&self, change: SchemaChange) -> anyhow::Result<()> {
        self.state
            .write()
            .change_schema(&change)
            .map_err(|e| anyhow::anyhow!("Failed to change the schema: {e}"))
    }

    /// Stops serving: in-flight requests finish (bounded by a grace period), then the task ends.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(Duration::from_secs(5), &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
