//! Records a tracked source says are gone (a delta response's removals): the rows this integration
//! owns for those source keys leave the target, in the page's transaction, by the same rule as a
//! reconcile's (`sink::vanished`): a row goes only when no live coupling still points at it — another
//! integration's, or another source key of this one that is not itself removed. The couplings of
//! the removed keys are forgotten either way, so a record that comes back is written as new.

use sea_orm::{ConnectionTrait, DbErr, Value};

use super::coupling::Owned;
use crate::storage::{Dialect, statement};

/// The couplings of `integration` among `keys` whose row nothing else backs: the rows to remove.
pub async fn unbacked(
    txn: &impl ConnectionTrait,
    integration: &str,
    keys: &[String],
) -> Result<Vec<Owned>, DbErr> {
    let mut owned = Vec::new();
    // Two lists of the chunk's keys per statement, besides the integration.
    let per_statement = (Dialect::of(txn).max_params().saturating_sub(1) / 2).max(1);
    for chunk in keys.chunks(per_statement) {
        let list = vec!["?"; chunk.len()].join(", ");
        let values: Vec<Value> = std::iter::once(integration.into())
            .chain(chunk.iter().map(|k| k.as_str().into()))
            .chain(chunk.iter().map(|k| k.as_str().into()))
            .collect();
        let rows = txn
            .query_all_raw(statement(
                txn.get_database_backend(),
                &format!(
                    "SELECT c.source_key, c.target_key FROM ferry_couplings c \
                     WHERE c.integration = ? AND c.source_key IN ({list}) AND NOT EXISTS \
                     (SELECT 1 FROM ferry_couplings o WHERE o.target_table = c.target_table \
                     AND o.target_key = c.target_key AND (o.integration <> c.integration \
                     OR (o.source_key <> c.source_key AND o.source_key NOT IN ({list}))))"
                ),
                values,
            ))
            .await?;
        for row in rows {
            owned.push(Owned {
                source_key: row.try_get_by_index(0)?,
                target_key: row.try_get_by_index(1)?,
            });
        }
    }
    Ok(owned)
}

/// Forgets the couplings of `integration` for `keys`.
pub async fn forget(
    txn: &impl ConnectionTrait,
    integration: &str,
    keys: &[String],
) -> Result<(), DbErr> {
    let per_statement = Dialect::of(txn).max_params().saturating_sub(1).max(1);
    for chunk in keys.chunks(per_statement) {
        let list = vec!["?"; chunk.len()].join(", ");
        txn.execute_raw(statement(
            txn.get_database_backend(),
            &format!(
                "DELETE FROM ferry_couplings WHERE integration = ? AND source_key IN ({list})"
            ),
            std::iter::once(integration.into()).chain(chunk.iter().map(|k| k.as_str().into())),
        ))
        .await?;
    }
    Ok(())
}
