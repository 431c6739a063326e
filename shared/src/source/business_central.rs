//! Business Central: entity sets live inside a company (`…/companies({id})/{entity}`).

use serde_json::Value;

use crate::odata::client::{ODataClient, SourceError};
use crate::odata::query::{Query, string_literal};

/// `companies(<guid>)` for a company given by id (used as is) or by name (looked up).
pub async fn company_path(client: &ODataClient, company: &str) -> Result<String, SourceError> {
    let id = match uuid::Uuid::parse_str(company) {
        Ok(id) => id.to_string(),
        Err(_) => find_company(client, company).await?,
    };
    Ok(format!("companies({id})"))
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
