//! `$metadata` per connection, kept for a while so each run's drift check costs no request (a BC
//! `$metadata` is megabytes). A run that then fails on a bad request re-reads it to tell drift from
//! other errors.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::odata::client::SourceError;
use crate::odata::csdl::Metadata;
use crate::source::Source;

/// How long a fetched `$metadata` is trusted.
const FRESH_FOR: Duration = Duration::from_secs(300);

/// One connection's document: when it was fetched, the service root it came from, the document.
type Entry = (Instant, String, Arc<Metadata>);

#[derive(Debug, Clone, Default)]
pub struct MetadataCache {
    /// By connection name.
    entries: Arc<Mutex<HashMap<String, Entry>>>,
}

impl MetadataCache {
    /// The connection's metadata and whether it came from the cache. A fresh read is kept in the
    /// database (`source::discovered`).
    pub async fn get(
        &self,
        db: &impl sea_orm::ConnectionTrait,
        connection: &str,
        root: &str,
        source: &Source,
    ) -> Result<(Arc<Metadata>, bool), SourceError> {
        if let Some((at, cached_root, metadata)) = self.entries.lock().await.get(connection)
            && at.elapsed() < FRESH_FOR
            && cached_root == root
        {
            return Ok((metadata.clone(), true));
        }
        let metadata = Arc::new(crate::source::discovered::fetch(db, connection, source).await?);
        self.entries.lock().await.insert(
            connection.to_string(),
            (Instant::now(), root.to_string(), metadata.clone()),
        );
        Ok((metadata, false))
    }

    pub async fn forget(&self, connection: &str) {
        self.entries.lock().await.remove(connection);
    }
}
