//! Change capture's engine-neutral half: which triggers an integration's export needs, whether they
//! are installed as Ferry would install them now, and the mark that keeps Ferry's own writes out of
//! the change log. The engine modules spell the SQL (`postgres::capture`, `sqlite::capture`).

use sea_orm::{ConnectionTrait, DbErr, Statement};
use sha2::{Digest, Sha256};

use super::{Dialect, postgres, sqlite};

/// The capture an integration needs: its name (logged with each change), its local table and the
/// table's key columns (what each change names).
#[derive(Debug, Clone, Copy)]
pub struct Capture<'a> {
    pub integration: &'a str,
    pub table: &'a str,
    pub key_columns: &'a [String],
}

impl Capture<'_> {
    /// The trigger's (and on PostgreSQL its function's) name: `ferry_capture_` and a digest of the
    /// integration's name, which fits PostgreSQL's 63-byte identifiers whatever the name's length.
    pub fn name(&self) -> String {
        let digest = Sha256::digest(self.integration.as_bytes());
        let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        format!("ferry_capture_{hex}")
    }
}

/// A SQL string literal (integration names are restricted, but quoting is what keeps it so).
pub(super) fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// What `ferry check` and `apply` find on a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureState {
    /// Installed as Ferry would install it now.
    Current,
    /// Not there (the table was created or replaced outside Ferry, or never adopted).
    Missing,
    /// There, but made for other key columns (or by another Ferry version).
    Stale,
}

impl Dialect {
    /// Installs (or replaces) the capture triggers, in `conn`'s transaction when it has one.
    pub async fn install_capture(
        conn: &impl ConnectionTrait,
        capture: &Capture<'_>,
    ) -> Result<(), DbErr> {
        let statements = match Dialect::of(conn) {
            Dialect::Postgres => postgres::capture::install(capture),
            Dialect::Sqlite => sqlite::capture::install(capture),
        };
        for sql in statements {
            conn.execute_unprepared(&sql).await?;
        }
        Ok(())
    }

    /// Removes the capture triggers (an integration that no longer exports).
    pub async fn remove_capture(
        conn: &impl ConnectionTrait,
        capture: &Capture<'_>,
    ) -> Result<(), DbErr> {
        let statements = match Dialect::of(conn) {
            Dialect::Postgres => postgres::capture::remove(capture),
            Dialect::Sqlite => sqlite::capture::remove(capture),
        };
        for sql in statements {
            conn.execute_unprepared(&sql).await?;
        }
        Ok(())
    }

    /// Whether the capture triggers are installed as `install_capture` would install them.
    pub async fn capture_state(
        conn: &impl ConnectionTrait,
        capture: &Capture<'_>,
    ) -> Result<CaptureState, DbErr> {
        let dialect = Dialect::of(conn);
        match dialect {
            Dialect::Postgres => {
                let row = conn
                    .query_one_raw(dialect.statement(
                        postgres::capture::installed(),
                        [capture.name().into(), super::quote(capture.table).into()],
                    ))
                    .await?;
                Ok(match row {
                    None => CaptureState::Missing,
                    Some(row) => {
                        let body: String = row.try_get_by_index(0)?;
                        if body == postgres::capture::body(capture) {
                            CaptureState::Current
                        } else {
                            CaptureState::Stale
                        }
                    }
                })
            }
            Dialect::Sqlite => {
                let rows = conn
                    .query_all_raw(
                        dialect.statement(sqlite::capture::installed(), [capture.table.into()]),
                    )
                    .await?;
                let installed: Vec<(String, String)> = rows
                    .iter()
                    .map(|r| Ok((r.try_get_by_index(0)?, r.try_get_by_index(1)?)))
                    .collect::<Result<_, DbErr>>()?;
                let wanted = sqlite::capture::triggers(capture);
                let present = wanted
                    .iter()
                    .filter(|(name, _)| installed.iter().any(|(n, _)| n == name))
                    .count();
                Ok(if present == 0 {
                    CaptureState::Missing
                } else if wanted.iter().all(|w| installed.contains(w)) {
                    CaptureState::Current
                } else {
                    CaptureState::Stale
                })
            }
        }
    }

    /// Marks the transaction's writes as Ferry's own, so capture triggers log none of them: run it
    /// first in every transaction that writes an integration's local rows, and
    /// `end_own_writes` last before its commit.
    pub async fn own_writes(conn: &impl ConnectionTrait) -> Result<(), DbErr> {
        let sql = match Dialect::of(conn) {
            Dialect::Postgres => postgres::capture::OWN_WRITES,
            Dialect::Sqlite => sqlite::capture::OWN_WRITES,
        };
        conn.execute_raw(Statement::from_string(Dialect::of(conn).backend(), sql))
            .await
            .map(drop)
    }

    /// Ends the mark `own_writes` set (PostgreSQL's ends with the transaction by itself).
    pub async fn end_own_writes(conn: &impl ConnectionTrait) -> Result<(), DbErr> {
        match Dialect::of(conn) {
            Dialect::Postgres => Ok(()),
            Dialect::Sqlite => conn
                .execute_unprepared(sqlite::capture::OWN_WRITES_END)
                .await
                .map(drop),
        }
    }
}
