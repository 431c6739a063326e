//! Starting several processes at once on an empty database: all of them migrate and come up.

use ferry_shared::settings::Settings;
use ferry_shared::storage;
use sea_orm::ConnectionTrait;
use sea_orm_migration::MigratorTrait;

use crate::helpers::TestDatabase;

/// Four connects racing on an empty database must all succeed and leave each migration applied once —
/// without the migration lock, the losers fail on `CREATE TABLE` (duplicate type/relation).
#[tokio::test]
async fn processes_starting_together_migrate_once() {
    let database = TestDatabase::create().await;
    let mut settings = Settings::load(None).unwrap().database;
    settings.url = database.url.clone();
    settings.max_connections = 2;

    let outcomes = futures::future::join_all((0..4).map(|_| storage::connect(&settings))).await;
    let mut applied = None;
    for outcome in outcomes {
        let db = outcome.expect("every process starts");
        let row = db
            .query_one_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                "SELECT count(*) AS n, count(DISTINCT version) AS d FROM ferry_migrations",
            ))
            .await
            .unwrap()
            .unwrap();
        let (n, d): (i64, i64) = (row.try_get("", "n").unwrap(), row.try_get("", "d").unwrap());
        assert_eq!(n, d, "a migration was recorded twice");
        applied = Some(n);
        db.close().await.ok();
    }
    assert_eq!(
        applied,
        Some(storage::migrations::Migrator::migrations().len() as i64)
    );
}
