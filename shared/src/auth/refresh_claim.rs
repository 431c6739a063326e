//! The right to spend a connection's refresh token. Refresh tokens rotate on every use, so two
//! workers must never spend the same one; but no transaction may stay open across the token
//! endpoint's HTTP call either (on SQLite an open write transaction stalls every writer, lease
//! renewals included, for as long as the endpoint takes). So the right is a claim row in
//! `ferry_leases` (`refresh:<connection>`), committed before the call and given up after it: only the
//! holder calls the endpoint, the others wait and re-read the access token the holder stores. A claim
//! outlives the longest call (`token_endpoint::REQUEST_TIMEOUT`), and one whose holder died expires.

use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};

use crate::storage::{clock, statement};

/// A claim held by this process.
#[derive(Debug)]
pub(super) struct RefreshClaim {
    name: String,
    owner: String,
}

impl RefreshClaim {
    /// Takes the claim on `connection`'s refresh token for `hold`, when nobody holds it or the
    /// holder's claim expired. `None` while another process holds it.
    pub async fn take(
        db: &DatabaseConnection,
        connection: &str,
        hold: Duration,
    ) -> Result<Option<RefreshClaim>, DbErr> {
        let claim = RefreshClaim {
            name: format!("refresh:{connection}"),
            owner: uuid::Uuid::new_v4().simple().to_string(),
        };
        // Expiry on the database's clock, like every lease (`storage::clock`).
        let backend = db.get_database_backend();
        let taken = db
            .execute_raw(statement(
                backend,
                &format!(
                    "INSERT INTO ferry_leases (name, owner, expires_at) VALUES (?, ?, {expiry}) \
                     ON CONFLICT (name) DO UPDATE SET owner = EXCLUDED.owner, \
                     expires_at = EXCLUDED.expires_at WHERE ferry_leases.expires_at < {now}",
                    expiry = clock::after(backend),
                    now = clock::now(backend),
                ),
                [
                    claim.name.clone().into(),
                    claim.owner.clone().into(),
                    clock::millis(hold).into(),
                ],
            ))
            .await?;
        Ok((taken.rows_affected() == 1).then_some(claim))
    }

    /// Gives the claim up, in `db` (the transaction that stores the refreshed token, or the pool after
    /// a failed call). A claim that expired and was taken by another process is left to that one.
    pub async fn release(self, db: &impl ConnectionTrait) -> Result<(), DbErr> {
        db.execute_raw(statement(
            db.get_database_backend(),
            "DELETE FROM ferry_leases WHERE name = ? AND owner = ?",
            [self.name.into(), self.owner.into()],
        ))
        .await?;
        Ok(())
    }
}
