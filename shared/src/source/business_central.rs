//! Business Central: a company-scoped OData v4 service (`…/companies({id})/{entity}`).

use std::sync::Arc;

use serde_json::Value;
use url::Url;

use crate::auth::TokenSource;
use crate::definitions::ConnectionDef;
use crate::odata::client::{ODataClient, Page, SourceError};
use crate::odata::csdl::Metadata;
use crate::odata::query::{Query, string_literal};

/// A signed-in view of one BC company.
#[derive(Debug, Clone)]
pub struct BusinessCentral {
    client: ODataClient,
    /// `companies(<guid>)`, resolved once from the company name.
    company_path: String,
}

impl BusinessCentral {
    /// Resolves the company (a GUID is used as is; a name is looked up) so later requests address it by id.
    pub async fn connect(
        connection: &ConnectionDef,
        http: reqwest::Client,
        page_size: u32,
    ) -> Result<BusinessCentral, SourceError> {
        let tokens = Arc::new(TokenSource::new(&connection.name, &connection.auth)?);
        let client = ODataClient::new(http, &connection.url, tokens, page_size)?;
        let company = connection.company.as_deref().unwrap_or_default();
        let id = match uuid::Uuid::parse_str(company) {
            Ok(id) => id.to_string(),
            Err(_) => find_company(&client, company).await?,
        };
        Ok(BusinessCentral {
            client,
            company_path: format!("companies({id})"),
        })
    }

    pub async fn metadata(&self) -> Result<Metadata, SourceError> {
        self.client.metadata().await
    }

    /// The first page URL of `entity` with `query`.
    pub fn entity_url(&self, entity: &str, query: &Query) -> Url {
        self.client.url(
            &format!("{}/{entity}", self.company_path),
            &query.to_query_string(),
        )
    }

    pub async fn page(&self, url: &Url) -> Result<Page, SourceError> {
        self.client.page(url).await
    }
}

async fn find_company(client: &ODataClient, name: &str) -> Result<String, SourceError> {
    let query = Query {
        filter: Some(format!("name eq {}", string_literal(name))),
        ..Query::default()
    };
    let url = client.url("companies", &query.to_query_string());
    let document = client.json(&url).await?;
    document
        .get("value")
        .and_then(Value::as_array)
        .and_then(|companies| {
            companies.iter().find(|c| {
                c.get("name").and_then(Value::as_str) == Some(name)
                    || c.get("displayName").and_then(Value::as_str) == Some(name)
            })
        })
        .and_then(|c| c.get("id").and_then(Value::as_str))
        .map(str::to_string)
        .ok_or_else(|| SourceError::Schema(format!("no company named {name:?} at the source")))
}
