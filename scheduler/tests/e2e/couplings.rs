//! Coupling records: a reconcile deletes only the rows an integration owns, an unchanged record costs
//! no target write, and a table from before couplings is adopted by the rows a run writes.

use std::collections::{HashMap, HashSet};

use ferry_shared::runs::Mode;
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::helpers::TestEnv;

const OWNED: &str = r#"
[[integration]]
name = "owned"
connection = "bc"
source = { entity = "RescoCustomer", key = ["No"], version = "RowVersionNumber" }
target = { table = "owned", key = ["no"], create = true }
fields = [{ from = "No", to = "no" }, { from = "Name", to = "name" }]
deletes = { detect = "reconcile", max_share = 0.5 }
"#;

/// `(source key, source version, hash)` of every coupling of `integration`.
async fn couplings(env: &TestEnv, integration: &str) -> Vec<(String, Option<i64>, String)> {
    env.db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT source_key, source_version, hash FROM ferry_couplings \
             WHERE integration = $1 ORDER BY source_key",
            [integration.into()],
        ))
        .await
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.try_get_by_index(0).unwrap(),
                r.try_get_by_index(1).unwrap(),
                r.try_get_by_index(2).unwrap(),
            )
        })
        .collect()
}

/// Each target row's physical version: `xmin` changes when a row is rewritten, `xmax` when a statement
/// even locks it (as `INSERT … ON CONFLICT DO UPDATE … WHERE false` does). Both equal: untouched.
async fn row_versions(env: &TestEnv) -> HashMap<String, (String, String)> {
    env.table("customer", &["bc_no", "xmin", "xmax"], "bc_no")
        .await
        .into_iter()
        .map(|r| {
            let mut r = r.into_iter().map(Option::unwrap_or_default);
            let key = r.next().unwrap();
            (key, (r.next().unwrap(), r.next().unwrap()))
        })
        .collect()
}

#[tokio::test]
async fn a_reconcile_deletes_only_rows_the_integration_owns() {
    let env = TestEnv::start(300, 1).await;
    env.apply(&env.write_definitions(OWNED)).await;
    let first = env.run("owned", Mode::Incremental).await;
    assert_eq!(first.inserted, 300);
    let coupled = couplings(&env, "owned").await;
    assert_eq!(coupled.len(), 300);
    let versions: HashMap<String, i64> = env
        .sandbox
        .rows("RescoCustomer")
        .iter()
        .map(|r| {
            (
                r["No"].as_str().unwrap().to_string(),
                r["RowVersionNumber"].as_i64().unwrap(),
            )
        })
        .collect();
    for (key, version, hash) in &coupled {
        assert_eq!(*version, versions.get(key).copied(), "{key}");
        assert_eq!(hash.len(), 64, "SHA-256 as hex");
    }

    // Rows someone else put in the same table: no coupling of `owned`, so never its to delete.
    env.db
        .execute_unprepared(
            "INSERT INTO owned (no, name) VALUES ('LOCAL-1', 'by hand'), ('LOCAL-2', 'by hand')",
        )
        .await
        .unwrap();
    let gone = env.mutate("RescoCustomer", 0, 0, 10);
    let reconciled = env.run("owned", Mode::Reconcile).await;

    assert_eq!(
        (reconciled.status.as_str(), reconciled.deleted),
        ("succeeded", 10),
        "{:?}",
        reconciled.error
    );
    let left: HashSet<String> = env
        .table("owned", &["no"], "no")
        .await
        .into_iter()
        .map(|r| r[0].clone().unwrap())
        .collect();
    assert_eq!(left.len(), 292);
    assert!(left.contains("LOCAL-1") && left.contains("LOCAL-2"));
    assert!(gone.deleted.iter().all(|k| !left.contains(k)));
    // The couplings of the deleted rows went with them.
    let coupled: HashSet<String> = couplings(&env, "owned")
        .await
        .into_iter()
        .map(|c| c.0)
        .collect();
    assert_eq!(coupled.len(), 290);
    assert!(gone.deleted.iter().all(|k| !coupled.contains(k)));
    env.finish().await;
}

#[tokio::test]
async fn a_full_resync_costs_no_write_for_unchanged_rows() {
    let env = TestEnv::start(300, 1).await;
    env.apply(&env.write_definitions("")).await;
    env.run("customers", Mode::Incremental).await;
    let changed = env.mutate("RescoCustomer", 0, 5, 0);
    // A row someone deleted from the target: its coupling's hash matches, yet it must come back.
    let removed = env
        .sandbox
        .rows("RescoCustomer")
        .iter()
        .map(|r| r["No"].as_str().unwrap().to_string())
        .find(|k| !changed.updated.contains(k))
        .unwrap();
    env.db
        .execute_unprepared(&format!("DELETE FROM customer WHERE bc_no = '{removed}'"))
        .await
        .unwrap();
    let before = row_versions(&env).await;

    let full = env.run("customers", Mode::Full).await;

    assert_eq!(full.status, "succeeded");
    assert_eq!(
        (full.rows_read, full.inserted, full.updated, full.unchanged),
        (300, 1, 5, 294)
    );
    let after = row_versions(&env).await;
    assert_eq!(after.len(), 300);
    for (key, physical) in &after {
        if key == &removed {
            assert!(!before.contains_key(key));
        } else if changed.updated.contains(key) {
            assert_ne!(physical.0, before[key].0, "{key} was rewritten");
        } else {
            assert_eq!(physical, &before[key], "{key} was not touched at all");
        }
    }
    // The couplings of the rewritten rows follow the source version.
    let versions: HashMap<String, i64> = env
        .sandbox
        .rows("RescoCustomer")
        .iter()
        .map(|r| {
            (
                r["No"].as_str().unwrap().to_string(),
                r["RowVersionNumber"].as_i64().unwrap(),
            )
        })
        .collect();
    for (key, version, _) in couplings(&env, "customers").await {
        assert_eq!(version, versions.get(&key).copied(), "{key}");
    }
    env.finish().await;
}

#[tokio::test]
async fn a_table_from_before_couplings_is_adopted_by_the_rows_a_run_writes() {
    let env = TestEnv::start(200, 1).await;
    env.apply(&env.write_definitions(OWNED)).await;
    env.run("owned", Mode::Incremental).await;
    // As after an upgrade: the rows are there, no coupling claims them.
    env.db
        .execute_unprepared("DELETE FROM ferry_couplings")
        .await
        .unwrap();
    env.mutate("RescoCustomer", 0, 0, 5);

    let unowned = env.run("owned", Mode::Reconcile).await;
    assert_eq!(
        (unowned.status.as_str(), unowned.deleted),
        ("succeeded", 0),
        "rows nobody coupled are not deleted"
    );

    // A full run adopts every row it reads; it still writes none (the target already holds them).
    let full = env.run("owned", Mode::Full).await;
    assert_eq!((full.inserted, full.updated, full.unchanged), (0, 0, 195));
    assert_eq!(couplings(&env, "owned").await.len(), 195);

    env.mutate("RescoCustomer", 0, 0, 3);
    let owned = env.run("owned", Mode::Reconcile).await;
    assert_eq!((owned.status.as_str(), owned.deleted), ("succeeded", 3));
    // The 5 that vanished before adoption stay: Ferry cannot know they were its own.
    assert_eq!(env.table("owned", &["no"], "no").await.len(), 197);
    env.finish().await;
}
