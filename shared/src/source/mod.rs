//! Connectors: how Ferry reads an external system (ARCHITECTURE.md, "Outside facts"). Every supported kind is an OData v4
//! service, so one `Source` does the reading and paging; a kind only decides where entity sets live
//! beneath the service root (Business Central: inside a company; Dataverse: under the environment's
//! Web API root; generic OData: directly).

mod business_central;
mod dataverse;
pub mod discovered;
mod pages;

use std::sync::Arc;

use url::Url;

use crate::auth::TokenSource;
use crate::budget::{Budget, Budgets};
use crate::definitions::{ConnectionDef, ConnectionKind, DEFAULT_CONNECT_TIMEOUT_SECS};
use crate::odata::client::{ODataClient, SourceError, Waits, http_client_connecting_within};
use crate::odata::csdl::Metadata;
use crate::odata::prefer::Preference;
use crate::odata::query::Query;
use crate::secrets::Credentials;

pub use pages::Pages;

/// A signed-in view of one connection's entity sets.
#[derive(Debug, Clone)]
pub struct Source {
    client: ODataClient,
    /// Path from the service root to the entity sets: `companies(<guid>)/` for BC, empty for OData.
    entity_prefix: String,
}

impl Source {
    /// Signs in (lazily, on the first request) and, for BC, resolves the company once so later
    /// requests address it by id. Every request it sends counts against the connection's budget in
    /// `budgets`, waiting for a slot at most the connection's `timeout_secs`.
    pub async fn connect(
        connection: &ConnectionDef,
        credentials: &Credentials,
        budgets: &Budgets,
        http: reqwest::Client,
        page_size: u32,
    ) -> Result<Source, SourceError> {
        let tokens = Arc::new(TokenSource::for_connection(connection, credentials).await?);
        // The shared client connects within the default limit; a connection with its own gets its own.
        let http = match connection.connect_timeout_secs {
            Some(secs) if secs != DEFAULT_CONNECT_TIMEOUT_SECS => {
                http_client_connecting_within(connection.connect_timeout())
            }
            _ => http,
        };
        let service_root = match connection.kind {
            ConnectionKind::Dataverse => dataverse::service_root(&connection.url),
            ConnectionKind::BusinessCentral | ConnectionKind::Odata => connection.url.clone(),
        };
        let gate = budgets.gate(
            &connection.name,
            Budget::of(connection),
            connection.timeout(),
        );
        let client = ODataClient::new(
            http,
            &service_root,
            tokens,
            page_size,
            connection.timeout(),
            gate,
        )?;
        let entity_prefix = match connection.kind {
            ConnectionKind::BusinessCentral => {
                let company = connection.company.as_deref().unwrap_or_default();
                format!(
                    "{}/",
                    business_central::company_path(&client, company).await?
                )
            }
            ConnectionKind::Odata | ConnectionKind::Dataverse => String::new(),
        };
        Ok(Source {
            client,
            entity_prefix,
        })
    }

    /// The service's `$metadata` (the service root's, for BC the custom API's).
    pub async fn metadata(&self) -> Result<Metadata, SourceError> {
        self.client.metadata().await
    }

    /// Requests this source (and its clones) repeated because the service was busy, and the time
    /// spent waiting for them.
    pub fn waits(&self) -> Waits {
        self.client.waits()
    }

    /// Reads `entity` with `query` (its `$select`, `$filter`, `$orderby` and `$top`), a page at a time,
    /// every page asked with the query's preferences.
    pub fn read(&self, entity: &str, query: &Query) -> Pages {
        let source = Source {
            client: self.client.preferring(&query.prefer),
            entity_prefix: self.entity_prefix.clone(),
        };
        Pages::new(source, self.entity_url(entity, query))
    }

    /// Follows a delta link a tracked read handed out (`read` with `Preference::TrackChanges`): what
    /// changed since, a page at a time, with a new delta link on the last page, asked with
    /// `preferences`. The link must lie beneath this source's service root, like any link a token is
    /// sent to.
    pub fn follow(
        &self,
        delta_link: &str,
        preferences: &[Preference],
    ) -> Result<Pages, SourceError> {
        let link = self.client.link(delta_link)?;
        Ok(Pages::new(
            Source {
                client: self.client.preferring(preferences),
                entity_prefix: self.entity_prefix.clone(),
            },
            link,
        ))
    }

    /// The URL of `entity`'s collection (where a create is POSTed).
    pub fn collection_url(&self, entity: &str) -> Url {
        self.client
            .url(&format!("{}{entity}", self.entity_prefix), "")
    }

    /// The URL of one record of `entity`, by its key predicate (`odata::key::predicate`).
    pub fn record_url(&self, entity: &str, predicate: &str) -> Url {
        self.client
            .url(&format!("{}{entity}{predicate}", self.entity_prefix), "")
    }

    /// One record as JSON (with its `@odata.etag`); `None` when the service says it does not exist.
    pub async fn record(&self, url: &Url) -> Result<Option<serde_json::Value>, SourceError> {
        match self.client.json(url).await {
            Ok(value) => Ok(Some(value)),
            Err(SourceError::Http { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Sends writes as one JSON `$batch` (`ODataClient::batch`).
    pub async fn batch(
        &self,
        operations: &[crate::odata::batch::Operation],
        headers: Vec<(&'static str, String)>,
    ) -> Result<Vec<crate::odata::batch::Answer>, SourceError> {
        self.client.batch(operations, headers).await
    }

    /// Sends writes as one `multipart/mixed` `$batch`, the format Dataverse takes
    /// (`ODataClient::batch_multipart`).
    pub async fn batch_multipart(
        &self,
        operations: &[crate::odata::batch::Operation],
        continue_on_error: bool,
    ) -> Result<Vec<crate::odata::batch::Answer>, SourceError> {
        self.client
            .batch_multipart(operations, continue_on_error)
            .await
    }

    /// The first page URL of `entity` with `query`.
    fn entity_url(&self, entity: &str, query: &Query) -> Url {
        self.client.url(
            &format!("{}{entity}", self.entity_prefix),
            &query.to_query_string(),
        )
    }
}
