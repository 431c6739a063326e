//! The last `$metadata` read from each connection (`ferry_source_schemas`). Every read that `check`,
//! `discover` or a worker makes is kept, so `apply` can check a definition against what the source
//! last said without asking it, and name when that was.

use std::sync::Arc;

use chrono::{DateTime, FixedOffset, Utc};
use sea_orm::{ConnectionTrait, DbErr};
use sha2::{Digest, Sha256};

use super::Source;
use crate::odata::client::SourceError;
use crate::odata::csdl::Metadata;
use crate::storage::statement;

/// A stored document and when it was read.
#[derive(Debug, Clone)]
pub struct Discovered {
    pub metadata: Metadata,
    pub fetched_at: DateTime<FixedOffset>,
}

/// Reads `source`'s `$metadata` and keeps it as connection `connection`'s. Keeping it is best effort:
/// the caller needs the document, not the copy. What is kept is what Ferry read from it
/// ([`Metadata::to_csdl`]: the same entity types, sets and enums, without annotations), not the
/// document as served: a Dataverse document is tens of MB, and the read parses it as it streams in
/// so that it is never whole in memory.
pub async fn fetch(
    db: &impl ConnectionTrait,
    connection: &str,
    source: &Source,
) -> Result<Metadata, SourceError> {
    let metadata = Arc::new(source.metadata().await?);
    // Written and digested off the async threads: thousands of entity types make megabytes.
    let read = Arc::clone(&metadata);
    let written = tokio::task::spawn_blocking(move || {
        let document = read.to_csdl();
        let digest = digest(&document);
        (document, digest)
    })
    .await;
    let kept = match written {
        Ok((document, digest)) => keep(db, connection, &document, digest).await,
        Err(e) => Err(DbErr::Custom(e.to_string())),
    };
    if let Err(e) = kept {
        tracing::debug!(connection, error = %e, "the $metadata read was not kept");
    }
    // The writer's reference is gone once its task ended (or was dropped unstarted).
    Ok(Arc::try_unwrap(metadata).unwrap_or_else(|shared| (*shared).clone()))
}

/// SHA-256 of `document`, in hex: an unchanged document is not written again.
fn digest(document: &str) -> String {
    Sha256::digest(document.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Stores `document` for `connection`, rewriting it only when it changed.
async fn keep(
    db: &impl ConnectionTrait,
    connection: &str,
    document: &str,
    digest: String,
) -> Result<(), DbErr> {
    let now = Utc::now().fixed_offset();
    let touched = db
        .execute_raw(statement(
            db.get_database_backend(),
            "UPDATE ferry_source_schemas SET fetched_at = ? WHERE connection = ? AND digest = ?",
            [now.into(), connection.into(), digest.clone().into()],
        ))
        .await?;
    if touched.rows_affected() > 0 {
        return Ok(());
    }
    db.execute_raw(statement(
        db.get_database_backend(),
        "INSERT INTO ferry_source_schemas (connection, document, digest, fetched_at) \
         VALUES (?, ?, ?, ?) ON CONFLICT (connection) DO UPDATE SET document = excluded.document, \
         digest = excluded.digest, fetched_at = excluded.fetched_at",
        [
            connection.into(),
            document.into(),
            digest.into(),
            now.into(),
        ],
    ))
    .await?;
    Ok(())
}

/// The document last read from `connection`, if any was and it still parses.
pub async fn last(
    db: &impl ConnectionTrait,
    connection: &str,
) -> Result<Option<Discovered>, DbErr> {
    let row = db
        .query_one_raw(statement(
            db.get_database_backend(),
            "SELECT document, fetched_at FROM ferry_source_schemas WHERE connection = ?",
            [connection.into()],
        ))
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let document: String = row.try_get_by_index(0)?;
    let fetched_at: DateTime<FixedOffset> = row.try_get_by_index(1)?;
    Ok(Metadata::parse_off_thread(document)
        .await
        .ok()
        .map(|metadata| Discovered {
            metadata,
            fetched_at,
        }))
}
