//! Export (issue 16): local inserts, updates and deletes captured by triggers reach Business
//! Central through `$batch`, exactly once, and nothing Ferry imported is sent back.

use std::collections::BTreeMap;

use ferry_shared::runs::{ExportCounts, Mode};
use serde_json::Value;

use crate::helpers::{Backend, TestEnv};

/// The default customers import, sharing its table with `customers_out`, which exports four of its
/// columns back and deletes remotely what is deleted locally.
fn definitions(env: &TestEnv) -> std::path::PathBuf {
    let file = env.write_definitions(
        r#"
[[integration]]
name = "customers_out"
connection = "bc"
direction = "export"
source = { entity = "RescoCustomer", key = ["No"], version = "RowVersionNumber" }
target = { table = "customer", key = ["bc_no"], shared = true }
fields = [
  { from = "No", to = "bc_no" },
  { from = "Name", to = "name" },
  { from = "City", to = "city" },
  { from = "PhoneNo", to = "phone" },
]
deletes = { detect = "none", export = true }
"#,
    );
    let text = std::fs::read_to_string(&file).unwrap().replacen(
        "create = true }",
        "create = true, shared = true }",
        1,
    );
    std::fs::write(&file, text).unwrap();
    file
}

/// The sandbox's customers by `No`.
fn remote(env: &TestEnv) -> BTreeMap<String, serde_json::Map<String, Value>> {
    env.sandbox
        .rows("RescoCustomer")
        .into_iter()
        .map(|row| (row["No"].as_str().unwrap().to_string(), row))
        .collect()
}

fn export_of(run: &ferry_shared::runs::RunSummary) -> ExportCounts {
    assert_eq!(run.status, "succeeded", "{run:?}");
    run.export.expect("an export run reports export counts")
}

crate::on_both_backends!(
    #[tokio::test]
    local_changes_reach_business_central_once_and_imports_are_not_echoed
);
async fn local_changes_reach_business_central_once_and_imports_are_not_echoed(backend: Backend) {
    let env = TestEnv::start_on(backend, 60, 1).await;
    env.apply(&definitions(&env)).await;
    let imported = env.run("customers", Mode::Incremental).await;
    assert_eq!(imported.inserted, 60);
    // The table exists now; the first export installs its triggers and finds nothing to do.
    let quiet = export_of(&env.run("customers_out", Mode::Incremental).await);
    assert_eq!(quiet, ExportCounts::default());
    // A full export couples every row the import wrote: all are there remotely as they are here.
    let full = export_of(&env.run("customers_out", Mode::Full).await);
    assert_eq!(
        (full.unchanged, full.inserted, full.updated),
        (60, 0, 0),
        "{full:?}"
    );

    // An import's writes are Ferry's own: nothing of them enters the change log.
    env.mutate("RescoCustomer", 0, 20, 0);
    let reimported = env.run("customers", Mode::Incremental).await;
    assert_eq!(reimported.updated, 20, "{reimported:?}");
    assert_eq!(env.count("SELECT count(*) FROM ferry_changes").await, 0);

    let before = remote(&env);
    let keys: Vec<String> = before.keys().cloned().collect();
    let (updated, deleted) = (&keys[..10], &keys[10..13]);
    let list = |keys: &[String]| {
        keys.iter()
            .map(|k| format!("'{k}'"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    env.execute(&format!(
        "UPDATE customer SET name = 'Local ' || bc_no, city = 'Lisbon' WHERE bc_no IN ({})",
        list(updated)
    ))
    .await;
    // The same rows changed twice: one update each reaches the remote side.
    env.execute(&format!(
        "UPDATE customer SET phone = '+351 21 000' WHERE bc_no IN ({})",
        list(updated)
    ))
    .await;
    for n in 1..=5 {
        env.execute(&format!(
            "INSERT INTO customer (bc_no, name, city, phone, origin) \
                 VALUES ('LOCAL-{n}', 'O''Neil & Sons {n}', 'Porto', NULL, 'local')"
        ))
        .await;
    }
    env.execute(&format!(
        "DELETE FROM customer WHERE bc_no IN ({})",
        list(deleted)
    ))
    .await;

    // The preview says what the run will send, record by record, and sends nothing.
    let out = env
        .ferry_output(&["preview", "customers_out", "--json"])
        .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let preview: Value = serde_json::from_slice(&out.stdout).unwrap();
    let summary = &preview["outbound"]["summary"];
    assert_eq!(
        (
            &summary["changes"],
            &summary["create"],
            &summary["update"],
            &summary["delete"]
        ),
        (&28.into(), &5.into(), &10.into(), &3.into()),
        "{preview}"
    );
    let first = preview["outbound"]["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == format!("[\"{}\"]", updated[0]))
        .expect("the first updated record is listed");
    assert_eq!(first["op"], "update");
    assert_eq!(
        first["changes"]["Name"]["after"],
        format!("Local {}", updated[0])
    );
    assert_eq!(
        first["changes"]["Name"]["before"],
        before[&updated[0]]["Name"]
    );
    assert_eq!(env.count("SELECT count(*) FROM ferry_changes").await, 28);
    assert_eq!(remote(&env), before, "a preview writes nothing remotely");

    let run = env.run("customers_out", Mode::Incremental).await;
    let export = export_of(&run);
    assert_eq!(
        (
            export.inserted,
            export.updated,
            export.deleted,
            export.failed
        ),
        (5, 10, 3, 0),
        "{run:?}"
    );
    let after = remote(&env);
    for key in updated {
        let row = &after[key];
        assert_eq!(row["Name"], format!("Local {key}"));
        assert_eq!(row["City"], "Lisbon");
        assert_eq!(row["PhoneNo"], "+351 21 000");
        assert_eq!(
            row["Email"], before[key]["Email"],
            "a field the export does not map is left as it was"
        );
    }
    for key in deleted {
        assert!(!after.contains_key(key), "{key} is deleted remotely");
    }
    for n in 1..=5 {
        let row = &after[&format!("LOCAL-{n}")];
        assert_eq!(row["Name"], format!("O'Neil & Sons {n}"));
        assert_eq!(row["City"], "Porto");
    }
    assert_eq!(after.len(), before.len() + 5 - 3);
    assert_eq!(
        env.count("SELECT CAST(value AS BIGINT) FROM ferry_counters WHERE metric = 'ferry_exported_total' \
             AND labels = 'integration=\"customers_out\",op=\"inserted\"'"
        )
        .await,
        5,
        "/metrics counts what exports wrote"
    );
    assert_eq!(env.count("SELECT count(*) FROM ferry_changes").await, 0);

    // Nothing left to do in either direction: the import reads the rows the export changed and
    // writes them as Ferry's own, so the export after it has nothing either.
    let again = export_of(&env.run("customers_out", Mode::Incremental).await);
    assert_eq!(again, ExportCounts::default());
    env.run("customers", Mode::Incremental).await;
    assert_eq!(env.count("SELECT count(*) FROM ferry_changes").await, 0);
    let after_import = export_of(&env.run("customers_out", Mode::Incremental).await);
    assert_eq!(after_import, ExportCounts::default());
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test]
    an_export_whose_commit_was_lost_writes_nothing_twice
);
/// The state a crash between the remote writes and the local commit leaves: the remote side has
/// the page, the change log and the couplings do not know. The retry must create nothing twice.
async fn an_export_whose_commit_was_lost_writes_nothing_twice(backend: Backend) {
    let env = TestEnv::start_on(backend, 30, 1).await;
    env.apply(&definitions(&env)).await;
    env.run("customers", Mode::Incremental).await;
    env.run("customers_out", Mode::Incremental).await;
    // Every row once through an export, so each has an ETag the next update will send.
    let full = export_of(&env.run("customers_out", Mode::Full).await);
    assert_eq!(full.updated + full.unchanged, 30, "{full:?}");

    env.execute("UPDATE customer SET city = 'Faro' WHERE bc_no IN (SELECT bc_no FROM customer ORDER BY bc_no LIMIT 4)",
    )
    .await;
    for n in 1..=3 {
        env.execute(&format!(
                "INSERT INTO customer (bc_no, name, city, origin) VALUES ('NEW-{n}', 'New {n}', 'Faro', 'local')"
            ),
        )
        .await;
    }
    env.execute("CREATE TABLE saved_changes AS SELECT * FROM ferry_changes")
        .await;
    env.execute("CREATE TABLE saved_couplings AS SELECT * FROM ferry_couplings WHERE integration = 'customers_out'",
    )
    .await;
    let first = export_of(&env.run("customers_out", Mode::Incremental).await);
    assert_eq!((first.inserted, first.updated), (3, 4), "{first:?}");
    let written = remote(&env);

    // Undo the local commit only.
    env.execute("DELETE FROM ferry_couplings WHERE integration = 'customers_out'")
        .await;
    env.execute("INSERT INTO ferry_couplings SELECT * FROM saved_couplings")
        .await;
    env.execute("INSERT INTO ferry_changes SELECT * FROM saved_changes")
        .await;

    let retry = env.run("customers_out", Mode::Incremental).await;
    let export = export_of(&retry);
    assert_eq!(export.inserted, 0, "no record is created twice: {retry:?}");
    assert_eq!(export.failed, 0, "{retry:?}");
    assert_eq!(
        export.updated + export.unchanged,
        7,
        "the four updates are found done (412, then the record holds what was sent) and the \
         three creates are adopted: {retry:?}"
    );
    let now = remote(&env);
    assert_eq!(now.len(), written.len());
    for n in 1..=3 {
        assert_eq!(now[&format!("NEW-{n}")]["Name"], format!("New {n}"));
    }
    assert_eq!(
        export_of(&env.run("customers_out", Mode::Incremental).await),
        ExportCounts::default()
    );
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test]
    a_record_the_remote_refuses_fails_alone_with_its_payload_and_is_replayed
);
async fn a_record_the_remote_refuses_fails_alone_with_its_payload_and_is_replayed(
    backend: Backend,
) {
    let env = TestEnv::start_on(backend, 20, 1).await;
    env.apply(&definitions(&env)).await;
    env.run("customers", Mode::Incremental).await;
    env.run("customers_out", Mode::Incremental).await;
    // The operator's table takes longer names than Business Central does.
    if backend == Backend::Postgres {
        env.execute("ALTER TABLE customer ALTER COLUMN name TYPE text")
            .await;
    }
    let long = "x".repeat(300);
    env.execute(&format!(
            "INSERT INTO customer (bc_no, name, city, origin) VALUES ('TOO-LONG', '{long}', 'Faro', 'local')"
        ),
    )
    .await;
    for n in 1..=4 {
        env.execute(&format!(
                "INSERT INTO customer (bc_no, name, city, origin) VALUES ('FINE-{n}', 'Fine {n}', 'Faro', 'local')"
            ),
        )
        .await;
    }
    let run = env.run("customers_out", Mode::Incremental).await;
    let export = export_of(&run);
    assert_eq!((export.inserted, export.failed), (4, 1), "{run:?}");
    let after = remote(&env);
    assert!(!after.contains_key("TOO-LONG"));
    for n in 1..=4 {
        assert!(after.contains_key(&format!("FINE-{n}")));
    }
    let failures = ferry_shared::runs::run_failures(&env.db, run.run_id)
        .await
        .unwrap();
    assert_eq!(failures.len(), 1, "{failures:?}");
    let failure = &failures[0];
    assert_eq!(failure.record_key, r#"["TOO-LONG"]"#);
    assert!(
        failure.message.contains("refused the POST (400)") && failure.message.contains("length"),
        "{}",
        failure.message
    );
    assert_eq!(failure.payload["method"], "POST");
    assert_eq!(failure.payload["body"]["No"], "TOO-LONG");

    // `--retry-failed` sends the open failures again: refused again, as nothing changed.
    let replay = env.run("customers_out", Mode::RetryFailed).await;
    let export = export_of(&replay);
    assert_eq!(
        (replay.rows_read, export.failed, export.inserted),
        (1, 1, 0),
        "{replay:?}"
    );

    // Mended locally (a change the triggers capture), it goes with the next run, and its failure closes.
    env.execute("UPDATE customer SET name = 'Short now' WHERE bc_no = 'TOO-LONG'")
        .await;
    let mended = export_of(&env.run("customers_out", Mode::Incremental).await);
    assert_eq!((mended.inserted, mended.failed), (1, 0), "{mended:?}");
    assert_eq!(remote(&env)["TOO-LONG"]["Name"], "Short now");
    assert_eq!(
        env.count("SELECT count(*) FROM ferry_run_errors WHERE integration = 'customers_out' AND resolved_at IS NULL"
        )
        .await,
        0
    );
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test]
    a_batch_whose_reply_is_lost_after_it_was_applied_is_not_applied_twice
);
/// The sandbox applies a `$batch` and drops the connection before answering: the attempt fails, the
/// run's next attempt finds the records there and adopts them instead of creating them again.
async fn a_batch_whose_reply_is_lost_after_it_was_applied_is_not_applied_twice(backend: Backend) {
    let env = TestEnv::start_on(backend, 20, 1).await;
    env.apply(&definitions(&env)).await;
    env.run("customers", Mode::Incremental).await;
    env.run("customers_out", Mode::Full).await;
    for n in 1..=10 {
        env.execute(&format!(
                "INSERT INTO customer (bc_no, name, city, origin) VALUES ('LOST-{n:02}', 'Lost {n}', 'Evora', 'local')"
            ),
        )
        .await;
    }
    env.execute("UPDATE customer SET city = 'Evora' WHERE bc_no IN (SELECT bc_no FROM customer WHERE origin = 'bc' ORDER BY bc_no LIMIT 5)",
    )
    .await;
    env.control(
        "/_sandbox/faults",
        serde_json::json!({ "route": "*$batch*", "kind": "lost_reply", "times": 1 }),
    )
    .await;
    let run = env.run("customers_out", Mode::Incremental).await;
    let export = export_of(&run);
    assert_eq!(run.attempt, 2, "the lost reply cost one attempt: {run:?}");
    assert_eq!(export.failed, 0, "{run:?}");
    assert_eq!(
        export.inserted, 0,
        "the creates had landed; the retry adopts them: {run:?}"
    );
    let rows = remote(&env);
    for n in 1..=10 {
        assert_eq!(rows[&format!("LOST-{n:02}")]["Name"], format!("Lost {n}"));
    }
    assert_eq!(
        rows.values().filter(|r| r["City"] == "Evora").count(),
        15,
        "5 updates and 10 creates, each once"
    );
    assert_eq!(
        export_of(&env.run("customers_out", Mode::Incremental).await),
        ExportCounts::default()
    );
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test]
    check_reports_a_table_whose_capture_triggers_are_gone_and_a_run_puts_them_back
);
async fn check_reports_a_table_whose_capture_triggers_are_gone_and_a_run_puts_them_back(
    backend: Backend,
) {
    let env = TestEnv::start_on(backend, 10, 1).await;
    env.apply(&definitions(&env)).await;
    env.run("customers", Mode::Incremental).await;
    env.run("customers_out", Mode::Incremental).await;
    let key = vec!["bc_no".to_string()];
    let capture = ferry_shared::storage::Capture {
        integration: "customers_out",
        table: "customer",
        key_columns: &key,
    };
    ferry_shared::storage::Dialect::remove_capture(&env.db, &capture)
        .await
        .unwrap();
    let check = env.ferry_output(&["check", "customers_out"]).await;
    let said = String::from_utf8_lossy(&check.stdout);
    assert!(!check.status.success(), "{said}");
    assert!(said.contains("has no capture triggers"), "{said}");
    // Changes made meanwhile are not logged; the next run installs the triggers again.
    env.run("customers_out", Mode::Incremental).await;
    let check = env.ferry_output(&["check", "customers_out"]).await;
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    env.execute(
        "UPDATE customer SET city = 'Beja' WHERE bc_no = (SELECT min(bc_no) FROM customer)",
    )
    .await;
    assert_eq!(env.count("SELECT count(*) FROM ferry_changes").await, 1);
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test]
    a_deleted_export_stops_capturing_and_forgets_its_unsent_changes
);
async fn a_deleted_export_stops_capturing_and_forgets_its_unsent_changes(backend: Backend) {
    let env = TestEnv::start_on(backend, 10, 1).await;
    env.apply(&definitions(&env)).await;
    env.run("customers", Mode::Incremental).await;
    env.run("customers_out", Mode::Incremental).await;
    env.execute("UPDATE customer SET city = 'Beja'").await;
    assert_eq!(env.count("SELECT count(*) FROM ferry_changes").await, 10);
    let out = env.ferry_output(&["delete", "customers_out"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(env.count("SELECT count(*) FROM ferry_changes").await, 0);
    env.execute("UPDATE customer SET city = 'Faro'").await;
    assert_eq!(
        env.count("SELECT count(*) FROM ferry_changes").await,
        0,
        "no trigger is left logging for an integration that is gone"
    );
    env.finish().await;
}
