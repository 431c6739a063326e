//! Export to Dataverse (issue 16): local accounts reach Dataverse through its multipart `$batch`,
//! created by PATCH with `If-None-Match: *` under the local row's own GUID, so a create whose reply
//! was lost is found (412 DuplicateRecord) and adopted, never made twice.

use std::collections::BTreeMap;

use ferry_sandbox::SandboxConfig;
use ferry_shared::runs::{ExportCounts, Mode, RunSummary};
use serde_json::Value;

use crate::helpers::{Backend, TestEnv, dataverse_connection};

fn definitions(env: &TestEnv) -> std::path::PathBuf {
    let connection = dataverse_connection(&env.sandbox, "dv");
    let file = env.dir.join("dataverse_out.toml");
    std::fs::write(
        &file,
        format!(
            r#"{connection}
[[integration]]
name = "crm_accounts"
connection = "dv"
direction = "export"
source = {{ entity = "accounts", key = ["accountid"], version = "versionnumber" }}
target = {{ table = "crm_account", key = ["id"] }}
fields = [
  {{ from = "accountid", to = "id" }},
  {{ from = "name", to = "name" }},
  {{ from = "telephone1", to = "phone" }},
  {{ from = "revenue", to = "revenue" }},
]
deletes = {{ detect = "none", export = true }}
"#
        ),
    )
    .unwrap();
    file
}

/// The sandbox's accounts by id.
fn remote(env: &TestEnv) -> BTreeMap<String, serde_json::Map<String, Value>> {
    env.sandbox
        .rows("accounts")
        .into_iter()
        .map(|row| (row["accountid"].as_str().unwrap().to_string(), row))
        .collect()
}

fn export_of(run: &RunSummary) -> ExportCounts {
    assert_eq!(run.status, "succeeded", "{run:?}");
    run.export.expect("an export run reports export counts")
}

fn id(n: usize) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

crate::on_both_backends!(
    #[tokio::test]
    local_accounts_reach_dataverse_once_even_when_a_batch_reply_is_lost
);
async fn local_accounts_reach_dataverse_once_even_when_a_batch_reply_is_lost(backend: Backend) {
    let env = TestEnv::with_sandbox_on(
        backend,
        SandboxConfig {
            accounts: 5,
            dv_contacts: 1,
            seed: 7,
            ..SandboxConfig::default()
        },
    )
    .await;
    let mut env = env;
    env.start_worker();
    env.execute("CREATE TABLE crm_account (id varchar(36) PRIMARY KEY, name text, phone text, revenue numeric(19,4))",
    )
    .await;
    env.apply(&definitions(&env)).await;
    for n in 1..=20 {
        env.execute(&format!(
                "INSERT INTO crm_account (id, name, phone, revenue) VALUES ('{}', 'Account {n}', '+351 {n}', {n}000.2500)",
                id(n)
            ),
        )
        .await;
    }
    let before = remote(&env).len();
    let first = env.run("crm_accounts", Mode::Incremental).await;
    let export = export_of(&first);
    assert_eq!((export.inserted, export.failed), (20, 0), "{first:?}");
    let rows = remote(&env);
    assert_eq!(rows.len(), before + 20);
    let one = &rows[&id(7)];
    assert_eq!(one["name"], "Account 7");
    assert_eq!(one["telephone1"], "+351 7");
    assert_eq!(
        one["revenue"], "7000.2500",
        "the money arrives with every digit (the sandbox shows it as its exact text)"
    );

    // Updates, a delete and new accounts, with the batch's reply lost once after it was applied.
    env.execute(&format!(
        "UPDATE crm_account SET phone = '+351 999' WHERE id IN ('{}', '{}')",
        id(1),
        id(2)
    ))
    .await;
    env.execute(&format!("DELETE FROM crm_account WHERE id = '{}'", id(3)))
        .await;
    for n in 21..=25 {
        env.execute(&format!(
                "INSERT INTO crm_account (id, name, phone, revenue) VALUES ('{}', 'Account {n}', NULL, NULL)",
                id(n)
            ),
        )
        .await;
    }
    env.control(
        "/_sandbox/faults",
        serde_json::json!({ "route": "*$batch*", "kind": "lost_reply", "times": 1 }),
    )
    .await;
    let second = env.run("crm_accounts", Mode::Incremental).await;
    let export = export_of(&second);
    assert_eq!(
        second.attempt, 2,
        "the lost reply cost one attempt: {second:?}"
    );
    assert_eq!(export.failed, 0, "{second:?}");
    assert_eq!(
        export.inserted, 0,
        "the creates had landed; 412 says so: {second:?}"
    );
    let rows = remote(&env);
    assert_eq!(rows.len(), before + 24, "5 new, 1 deleted, none twice");
    assert!(!rows.contains_key(&id(3)));
    assert_eq!(rows[&id(1)]["telephone1"], "+351 999");
    assert_eq!(rows[&id(23)]["name"], "Account 23");
    assert_eq!(
        export_of(&env.run("crm_accounts", Mode::Incremental).await),
        ExportCounts::default()
    );
    env.finish().await;
}
