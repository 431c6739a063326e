//! A reconcile's copy of the source's key set, staged in the database (`ferry_scanned_keys`) a page at
//! a time as it is read, so comparing a million source keys with the couplings costs a page of memory
//! (invariant 5) and the comparison is one query. A scan belongs to one reconcile (or one preview) and
//! is discarded when it ends; one a crash left behind is swept by retention.

use chrono::Utc;
use sea_orm::{ConnectionTrait, DbErr, Value};

use crate::storage::{Dialect, statement};

/// How long a scan may live before retention takes it for the leftovers of a crash. A reconcile reads
/// keys only, so even a huge entity is scanned in minutes.
pub const ABANDONED_AFTER: std::time::Duration = std::time::Duration::from_secs(86_400);

/// One staged key set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyScan {
    /// `ferry_key_scans.id`; the scan's keys carry it.
    pub id: i64,
}

impl KeyScan {
    /// Starts an empty scan of `integration`'s source keys for `run_id` (`None`: a preview). A scan an
    /// earlier attempt of the same run left behind is discarded first.
    pub async fn start(
        db: &impl ConnectionTrait,
        integration: &str,
        run_id: Option<i64>,
    ) -> Result<KeyScan, DbErr> {
        let backend = db.get_database_backend();
        if let Some(run_id) = run_id {
            discard_where(db, "run_id = ?", run_id.into()).await?;
        }
        let row = db
            .query_one_raw(statement(
                backend,
                "INSERT INTO ferry_key_scans (integration, run_id, started_at) VALUES (?, ?, ?) \
                 RETURNING id",
                [
                    integration.into(),
                    Value::BigInt(run_id),
                    Utc::now().fixed_offset().into(),
                ],
            ))
            .await?
            .ok_or_else(|| DbErr::RecordNotInserted)?;
        Ok(KeyScan {
            id: row.try_get_by_index(0)?,
        })
    }

    /// Adds a page of source keys (a key seen twice counts once).
    pub async fn add(&self, db: &impl ConnectionTrait, keys: Vec<String>) -> Result<(), DbErr> {
        if keys.is_empty() {
            return Ok(());
        }
        for statement in Dialect::of(db).scanned_keys(self.id, keys) {
            db.execute_raw(statement).await?;
        }
        Ok(())
    }

    /// Removes the scan and its keys.
    pub async fn discard(self, db: &impl ConnectionTrait) -> Result<(), DbErr> {
        discard_where(db, "id = ?", self.id.into()).await?;
        Ok(())
    }
}

/// Removes the scans started before `ABANDONED_AFTER` ago, with their keys: what a crashed reconcile
/// or preview left. Returns how many scans went.
pub async fn sweep(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    let cutoff = (Utc::now() - ABANDONED_AFTER).fixed_offset();
    discard_where(db, "started_at < ?", cutoff.into()).await
}

/// Deletes the keys, then the scans, of the scans matching `condition` (one `?`, bound to `value`);
/// returns how many scans went.
async fn discard_where(
    db: &impl ConnectionTrait,
    condition: &str,
    value: Value,
) -> Result<u64, DbErr> {
    let backend = db.get_database_backend();
    db.execute_raw(statement(
        backend,
        &format!(
            "DELETE FROM ferry_scanned_keys WHERE scan_id IN \
             (SELECT id FROM ferry_key_scans WHERE {condition})"
        ),
        [value.clone()],
    ))
    .await?;
    let scans = db
        .execute_raw(statement(
            backend,
            &format!("DELETE FROM ferry_key_scans WHERE {condition}"),
            [value],
        ))
        .await?;
    Ok(scans.rows_affected())
}
