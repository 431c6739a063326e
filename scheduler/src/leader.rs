//! Leadership among scheduler replicas: a lease row in the database, renewed every tick and taken over
//! once it expires. Only the leader enqueues cron ticks and reconciles; even two leaders at once could
//! not enqueue a tick twice (the tick's unique index), so a brief overlap is harmless.

use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};

use ferry_shared::storage::{clock, statement};

const LEASE_NAME: &str = "scheduler";

/// This scheduler's claim to leadership.
#[derive(Debug, Clone)]
pub struct Leadership {
    pub owner: String,
    pub lease: Duration,
}

impl Leadership {
    /// Takes the lease when it is free or expired, or renews it when it is ours. True when we lead.
    /// Expiry is set and judged on the database's clock, so no scheduler's clock decides who leads.
    pub async fn acquire_or_renew(&self, db: &DatabaseConnection) -> Result<bool, DbErr> {
        let backend = db.get_database_backend();
        let done = db
            .execute_raw(statement(
                backend,
                &format!(
                    "INSERT INTO ferry_leases (name, owner, expires_at) VALUES (?, ?, {expiry}) \
                     ON CONFLICT (name) DO UPDATE SET owner = EXCLUDED.owner, \
                     expires_at = EXCLUDED.expires_at \
                     WHERE ferry_leases.owner = EXCLUDED.owner OR ferry_leases.expires_at < {now}",
                    expiry = clock::after(backend),
                    now = clock::now(backend),
                ),
                [
                    LEASE_NAME.into(),
                    self.owner.clone().into(),
                    clock::millis(self.lease).into(),
                ],
            ))
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Gives leadership up at once (on shutdown), so another replica need not wait for expiry.
    pub async fn release(&self, db: &DatabaseConnection) -> Result<(), DbErr> {
        db.execute_raw(statement(
            db.get_database_backend(),
            "DELETE FROM ferry_leases WHERE name = ? AND owner = ?",
            [LEASE_NAME.into(), self.owner.clone().into()],
        ))
        .await?;
        Ok(())
    }
}
