//! `ferry conflicts resolve ID --keep local|remote`: the operator's word on a record changed on both
//! sides. Keeping the local version logs it as changed again, with the remote ETag forgotten, so the
//! next run's export writes it over the remote one. Keeping the remote version writes it to the local
//! table now, as an import would (Ferry's own write: nothing is echoed back).

use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};
use serde_json::Value as Json;

use super::{Stored, get, mark_resolved};
use crate::definitions::{latest_integration, stored_connection};
use crate::mapping::Mapping;
use crate::sink::{PageWrite, coupling, write_rows};
use crate::storage::Dialect;

/// Which version an operator keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    Local,
    Remote,
}

impl Keep {
    fn as_str(self) -> &'static str {
        match self {
            Keep::Local => "local",
            Keep::Remote => "remote",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("no conflict {0}")]
    Unknown(i64),
    #[error("conflict {0} was resolved already")]
    Resolved(i64),
    #[error("conflict {id}: {message}")]
    Cannot { id: i64, message: String },
    #[error("failed to read or write the database: {0}")]
    Database(#[from] DbErr),
}

/// Resolves conflict `id` by keeping one side; returns the conflict as it was.
pub async fn resolve(db: &DatabaseConnection, id: i64, keep: Keep) -> Result<Stored, ResolveError> {
    let conflict = get(db, id).await?.ok_or(ResolveError::Unknown(id))?;
    if conflict.resolved_at.is_some() {
        return Err(ResolveError::Resolved(id));
    }
    let cannot = |message: String| ResolveError::Cannot { id, message };
    match keep {
        Keep::Local => {
            let txn = crate::storage::begin_write(db).await?;
            crate::capture::requeue(
                &txn,
                &conflict.integration,
                std::slice::from_ref(&conflict.record_key),
            )
            .await?;
            forget_etag(&txn, &conflict).await?;
            mark_resolved(&txn, id, keep.as_str()).await?;
            txn.commit().await?;
        }
        Keep::Remote => {
            let remote = conflict.remote.as_ref().ok_or_else(|| {
                cannot("the record is deleted remotely: there is nothing to write locally".into())
            })?;
            let mapping = mapping(db, &conflict.integration).await.map_err(cannot)?;
            let values: Vec<sea_orm::Value> = mapping
                .columns
                .iter()
                .map(|c| {
                    c.ty.convert(remote.get(&c.name).unwrap_or(&Json::Null))
                        .map_err(|e| cannot(format!("column {}: {e}", c.name)))
                })
                .collect::<Result<_, _>>()?;
            let mut page = PageWrite {
                couplings: vec![coupling::couple(
                    &mapping,
                    conflict.remote_key.clone(),
                    None,
                    &values,
                )],
                rows: vec![(conflict.remote_key.clone(), values)],
                ..PageWrite::default()
            };
            page.prepare(Dialect::of(db), &mapping, &conflict.integration);
            let txn = crate::storage::begin_own_writes(db).await?;
            write_rows(&txn, &mapping, &conflict.integration, &mut page).await?;
            mark_resolved(&txn, id, keep.as_str()).await?;
            crate::storage::commit_own_writes(txn).await?;
        }
    }
    Ok(conflict)
}

/// The coupling's remote ETag, forgotten: the next export writes with `If-Match: *`.
async fn forget_etag(txn: &impl ConnectionTrait, conflict: &Stored) -> Result<(), DbErr> {
    let dialect = Dialect::of(txn);
    txn.execute_raw(dialect.statement(
        "UPDATE ferry_couplings SET remote_etag = NULL WHERE integration = ? AND source_key = ?",
        [
            conflict.integration.clone().into(),
            conflict.remote_key.clone().into(),
        ],
    ))
    .await?;
    Ok(())
}

/// The integration's mapping, compiled against the `$metadata` last read from its connection and
/// typed by its table, as a run would compile it.
async fn mapping(db: &DatabaseConnection, integration: &str) -> Result<Mapping, String> {
    let (_, def) = latest_integration(db, integration)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("integration {integration:?} is not stored"))?;
    stored_connection(db, &def.connection)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("connection {:?} is not stored", def.connection))?;
    let discovered = crate::source::discovered::last(db, &def.connection)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no $metadata of {:?} is stored yet", def.connection))?;
    let mut mapping = Mapping::compile(&def, &discovered.metadata).map_err(|e| e.to_string())?;
    crate::sync::prepare::type_columns(db, &mut mapping)
        .await
        .map_err(|e| e.to_string())?;
    Ok(mapping)
}
