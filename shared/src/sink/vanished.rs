//! Which owned rows a reconcile may remove: couplings of the integration whose source key is not in
//! the reconcile's key scan have *vanished*; a vanished coupling's target row goes only when no live
//! coupling still points at it — another source key of the same integration that the scan saw (a
//! transformed key, a non-key `target.key` can map two records to one row), or any coupling of another
//! integration writing the same table (`target.shared`). The one place that rule lives: reconciles
//! and previews both ask it. Everything is compared by the database, a page at a time.

use sea_orm::{ConnectionTrait, DbErr};

use super::coupling::Owned;
use super::key_scan::KeyScan;
use crate::storage::statement;

/// `c`'s source key is not in the scan (its one `?` is the scan id).
const VANISHED: &str = "NOT EXISTS (SELECT 1 FROM ferry_scanned_keys k \
                        WHERE k.scan_id = ? AND k.source_key = c.source_key)";

/// Nothing live points at `c`'s row: no other coupling of the same table and key that is either
/// another integration's or one of this integration's the scan saw (its one `?` is the scan id).
const UNBACKED: &str = "NOT EXISTS (SELECT 1 FROM ferry_couplings o \
                        WHERE o.target_table = c.target_table AND o.target_key = c.target_key \
                        AND (o.integration <> c.integration OR (o.source_key <> c.source_key \
                        AND EXISTS (SELECT 1 FROM ferry_scanned_keys s \
                        WHERE s.scan_id = ? AND s.source_key = o.source_key))))";

/// How many couplings `integration` has, and how many of them vanished: what `max_share` weighs.
pub async fn count(
    db: &impl ConnectionTrait,
    integration: &str,
    scan: KeyScan,
) -> Result<(i64, i64), DbErr> {
    let backend = db.get_database_backend();
    let total = count_of(
        db,
        statement(
            backend,
            "SELECT count(*) FROM ferry_couplings c WHERE c.integration = ?",
            [integration.into()],
        ),
    )
    .await?;
    let gone = count_of(
        db,
        statement(
            backend,
            &format!(
                "SELECT count(*) FROM ferry_couplings c WHERE c.integration = ? AND {VANISHED}"
            ),
            [integration.into(), scan.id.into()],
        ),
    )
    .await?;
    Ok((total, gone))
}

/// How many vanished couplings of `integration` name a row nothing else backs: the rows a reconcile
/// would remove now.
pub async fn count_unbacked(
    db: &impl ConnectionTrait,
    integration: &str,
    scan: KeyScan,
) -> Result<i64, DbErr> {
    count_of(
        db,
        statement(
            db.get_database_backend(),
            &format!(
                "SELECT count(*) FROM ferry_couplings c WHERE c.integration = ? \
                 AND {VANISHED} AND {UNBACKED}"
            ),
            [integration.into(), scan.id.into(), scan.id.into()],
        ),
    )
    .await
}

/// The next `limit` vanished couplings of `integration` after source key `after` (in key order) whose
/// row nothing else backs.
pub async fn unbacked(
    db: &impl ConnectionTrait,
    integration: &str,
    scan: KeyScan,
    after: &str,
    limit: u64,
) -> Result<Vec<Owned>, DbErr> {
    let rows = db
        .query_all_raw(statement(
            db.get_database_backend(),
            &format!(
                "SELECT c.source_key, c.target_key FROM ferry_couplings c \
                 WHERE c.integration = ? AND c.source_key > ? AND {VANISHED} AND {UNBACKED} \
                 ORDER BY c.source_key LIMIT ?"
            ),
            [
                integration.into(),
                after.into(),
                scan.id.into(),
                scan.id.into(),
                (limit as i64).into(),
            ],
        ))
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Owned {
                source_key: r.try_get_by_index(0)?,
                target_key: r.try_get_by_index(1)?,
            })
        })
        .collect()
}

/// Removes every vanished coupling of `integration`, backed row or not: those records are gone at
/// the source, and a row still backed stays with the couplings that back it.
pub async fn forget(
    txn: &impl ConnectionTrait,
    integration: &str,
    scan: KeyScan,
) -> Result<u64, DbErr> {
    let done = txn
        .execute_raw(statement(
            txn.get_database_backend(),
            "DELETE FROM ferry_couplings WHERE integration = ? AND NOT EXISTS \
             (SELECT 1 FROM ferry_scanned_keys k WHERE k.scan_id = ? \
             AND k.source_key = ferry_couplings.source_key)",
            [integration.into(), scan.id.into()],
        ))
        .await?;
    Ok(done.rows_affected())
}

async fn count_of(db: &impl ConnectionTrait, query: sea_orm::Statement) -> Result<i64, DbErr> {
    match db.query_one_raw(query).await? {
        Some(row) => row.try_get_by_index(0),
        None => Ok(0),
    }
}
