//! `ferry apply`: every error of every file at once, and nothing stored when any is wrong.

use tokio::process::Command;

use ferry_shared::storage::entities::{connection, integration};
use sea_orm::{EntityTrait, PaginatorTrait};

use crate::helpers::TestEnv;

/// Runs the real `ferry` binary against the test's database and queue, without blocking the runtime
/// the in-process worker runs on.
async fn ferry(env: &TestEnv, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(args)
        .envs(env.env_vars())
        .env("FERRY__LOG__LEVEL", "warn")
        .kill_on_drop(true)
        .output()
        .await
        .expect("ferry runs")
}

#[tokio::test]
async fn broken_files_report_every_error_with_file_and_key_and_store_nothing() {
    let env = TestEnv::without_worker(1, 1).await;
    let good = env.write_definitions("");
    let broken = env.dir.join("broken.toml");
    std::fs::write(
        &broken,
        r#"
[[integration]]
name = "contacts"
connection = "nowhere"
schedule = "every five minutes"
colour = "blue"

[[integration]]
name = "items"
connection = "bc"
schedule = "every five minutes"
source = { entity = "RescoItem", key = ["No"], version = "rowVersionNumber" }
target = { table = "1item", key = ["code"] }
fields = [
  { from = "No", to = "no", transform = "shout" },
  { from = "Description", to = "no" },
]
"#,
    )
    .unwrap();
    let unparsable = env.dir.join("unparsable.toml");
    std::fs::write(&unparsable, "[[integration]\nname = ").unwrap();

    let output = ferry(
        &env,
        &[
            "apply",
            good.to_str().unwrap(),
            broken.to_str().unwrap(),
            unparsable.to_str().unwrap(),
        ],
    )
    .await;

    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let broken_name = broken.display().to_string();
    for expected in [
        format!("{broken_name}: integration \"contacts\": unknown field `colour`"),
        format!("{broken_name}: integration \"items\".schedule: not a cron expression"),
        format!("{broken_name}: integration \"items\".target.table"),
        format!(
            "{broken_name}: integration \"items\".fields[0].transform: unknown transform \"shout\""
        ),
        format!("{broken_name}: integration \"items\".fields[1].to: column \"no\" mapped twice"),
        format!("{broken_name}: integration \"items\".target.key: key column \"code\""),
        format!("{}: (file): not valid TOML", unparsable.display()),
    ] {
        assert!(
            stderr.contains(&expected),
            "missing {expected:?} in:\n{stderr}"
        );
    }
    assert!(stderr.contains("nothing was stored"), "{stderr}");
    assert_eq!(connection::Entity::find().count(&env.db).await.unwrap(), 0);
    assert_eq!(integration::Entity::find().count(&env.db).await.unwrap(), 0);
    env.finish().await;
}

#[tokio::test]
async fn apply_prints_created_updated_unchanged_and_versions_integrations() {
    let env = TestEnv::without_worker(1, 1).await;
    let file = env.write_definitions("");

    let first = ferry(&env, &["apply", file.to_str().unwrap()]).await;
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(stdout.contains("created   connection bc"), "{stdout}");
    assert!(
        stdout.contains("created   integration customers (version 1)"),
        "{stdout}"
    );

    let again = ferry(&env, &["apply", file.to_str().unwrap()]).await;
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(stdout.contains("unchanged connection bc"), "{stdout}");
    assert!(
        stdout.contains("unchanged integration customers (version 1)"),
        "{stdout}"
    );

    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("to = \"city\"", "to = \"town\"");
    std::fs::write(&file, text).unwrap();
    let changed = ferry(&env, &["apply", env.dir.to_str().unwrap()]).await;
    let stdout = String::from_utf8_lossy(&changed.stdout);
    assert!(stdout.contains("unchanged connection bc"), "{stdout}");
    assert!(
        stdout.contains("updated   integration customers (version 2)"),
        "{stdout}"
    );
    assert_eq!(integration::Entity::find().count(&env.db).await.unwrap(), 2);
    env.finish().await;
}

/// The issue's "must show", at test scale: the binaries and the CLI's JSON, end to end.
#[tokio::test]
async fn ferry_run_wait_json_reports_the_run_and_exits_zero() {
    let env = TestEnv::start(2_000, 10).await;
    let file = env.write_definitions("");
    assert!(
        ferry(&env, &["apply", file.to_str().unwrap()])
            .await
            .status
            .success()
    );

    let output = ferry(
        &env,
        &["run", "customers", "--wait", "--json", "--timeout", "120"],
    )
    .await;

    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    for field in [
        "run_id",
        "integration",
        "status",
        "inserted",
        "updated",
        "unchanged",
        "deleted",
        "failed",
        "rows_read",
        "duration_ms",
    ] {
        assert!(
            summary.get(field).is_some(),
            "{field} missing from {summary}"
        );
    }
    assert_eq!(summary["status"], "succeeded");
    assert_eq!(summary["inserted"], 2_000);

    env.mutate("RescoCustomer", 0, 100, 0);
    let output = ferry(
        &env,
        &["run", "customers", "--wait", "--json", "--timeout", "120"],
    )
    .await;
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        (summary["updated"].as_i64(), summary["inserted"].as_i64()),
        (Some(100), Some(0))
    );

    let listed = ferry(&env, &["runs", "customers", "--json"]).await;
    let runs: Vec<serde_json::Value> = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(runs.len(), 2);
    assert!(
        runs[0]["run_id"].as_i64() > runs[1]["run_id"].as_i64(),
        "newest first"
    );
    env.finish().await;
}

#[tokio::test]
async fn ferry_run_of_an_unknown_integration_fails_clearly() {
    let env = TestEnv::without_worker(1, 1).await;
    let output = ferry(&env, &["run", "nope"]).await;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no integration named \"nope\""), "{stderr}");
    env.finish().await;
}
