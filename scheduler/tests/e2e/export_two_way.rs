//! Two-way sync (issue 16): one bidirectional run imports, then exports; records changed on both
//! sides follow the integration's conflict policy, and the next run has nothing to do either way.

use std::collections::BTreeMap;

use ferry_shared::runs::{Mode, RunSummary};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestEnv, bc_connection};

const CUSTOMERS: usize = 100;

fn definitions(env: &TestEnv, conflict: &str) -> std::path::PathBuf {
    definitions_with(env, conflict, "")
}

fn definitions_with(env: &TestEnv, conflict: &str, extra: &str) -> std::path::PathBuf {
    let connection = bc_connection(&env.sandbox, "bc", &env.sandbox.resco_url());
    let file = env.dir.join("two_way.toml");
    std::fs::write(
        &file,
        format!(
            r#"{connection}
[[integration]]
name = "customers"
connection = "bc"
direction = "bidirectional"
conflict = "{conflict}"
source = {{ entity = "RescoCustomer", key = ["No"], version = "RowVersionNumber" }}
target = {{ table = "customer", key = ["no"], create = true }}
fields = [
  {{ from = "No", to = "no" }},
  {{ from = "Name", to = "name" }},
  {{ from = "City", to = "city" }},
  {{ from = "Email", to = "email" }},
  {{ from = "RowVersionNumber", to = "row_version", export = false }},
]
{extra}
"#
        ),
    )
    .unwrap();
    file
}

fn remote(env: &TestEnv) -> BTreeMap<String, serde_json::Map<String, Value>> {
    env.sandbox
        .rows("RescoCustomer")
        .into_iter()
        .map(|row| (row["No"].as_str().unwrap().to_string(), row))
        .collect()
}

async fn local_names(env: &TestEnv) -> BTreeMap<String, String> {
    env.table("customer", &["no", "name"], "no")
        .await
        .into_iter()
        .map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap_or_default()))
        .collect()
}

/// Someone else changes `keys` in Business Central: one `$batch` of PATCHes through the API.
async fn remote_rename(env: &TestEnv, keys: &[String], name: impl Fn(&str) -> String) {
    remote_batch(env, keys, |url, key| {
        json!({
            "method": "PATCH",
            "url": url,
            "headers": {"Content-Type": "application/json", "If-Match": "*"},
            "body": {"Name": name(key)},
        })
    })
    .await;
}

/// Someone else deletes `keys` in Business Central.
async fn remote_delete(env: &TestEnv, keys: &[String]) {
    remote_batch(
        env,
        keys,
        |url, _| json!({ "method": "DELETE", "url": url, "headers": {"If-Match": "*"} }),
    )
    .await;
}

/// One `$batch` per 100 of `keys` through the API, each operation made by `operation(record URL,
/// key)`; every operation must succeed.
async fn remote_batch(env: &TestEnv, keys: &[String], operation: impl Fn(&str, &str) -> Value) {
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
            ("scope", "https://api.businesscentral.dynamics.com/.default"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bearer = token["access_token"].as_str().unwrap().to_string();
    let root = env.sandbox.resco_url();
    let companies: Value = http
        .get(format!("{root}/companies"))
        .bearer_auth(&bearer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let company = companies["value"][0]["id"].as_str().unwrap().to_string();
    for chunk in keys.chunks(100) {
        let requests: Vec<Value> = chunk
            .iter()
            .enumerate()
            .map(|(n, key)| {
                let url = format!("{root}/companies({company})/RescoCustomer('{key}')");
                let mut op = operation(&url, key);
                op["id"] = n.to_string().into();
                op
            })
            .collect();
        let answer: Value = http
            .post(format!("{root}/$batch"))
            .bearer_auth(&bearer)
            .json(&json!({ "requests": requests }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for response in answer["responses"].as_array().unwrap() {
            assert!(
                response["status"]
                    .as_u64()
                    .is_some_and(|s| (200..300).contains(&s)),
                "{response}"
            );
        }
    }
}

/// The scenario of issue 16 at a smaller scale: after a full import, 50 local updates, 10 local
/// inserts and 50 remote updates, 10 of them on locally updated records. Returns the run, the keys
/// changed on both sides, those changed only locally and only remotely.
struct Scenario {
    run: RunSummary,
    both: Vec<String>,
    local_only: Vec<String>,
    remote_only: Vec<String>,
}

async fn scenario(env: &TestEnv, conflict: &str) -> Scenario {
    scenario_losing(env, conflict, false).await
}

/// `scenario`, with the reply to the run's first `$batch` lost after the sandbox applied it when
/// `lose_a_reply`.
async fn scenario_losing(env: &TestEnv, conflict: &str, lose_a_reply: bool) -> Scenario {
    env.apply(&definitions(env, conflict)).await;
    let first = env.run("customers", Mode::Incremental).await;
    assert_eq!(first.inserted, CUSTOMERS as i64, "{first:?}");
    let export = first.export.expect("a two-way run reports its export");
    assert_eq!(
        (export.inserted, export.updated, export.conflicts),
        (0, 0, 0),
        "{first:?}"
    );
    let keys: Vec<String> = remote(env).keys().cloned().collect();
    let both = keys[..10].to_vec();
    let local_only = keys[10..50].to_vec();
    let remote_only = keys[50..90].to_vec();
    let list = |keys: &[String]| {
        keys.iter()
            .map(|k| format!("'{k}'"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    env.execute(&format!(
        "UPDATE customer SET name = 'Local ' || no WHERE no IN ({}, {})",
        list(&both),
        list(&local_only)
    ))
    .await;
    for n in 1..=10 {
        env.execute(&format!(
                "INSERT INTO customer (no, name, city, email) VALUES ('NEW-{n:02}', 'New {n}', 'Braga', 'new{n}@example.com')"
            ),
        )
        .await;
    }
    let remote_changed: Vec<String> = both.iter().chain(&remote_only).cloned().collect();
    remote_rename(env, &remote_changed, |k| format!("Remote {k}")).await;
    if lose_a_reply {
        env.control(
            "/_sandbox/faults",
            json!({ "route": "*$batch*", "kind": "lost_reply", "times": 1 }),
        )
        .await;
    }
    let run = env.run("customers", Mode::Incremental).await;
    assert_eq!(run.status, "succeeded", "{run:?}");
    Scenario {
        run,
        both,
        local_only,
        remote_only,
    }
}

/// The run after: nothing to do in either direction (no echo).
async fn assert_quiet(env: &TestEnv) {
    let next = env.run("customers", Mode::Incremental).await;
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

crate::on_both_backends!(
    #[tokio::test]
    remote_wins_writes_the_remote_version_of_conflicts_and_exports_the_rest
);
async fn remote_wins_writes_the_remote_version_of_conflicts_and_exports_the_rest(backend: Backend) {
    let env = TestEnv::start_on(backend, CUSTOMERS, 1).await;
    let s = scenario(&env, "remote_wins").await;
    let export = s.run.export.unwrap();
    assert_eq!(
        s.run.updated, 50,
        "every remote update is written: {:?}",
        s.run
    );
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
    for key in &s.both {
        assert_eq!(remote[key]["Name"], format!("Remote {key}"));
        assert_eq!(local[key], format!("Remote {key}"));
    }
    for key in &s.local_only {
        assert_eq!(remote[key]["Name"], format!("Local {key}"));
    }
    for key in &s.remote_only {
        assert_eq!(local[key], format!("Remote {key}"));
    }
    let new: Vec<&String> = remote.keys().filter(|k| k.starts_with("NEW-")).collect();
    assert_eq!(new.len(), 10, "each new record exists once remotely");
    assert_quiet(&env).await;
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test]
    local_wins_writes_the_local_version_of_conflicts_over_the_remote_one
);
async fn local_wins_writes_the_local_version_of_conflicts_over_the_remote_one(backend: Backend) {
    let env = TestEnv::start_on(backend, CUSTOMERS, 1).await;
    let s = scenario(&env, "local_wins").await;
    let export = s.run.export.unwrap();
    assert_eq!(
        s.run.updated, 40,
        "the conflicts are not imported: {:?}",
        s.run
    );
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
    let (remote, local) = (remote(&env), local_names(&env).await);
    for key in s.both.iter().chain(&s.local_only) {
        assert_eq!(remote[key]["Name"], format!("Local {key}"));
        assert_eq!(local[key], format!("Local {key}"));
    }
    for key in &s.remote_only {
        assert_eq!(local[key], format!("Remote {key}"));
    }
    assert_quiet(&env).await;
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test]
    manual_holds_conflicts_until_an_operator_keeps_one_side
);
async fn manual_holds_conflicts_until_an_operator_keeps_one_side(backend: Backend) {
    let env = TestEnv::start_on(backend, CUSTOMERS, 1).await;
    let s = scenario(&env, "manual").await;
    let export = s.run.export.unwrap();
    assert_eq!(s.run.updated, 40, "{:?}", s.run);
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
    let (remote_rows, local) = (remote(&env), local_names(&env).await);
    for key in &s.both {
        assert_eq!(
            remote_rows[key]["Name"],
            format!("Remote {key}"),
            "neither side written"
        );
        assert_eq!(local[key], format!("Local {key}"));
    }
    let listed = env.ferry_output(&["conflicts", "--json"]).await;
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let conflicts: Vec<Value> = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(conflicts.len(), 10, "{conflicts:?}");
    let first = &conflicts[0];
    let key = first["remote_key"].as_str().unwrap().to_string();
    assert_eq!(first["local"]["name"], format!("Local {key}"));
    assert_eq!(first["remote"]["name"], format!("Remote {key}"));

    // The next run changes nothing while they are open.
    assert_quiet(&env).await;

    let (keep_local, keep_remote) = (&conflicts[0], &conflicts[1]);
    for (conflict, keep) in [(keep_local, "local"), (keep_remote, "remote")] {
        let id = conflict["id"].to_string();
        let out = env
            .ferry_output(&["conflicts", "resolve", &id, "--keep", keep])
            .await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let local_key = keep_local["remote_key"].as_str().unwrap().to_string();
    let remote_key = keep_remote["remote_key"].as_str().unwrap().to_string();
    assert_eq!(
        local_names(&env).await[&remote_key],
        format!("Remote {remote_key}"),
        "keeping the remote version writes it locally at once"
    );
    let after = env.run("customers", Mode::Incremental).await;
    let export = after.export.unwrap();
    assert_eq!((export.updated, export.failed), (1, 0), "{after:?}");
    assert_eq!(
        remote(&env)[&local_key]["Name"],
        format!("Local {local_key}")
    );
    let listed = env.ferry_output(&["conflicts", "--json"]).await;
    let open: Vec<Value> = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(open.len(), 8);
    assert_quiet(&env).await;
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test]
    a_two_way_run_whose_batch_reply_is_lost_creates_nothing_twice_and_holds_no_false_conflict
);
/// The export phase's batch is applied and its reply lost: the retried run's import phase reads
/// Ferry's own writes back. Where they hold what the local rows hold, that is agreement, not a
/// conflict; the new records exist once.
async fn a_two_way_run_whose_batch_reply_is_lost_creates_nothing_twice_and_holds_no_false_conflict(
    backend: Backend,
) {
    let env = TestEnv::start_on(backend, CUSTOMERS, 1).await;
    let s = scenario_losing(&env, "manual", true).await;
    assert_eq!(
        s.run.attempt, 2,
        "the lost reply cost one attempt: {:?}",
        s.run
    );
    let export = s.run.export.unwrap();
    assert_eq!((export.conflicts, export.failed), (10, 0), "{:?}", s.run);
    let listed = env.ferry_output(&["conflicts", "--json"]).await;
    let conflicts: Vec<Value> = serde_json::from_slice(&listed.stdout).unwrap();
    let mut held: Vec<String> = conflicts
        .iter()
        .map(|c| c["remote_key"].as_str().unwrap().to_string())
        .collect();
    held.sort();
    assert_eq!(
        held, s.both,
        "only the records changed on both sides are held"
    );
    let (remote, local) = (remote(&env), local_names(&env).await);
    for key in &s.local_only {
        assert_eq!(remote[key]["Name"], format!("Local {key}"));
    }
    for key in &s.remote_only {
        assert_eq!(local[key], format!("Remote {key}"));
    }
    let new: Vec<&String> = remote.keys().filter(|k| k.starts_with("NEW-")).collect();
    assert_eq!(new.len(), 10, "each new record exists once remotely");
    assert_quiet(&env).await;
    env.finish().await;
}

/// Records deleted on one side and changed on the other, under `deletes.conflict`: returns the keys
/// deleted locally (and renamed remotely) and those deleted remotely (and renamed locally).
async fn deletion_conflicts(env: &TestEnv, policy: &str) -> (Vec<String>, Vec<String>, RunSummary) {
    env.apply(&definitions_with(
        env,
        "local_wins",
        &format!(r#"deletes = {{ detect = "none", export = true, conflict = "{policy}" }}"#),
    ))
    .await;
    env.run("customers", Mode::Incremental).await;
    let keys: Vec<String> = remote(env).keys().cloned().collect();
    let (deleted_here, deleted_there) = (keys[..3].to_vec(), keys[3..6].to_vec());
    let list = |keys: &[String]| {
        keys.iter()
            .map(|k| format!("'{k}'"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    env.execute(&format!(
        "DELETE FROM customer WHERE no IN ({})",
        list(&deleted_here)
    ))
    .await;
    remote_rename(env, &deleted_here, |k| format!("Remote {k}")).await;
    env.execute(&format!(
        "UPDATE customer SET name = 'Local ' || no WHERE no IN ({})",
        list(&deleted_there)
    ))
    .await;
    remote_delete(env, &deleted_there).await;
    let run = env.run("customers", Mode::Incremental).await;
    assert_eq!(run.status, "succeeded", "{run:?}");
    (deleted_here, deleted_there, run)
}

crate::on_both_backends!(
    #[tokio::test]
    a_deletion_conflict_restores_the_deleted_side_under_restore
);
async fn a_deletion_conflict_restores_the_deleted_side_under_restore(backend: Backend) {
    let env = TestEnv::start_on(backend, 20, 1).await;
    let (here, there, run) = deletion_conflicts(&env, "restore").await;
    assert_eq!(run.export.unwrap().conflicts, 6, "{run:?}");
    let (remote, local) = (remote(&env), local_names(&env).await);
    for key in &here {
        assert_eq!(local[key], format!("Remote {key}"), "restored locally");
    }
    for key in &there {
        assert_eq!(
            remote[key]["Name"],
            format!("Local {key}"),
            "restored remotely"
        );
    }
    assert_quiet(&env).await;
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test]
    a_deletion_conflict_uncouples_the_pair_under_remove_coupling
);
async fn a_deletion_conflict_uncouples_the_pair_under_remove_coupling(backend: Backend) {
    let env = TestEnv::start_on(backend, 20, 1).await;
    let (here, there, run) = deletion_conflicts(&env, "remove_coupling").await;
    assert_eq!(run.export.unwrap().conflicts, 6, "{run:?}");
    let (remote, local) = (remote(&env), local_names(&env).await);
    for key in &here {
        assert!(!local.contains_key(key), "stays deleted locally");
        assert_eq!(
            remote[key]["Name"],
            format!("Remote {key}"),
            "kept remotely"
        );
    }
    for key in &there {
        assert!(!remote.contains_key(key), "stays deleted remotely");
        assert_eq!(local[key], format!("Local {key}"), "kept locally");
    }
    let coupled = env
        .count("SELECT count(*) FROM ferry_couplings WHERE integration = 'customers'")
        .await;
    assert_eq!(coupled, 14, "the six pairs are uncoupled");
    assert_quiet(&env).await;
    env.finish().await;
}

/// The console's conflicts page: both versions side by side with the differing column marked, and
/// its buttons keep one side, as `ferry conflicts resolve` does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_shows_manual_conflicts_and_resolves_them() {
    let mut env = TestEnv::start(CUSTOMERS, 1).await;
    let s = scenario(&env, "manual").await;
    let base = env.start_scheduler().await;
    let mut visitor = crate::console::Visitor::new(&base);
    visitor.sign_in().await;
    let page = visitor.get("/conflicts").await.text().await.unwrap();
    for key in &s.both {
        assert!(page.contains(&format!("Local {key}")), "{key}");
        assert!(page.contains(&format!("Remote {key}")), "{key}");
    }
    assert_eq!(page.matches("/resolve\"").count(), 2 * s.both.len());
    assert!(page.contains("differs"));
    let id = page
        .split("action=\"/conflicts/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .to_string();
    let conflict: Value = {
        let listed = env.ferry_output(&["conflicts", "--json"]).await;
        let all: Vec<Value> = serde_json::from_slice(&listed.stdout).unwrap();
        all.into_iter()
            .find(|c| c["id"].as_i64().map(|n| n.to_string()).as_deref() == Some(id.as_str()))
            .expect("the page's first conflict is stored")
    };
    let key = conflict["remote_key"].as_str().unwrap().to_string();
    let csrf = crate::console::csrf_in(&page);
    let resolved = visitor
        .post(
            &format!("/conflicts/{id}/resolve"),
            &[("csrf", csrf.as_str()), ("keep", "remote")],
        )
        .await;
    assert_eq!(resolved.status(), 303);
    assert_eq!(local_names(&env).await[&key], format!("Remote {key}"));
    let page = visitor
        .get("/conflicts?notice=resolved")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Conflict resolved."));
    assert_eq!(page.matches("/resolve\"").count(), 2 * (s.both.len() - 1));
    let again = visitor
        .post(
            &format!("/conflicts/{id}/resolve"),
            &[("csrf", csrf.as_str()), ("keep", "local")],
        )
        .await;
    assert_eq!(again.status(), 409, "resolved already");
    env.finish().await;
}
