//! Definitions have a lifecycle: `ferry disable` / `enable` / `delete` and `ferry integrations` /
//! `show`, and the same through the API. A disabled integration is not scheduled and its triggers are
//! refused (409); a deleted one keeps its runs and target table, is neither scheduled nor triggered,
//! and comes back when its file is applied again.

use std::time::Duration;

use ferry_scheduler::cli;
use ferry_shared::runs::{self, Mode};
use serde_json::Value;

use crate::helpers::{API_TOKEN, Backend, TestEnv};

/// The test definitions with `customers` on a cron of every second.
fn scheduled(env: &TestEnv) -> std::path::PathBuf {
    let file = env.write_definitions("");
    let text = std::fs::read_to_string(&file).unwrap().replace(
        "direction = \"import\"",
        "direction = \"import\"\nschedule = \"* * * * * *\"\nallow_frequent = true",
    );
    std::fs::write(&file, text).unwrap();
    file
}

/// How many runs of `customers` the cron made so far.
async fn ticks(env: &TestEnv) -> usize {
    runs::list(&env.db, Some("customers"), 10_000)
        .await
        .unwrap()
        .iter()
        .filter(|r| r.trigger == "schedule")
        .count()
}

/// Waits (bounded) until the cron made more than `than` runs of `customers`.
async fn ticks_beyond(env: &TestEnv, than: usize) -> usize {
    for _ in 0..100 {
        let now = ticks(env).await;
        if now > than {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no scheduled run within 10 s (still {than})");
}

/// Waits (bounded) until no run of `customers` is queued or running.
async fn settled(env: &TestEnv) {
    for _ in 0..300 {
        let open = runs::list(&env.db, Some("customers"), 10)
            .await
            .unwrap()
            .iter()
            .any(|r| r.state == "queued" || r.state == "running");
        if !open {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("runs of customers still open after 30 s");
}

async fn api_trigger(api: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{api}/api/v1/integrations/customers/runs"))
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn api(method: reqwest::Method, url: String) -> (u16, Value) {
    let response = reqwest::Client::new()
        .request(method, url)
        .bearer_auth(API_TOKEN)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

crate::on_both_backends!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    disable_stops_the_schedule_and_refuses_triggers_until_enable
);
async fn disable_stops_the_schedule_and_refuses_triggers_until_enable(backend: Backend) {
    let mut env = TestEnv::start_on(backend, 30, 2).await;
    env.apply(&scheduled(&env)).await;
    let api_url = env.start_scheduler().await;
    ticks_beyond(&env, 0).await;

    let output = env.ferry(&["disable", "customers"]).output().unwrap();
    assert!(output.status.success(), "{output:?}");
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("customers disabled"),
        "{output:?}"
    );
    // A tick in flight when it was disabled may still end; after that the cron makes none.
    tokio::time::sleep(Duration::from_millis(500)).await;
    settled(&env).await;
    let before = ticks(&env).await;
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(
        ticks(&env).await,
        before,
        "a disabled integration is not scheduled"
    );

    // Every trigger is refused: the API with 409, the CLI with a clear error and exit code 1.
    let (status, body) = api_trigger(&api_url).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("customers is disabled"),
        "{body}"
    );
    let run = env.ferry(&["run", "customers", "--wait"]).output().unwrap();
    assert_eq!(run.status.code(), Some(1), "{run:?}");
    let said = String::from_utf8_lossy(&run.stderr);
    assert!(
        said.contains("customers is disabled") && said.contains("ferry enable customers"),
        "{said}"
    );
    let refused = cli::trigger(&env.db, &env.settings, "customers", Mode::Incremental).await;
    assert!(refused.is_err(), "{refused:?}");
    // The list says so.
    let (status, listed) = api(
        reqwest::Method::GET,
        format!("{api_url}/api/v1/integrations"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(listed[0]["name"], "customers");
    assert_eq!(listed[0]["enabled"], false, "{listed}");
    assert_eq!(listed[0]["next_run"], Value::Null, "{listed}");
    // Re-applying keeps it disabled.
    env.apply(&scheduled(&env)).await;
    assert_eq!(api_trigger(&api_url).await.0, 409);

    // Enabling (through the API this time) restores both.
    let (status, body) = api(
        reqwest::Method::POST,
        format!("{api_url}/api/v1/integrations/customers/enable"),
    )
    .await;
    assert_eq!(
        (status, &body["state"]),
        (200, &Value::from("enabled")),
        "{body}"
    );
    ticks_beyond(&env, before).await;
    let (status, body) = api_trigger(&api_url).await;
    assert_eq!(status, 202, "{body}");
    env.stop_schedulers().await;
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    delete_cancels_the_running_run_and_keeps_the_table_and_history
);
async fn delete_cancels_the_running_run_and_keeps_the_table_and_history(backend: Backend) {
    let mut env = TestEnv::without_worker_on(backend, 3_000, 2).await;
    env.settings.worker.page_size = 500;
    env.start_worker();
    env.apply(&env.write_definitions("")).await;
    let first = env.run("customers", Mode::Incremental).await;
    assert_eq!(first.status, "succeeded", "{:?}", first.error);
    let rows = env.table("customer", &["bc_no"], "bc_no").await.len();
    assert_eq!(rows, 3_000);

    // A full re-read, slowed down, is running when the integration is deleted.
    env.slow_pages(1_000).await;
    let running = cli::trigger(&env.db, &env.settings, "customers", Mode::Full)
        .await
        .unwrap();
    env.wait_until(running, "running", |r| r.status == "running")
        .await;
    let output = env.ferry(&["delete", "customers"]).output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        said.contains(&format!("run {running} stops after the page in hand"))
            && said.contains("customers deleted"),
        "{said}"
    );
    let ended = cli::wait_for(&env.db, running, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(ended.status, "cancelled", "{ended:?}");
    env.clear_faults().await;

    // The table and the history stay.
    assert_eq!(
        env.table("customer", &["bc_no"], "bc_no").await.len(),
        3_000
    );
    let history = runs::list(&env.db, Some("customers"), 10).await.unwrap();
    assert!(history.iter().any(|r| r.id == first.run_id), "{history:?}");

    // It can no longer be triggered (CLI and API) nor scheduled, and it is not listed.
    let refused = env.ferry(&["run", "customers"]).output().unwrap();
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("customers was deleted"),
        "{refused:?}"
    );
    let api_url = env.start_scheduler().await;
    let (status, body) = api_trigger(&api_url).await;
    assert_eq!(status, 404, "{body}");
    let (_, listed) = api(
        reqwest::Method::GET,
        format!("{api_url}/api/v1/integrations"),
    )
    .await;
    assert_eq!(listed, serde_json::json!([]));
    let (status, _) = api(
        reqwest::Method::GET,
        format!("{api_url}/api/v1/integrations/customers"),
    )
    .await;
    assert_eq!(status, 404);
    // Applied again (now with a schedule) it is live and scheduled; deleted again (through the API)
    // the schedule stops.
    env.apply(&scheduled(&env)).await;
    ticks_beyond(&env, 0).await;
    let (status, body) = api(
        reqwest::Method::DELETE,
        format!("{api_url}/api/v1/integrations/customers"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    settled(&env).await;
    let before = ticks(&env).await;
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(
        ticks(&env).await,
        before,
        "a deleted integration is not scheduled"
    );
    env.stop_schedulers().await;

    // Applied again, it is live: a new version, and its runs work from the kept checkpoint.
    env.apply(&env.write_definitions("")).await;
    let back = env.run("customers", Mode::Incremental).await;
    assert_eq!(back.status, "succeeded", "{:?}", back.error);
    assert_eq!(back.definition_version, 3, "{back:?}");
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test]
    show_prints_the_stored_toml_and_connections_are_listed_without_secrets
);
async fn show_prints_the_stored_toml_and_connections_are_listed_without_secrets(backend: Backend) {
    let env = TestEnv::without_worker_on(backend, 5, 1).await;
    env.apply(&env.write_definitions("")).await;

    let shown = env.ferry(&["show", "customers"]).output().unwrap();
    assert!(shown.status.success(), "{shown:?}");
    let toml = String::from_utf8_lossy(&shown.stdout).to_string();
    assert!(
        toml.contains("[[integration]]") && toml.contains("name = \"customers\""),
        "{toml}"
    );
    // Applying what `show` printed changes nothing: it is exactly what is stored.
    let file = env.write_definitions("");
    let connection = std::fs::read_to_string(&file).unwrap();
    let connection = connection.split("[[integration]]").next().unwrap();
    std::fs::write(&file, format!("{connection}\n{toml}")).unwrap();
    let applied = cli::apply(&env.db, std::slice::from_ref(&file))
        .await
        .unwrap()
        .unwrap();
    let line = applied.iter().find(|a| a.name == "customers").unwrap();
    assert_eq!(line.outcome.to_string(), "unchanged", "{applied:?}");

    let listed = env.ferry(&["integrations"]).output().unwrap();
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.status.success() && text.contains("customers"),
        "{text}"
    );

    // Connections: listed and shown, never a secret; deleted only when nothing uses it.
    let connections = env.ferry(&["connections", "--json"]).output().unwrap();
    let json: Value = serde_json::from_slice(&connections.stdout).unwrap();
    assert_eq!(json[0]["name"], "bc");
    assert_eq!(json[0]["used_by"], serde_json::json!(["customers"]));
    let show = env.ferry(&["connection", "show", "bc"]).output().unwrap();
    assert!(String::from_utf8_lossy(&show.stdout).contains("client_secret_env"));
    for secret in env.issued_secrets().await {
        assert!(!String::from_utf8_lossy(&show.stdout).contains(&secret));
    }
    let in_use = env.ferry(&["connection", "delete", "bc"]).output().unwrap();
    assert_eq!(in_use.status.code(), Some(1), "{in_use:?}");
    assert!(String::from_utf8_lossy(&in_use.stderr).contains("used by customers"));
    assert!(
        env.ferry(&["delete", "customers"])
            .output()
            .unwrap()
            .status
            .success()
    );
    let freed = env.ferry(&["connection", "delete", "bc"]).output().unwrap();
    assert!(freed.status.success(), "{freed:?}");
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test]
    delete_with_drop_target_drops_the_table_and_a_reapply_starts_over
);
async fn delete_with_drop_target_drops_the_table_and_a_reapply_starts_over(backend: Backend) {
    let env = TestEnv::start_on(backend, 50, 2).await;
    env.apply(&env.write_definitions("")).await;
    let first = env.run("customers", Mode::Incremental).await;
    assert_eq!(first.inserted, 50, "{first:?}");

    let output = env
        .ferry(&["delete", "customers", "--drop-target"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("table customer dropped"),
        "{output:?}"
    );
    assert!(
        sea_orm::ConnectionTrait::execute_unprepared(&env.db, "SELECT 1 FROM customer")
            .await
            .is_err(),
        "the target table is gone"
    );
    let history = runs::list(&env.db, Some("customers"), 10).await.unwrap();
    assert!(history.iter().any(|r| r.id == first.run_id), "runs stay");

    // Applied again, it reads everything into a new table: the checkpoint went with the table.
    env.apply(&env.write_definitions("")).await;
    let back = env.run("customers", Mode::Incremental).await;
    assert_eq!(
        (back.status.as_str(), back.inserted),
        ("succeeded", 50),
        "{back:?}"
    );
    env.finish().await;
}
