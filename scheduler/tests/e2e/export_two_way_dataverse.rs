//! Two-way sync with Dataverse (issue 16): accounts read by change tracking and written back through
//! the multipart `$batch`, with the same conflict policies and no echo as Business Central.

use std::collections::BTreeMap;

use ferry_sandbox::SandboxConfig;
use ferry_shared::runs::{Mode, RunSummary};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestEnv, dataverse_connection};

const ACCOUNTS: usize = 100;

async fn start(backend: Backend, conflict: &str) -> TestEnv {
    let mut env = TestEnv::with_sandbox_on(
        backend,
        SandboxConfig {
            accounts: ACCOUNTS,
            dv_contacts: 1,
            seed: 7,
            ..SandboxConfig::default()
        },
    )
    .await;
    env.start_worker();
    let connection = dataverse_connection(&env.sandbox, "dv");
    let file = env.dir.join("accounts.toml");
    std::fs::write(
        &file,
        format!(
            r#"{connection}
[[integration]]
name = "accounts"
connection = "dv"
direction = "bidirectional"
conflict = "{conflict}"
source = {{ entity = "accounts", key = ["accountid"] }}
target = {{ table = "account", key = ["accountid"], create = true }}
fields = [
  {{ from = "accountid", to = "accountid" }},
  {{ from = "name", to = "name" }},
  {{ from = "telephone1", to = "phone" }},
  {{ from = "versionnumber", to = "version", export = false }},
]
"#
        ),
    )
    .unwrap();
    env.apply(&file).await;
    env
}

fn remote(env: &TestEnv) -> BTreeMap<String, serde_json::Map<String, Value>> {
    env.sandbox
        .rows("accounts")
        .into_iter()
        .map(|row| (row["accountid"].as_str().unwrap().to_string(), row))
        .collect()
}

async fn local_names(env: &TestEnv) -> BTreeMap<String, String> {
    env.table("account", &["accountid", "name"], "accountid")
        .await
        .into_iter()
        .map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap_or_default()))
        .collect()
}

/// Someone renames `ids` in Dataverse: PATCHes through the Web API.
async fn remote_rename(env: &TestEnv, ids: &[String]) {
    let http = reqwest::Client::new();
    let token: Value = http
        .post(format!(
            "{}/sandbox/oauth2/v2.0/token",
            env.sandbox.base_url()
        ))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "ferry"),
            ("client_secret", "ferry-secret"),
            ("scope", env.sandbox.dataverse_scope().as_str()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bearer = token["access_token"].as_str().unwrap().to_string();
    for id in ids {
        let response = http
            .patch(format!("{}accounts({id})", env.sandbox.dataverse_url()))
            .bearer_auth(&bearer)
            .header("If-Match", "*")
            .json(&json!({ "name": format!("Remote {id}") }))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{}", response.status());
    }
}

fn new_id(n: usize) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

struct Scenario {
    run: RunSummary,
    both: Vec<String>,
    local_only: Vec<String>,
    remote_only: Vec<String>,
}

/// After a full import: 50 local renames, 10 local inserts, 50 remote renames, 10 of them of
/// locally renamed accounts; then one two-way run.
async fn scenario(env: &TestEnv) -> Scenario {
    let first = env.run("accounts", Mode::Incremental).await;
    assert_eq!(first.inserted, ACCOUNTS as i64, "{first:?}");
    let ids: Vec<String> = remote(env).keys().cloned().collect();
    let both = ids[..10].to_vec();
    let local_only = ids[10..50].to_vec();
    let remote_only = ids[50..90].to_vec();
    let list = |ids: &[String]| {
        ids.iter()
            .map(|k| format!("'{k}'"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let cast = if env.backend == Backend::Postgres {
        "accountid::text"
    } else {
        "accountid"
    };
    env.execute(&format!(
        "UPDATE account SET name = 'Local ' || {cast} WHERE accountid IN ({}, {})",
        list(&both),
        list(&local_only)
    ))
    .await;
    for n in 1..=10 {
        env.execute(&format!(
            "INSERT INTO account (accountid, name, phone) VALUES ('{}', 'New {n}', '+351 {n}')",
            new_id(n)
        ))
        .await;
    }
    let remote_changed: Vec<String> = both.iter().chain(&remote_only).cloned().collect();
    remote_rename(env, &remote_changed).await;
    let run = env.run("accounts", Mode::Incremental).await;
    assert_eq!(run.status, "succeeded", "{run:?}");
    Scenario {
        run,
        both,
        local_only,
        remote_only,
    }
}

async fn assert_quiet(env: &TestEnv) {
    let next = env.run("accounts", Mode::Incremental).await;
    let export = next.export.unwrap();
    assert_eq!(
        (
            next.inserted,
            next.updated,
            next.deleted,
            export.inserted,
            export.updated,
            export.deleted,
            export.failed
        ),
        (0, 0, 0, 0, 0, 0, 0),
        "{next:?}"
    );
}

fn assert_new_accounts_exist_once(env: &TestEnv) {
    let rows = remote(env);
    assert_eq!(rows.len(), ACCOUNTS + 10);
    for n in 1..=10 {
        assert_eq!(rows[&new_id(n)]["name"], format!("New {n}"));
    }
}

crate::on_both_backends!(
    #[tokio::test]
    dataverse_remote_wins
);
async fn dataverse_remote_wins(backend: Backend) {
    let env = start(backend, "remote_wins").await;
    let s = scenario(&env).await;
    let export = s.run.export.unwrap();
    assert_eq!(s.run.updated, 50, "{:?}", s.run);
    assert_eq!(
        (
            export.inserted,
            export.updated,
            export.conflicts,
            export.failed
        ),
        (10, 40, 10, 0),
        "{:?}",
        s.run
    );
    let (remote, local) = (remote(&env), local_names(&env).await);
    for id in &s.both {
        assert_eq!(remote[id]["name"], format!("Remote {id}"));
        assert_eq!(local[id], format!("Remote {id}"));
    }
    for id in &s.local_only {
        assert_eq!(remote[id]["name"], format!("Local {id}"));
    }
    for id in &s.remote_only {
        assert_eq!(local[id], format!("Remote {id}"));
    }
    assert_new_accounts_exist_once(&env);
    assert_quiet(&env).await;
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test]
    dataverse_local_wins
);
async fn dataverse_local_wins(backend: Backend) {
    let env = start(backend, "local_wins").await;
    let s = scenario(&env).await;
    let export = s.run.export.unwrap();
    assert_eq!(s.run.updated, 40, "{:?}", s.run);
    assert_eq!(
        (
            export.inserted,
            export.updated,
            export.conflicts,
            export.failed
        ),
        (10, 50, 10, 0),
        "{:?}",
        s.run
    );
    let remote = remote(&env);
    for id in s.both.iter().chain(&s.local_only) {
        assert_eq!(remote[id]["name"], format!("Local {id}"));
    }
    assert_new_accounts_exist_once(&env);
    assert_quiet(&env).await;
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test]
    dataverse_manual
);
async fn dataverse_manual(backend: Backend) {
    let env = start(backend, "manual").await;
    let s = scenario(&env).await;
    let export = s.run.export.unwrap();
    assert_eq!(
        (
            export.inserted,
            export.updated,
            export.conflicts,
            export.failed
        ),
        (10, 40, 10, 0),
        "{:?}",
        s.run
    );
    let (remote, local) = (remote(&env), local_names(&env).await);
    for id in &s.both {
        assert_eq!(remote[id]["name"], format!("Remote {id}"));
        assert_eq!(local[id], format!("Local {id}"));
    }
    let listed = env.ferry_output(&["conflicts", "accounts", "--json"]).await;
    let conflicts: Vec<Value> = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(conflicts.len(), 10);
    assert_new_accounts_exist_once(&env);
    assert_quiet(&env).await;
    env.finish().await;
}
