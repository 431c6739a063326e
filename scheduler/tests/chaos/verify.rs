//! What must hold after (and, for the checkpoint, during) every scenario: the target equals the source
//! exactly, no key twice, nothing left running, the checkpoint never ahead of the committed rows, and
//! every row counted once.

use ferry_shared::storage::entities::run;
use sea_orm::{ConnectionTrait, Statement};

use crate::helpers::{Backend, CUSTOMER_COLUMNS, customer_column_sql, expected};
use crate::world::World;

/// Every source row's version, ascending: the source does not change during a scenario, so "the rows
/// up to the checkpoint" is a number known in advance for each checkpoint.
pub fn source_versions(world: &World) -> Vec<i64> {
    let mut versions: Vec<i64> = world
        .sandbox
        .rows("RescoCustomer")
        .iter()
        .map(|r| r["RowVersionNumber"].as_i64().expect("integer versions"))
        .collect();
    versions.sort_unstable();
    versions
}

/// The committed checkpoint and the committed target rows at or below it, read in one statement (one
/// snapshot), must agree with the source: every row up to the checkpoint is there (ARCHITECTURE.md, "Invariants"). Returns
/// the checkpoint, or None while the database (or the not yet created table) does not answer.
pub async fn checkpoint_behind_rows(world: &World, versions: &[i64]) -> Option<i64> {
    let sql = "WITH w AS (SELECT COALESCE((SELECT (value::jsonb ->> 'value')::bigint \
               FROM ferry_checkpoints WHERE integration = 'customers'), 0) AS v) \
               SELECT w.v, (SELECT count(*) FROM customer WHERE row_version <= w.v) FROM w";
    let row = world
        .db
        .query_one_raw(Statement::from_string(world.db.get_database_backend(), sql))
        .await
        .ok()??;
    let (checkpoint, committed): (i64, i64) =
        (row.try_get_by_index(0).ok()?, row.try_get_by_index(1).ok()?);
    let owed = versions.partition_point(|v| *v <= checkpoint) as i64;
    if committed != owed {
        world.fail(&format!(
            "checkpoint {checkpoint} is ahead of the committed rows: {committed} target rows at or \
             below it, the source has {owed}"
        ));
    }
    Some(checkpoint)
}

/// The final checks of every scenario; returns the run for the scenario's own history checks.
pub async fn all(world: &mut World, run_id: i64, versions: &[i64]) -> run::Model {
    world.assert_processes_alive();
    let run = world.run(run_id).await.expect("the run row");
    if run.state != "succeeded" {
        world.fail(&format!("the run did not succeed: {run:#?}"));
    }
    nothing_in_flight(world).await;
    no_duplicate_keys(world).await;
    target_equals_source(world).await;
    let checkpoint = checkpoint_behind_rows(world, versions)
        .await
        .expect("the database answers");
    let high = *versions.last().expect("a source with rows");
    assert_eq!(
        checkpoint, high,
        "the checkpoint ends at the source's newest version"
    );
    let counted = run.inserted + run.updated + run.unchanged + run.failed;
    assert_eq!(
        counted, run.rows_read,
        "every row read is counted once: {run:#?}"
    );
    assert_eq!(
        (run.inserted, run.failed),
        (world.rows as i64, 0),
        "each row inserted exactly once across all attempts: {run:#?}"
    );
    run
}

/// No run is left `running` or `queued`: the history has an end.
async fn nothing_in_flight(world: &mut World) {
    let rows = world
        .db
        .query_all_raw(Statement::from_string(
            world.db.get_database_backend(),
            "SELECT id, state FROM ferry_runs WHERE state IN ('queued', 'running')",
        ))
        .await
        .expect("ferry_runs");
    if !rows.is_empty() {
        let open: Vec<(i64, String)> = rows
            .iter()
            .map(|r| {
                (
                    r.try_get_by_index(0).unwrap(),
                    r.try_get_by_index(1).unwrap(),
                )
            })
            .collect();
        world.fail(&format!("runs left open: {open:?}"));
    }
}

async fn no_duplicate_keys(world: &World) {
    let row = world
        .db
        .query_one_raw(Statement::from_string(
            world.db.get_database_backend(),
            "SELECT count(*) - count(DISTINCT bc_no) FROM customer",
        ))
        .await
        .expect("customer")
        .unwrap();
    let duplicates: i64 = row.try_get_by_index(0).unwrap();
    assert_eq!(duplicates, 0, "keys written twice");
}

/// Row count and an md5 per mapped column over the rows in key order: Postgres renders the target, the test
/// renders the source the way the mapping should have stored it, and Postgres' md5 hashes both.
async fn target_equals_source(world: &World) {
    let mut source = world.sandbox.rows("RescoCustomer");
    source.sort_by(|a, b| a["No"].as_str().cmp(&b["No"].as_str()));
    let mut select = vec!["count(*)::text".to_string()];
    for (column, _) in CUSTOMER_COLUMNS {
        let column = customer_column_sql(Backend::Postgres, column);
        select.push(format!(
            "md5(string_agg(COALESCE(({column})::text, '\\N'), E'\\n' ORDER BY bc_no COLLATE \"C\"))"
        ));
    }
    let sql = format!("SELECT {} FROM customer", select.join(", "));
    let row = world
        .db
        .query_one_raw(Statement::from_string(world.db.get_database_backend(), sql))
        .await
        .expect("checksum query")
        .unwrap();
    let count: String = row.try_get_by_index(0).unwrap();
    assert_eq!(count, source.len().to_string(), "row count");
    let mut differing = Vec::new();
    for (i, (column, field)) in CUSTOMER_COLUMNS.iter().enumerate() {
        let target: Option<String> = row.try_get_by_index(i + 1).unwrap();
        let text: Vec<String> = source
            .iter()
            .map(|r| expected(field, r).unwrap_or_else(|| "\\N".into()))
            .collect();
        if target != Some(md5(world, text.join("\n")).await) {
            differing.push(*column);
        }
    }
    if !differing.is_empty() {
        // Show one concrete difference, so a failure says more than "checksums differ".
        crate::helpers::assert_customers_equal_source_in(&world.db, &world.sandbox).await;
        panic!("checksums differ in columns {differing:?}");
    }
}

/// md5 of the source side, by the same function that checksums the target.
async fn md5(world: &World, text: String) -> String {
    let row = world
        .db
        .query_one_raw(Statement::from_sql_and_values(
            world.db.get_database_backend(),
            "SELECT md5($1)",
            [text.into()],
        ))
        .await
        .expect("md5")
        .unwrap();
    row.try_get_by_index(0).unwrap()
}
