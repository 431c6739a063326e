//! Starting several processes at once on an empty database: all of them migrate and come up.

use ferry_shared::settings::Settings;
use ferry_shared::storage;
use sea_orm::{ConnectionTrait, Database};
use sea_orm_migration::MigratorTrait;

use crate::helpers::admin_url;

/// Four connects racing on an empty database must all succeed and leave each migration applied once —
/// without the migration lock, the losers fail on `CREATE TABLE` (duplicate type/relation).
#[tokio::test]
async fn processes_starting_together_migrate_once() {
    let database = format!(
        "ferry_test_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..16]
    );
    let admin = Database::connect(admin_url()).await.unwrap();
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{database}\""))
        .await
        .unwrap();
    let mut settings = Settings::load(None).unwrap().database;
    let mut url = url::Url::parse(&admin_url()).unwrap();
    url.set_path(&format!("/{database}"));
    settings.url = url.to_string();
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
    admin
        .execute_unprepared(&format!(
            "DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)"
        ))
        .await
        .unwrap();
}
