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

/// `--dry-run` names each change field by field and stores nothing; the real apply then prints the
/// same lines.
#[tokio::test]
async fn apply_dry_run_says_what_would_change_field_by_field_and_stores_nothing() {
    let env = TestEnv::without_worker(1, 1).await;
    let file = env.write_definitions("");
    let first = ferry(&env, &["apply", "--dry-run", file.to_str().unwrap()]).await;
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(first.status.success(), "{stdout}");
    assert!(
        stdout.contains("created   integration customers (version 1)"),
        "{stdout}"
    );
    assert_eq!(integration::Entity::find().count(&env.db).await.unwrap(), 0);
    assert_eq!(connection::Entity::find().count(&env.db).await.unwrap(), 0);

    ferry(&env, &["apply", file.to_str().unwrap()]).await;
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("from = \"City\"", "from = \"PostCode\"");
    std::fs::write(&file, text).unwrap();
    let dry = ferry(&env, &["apply", "--dry-run", file.to_str().unwrap()]).await;
    let stdout = String::from_utf8_lossy(&dry.stdout);
    assert!(dry.status.success(), "{stdout}");
    assert!(stdout.contains("dry run: nothing was stored"), "{stdout}");
    assert!(
        stdout.contains("updated   integration customers (version 2)"),
        "{stdout}"
    );
    assert!(
        stdout.contains(r#"fields (→ city).from: "City" → "PostCode""#),
        "{stdout}"
    );
    assert_eq!(integration::Entity::find().count(&env.db).await.unwrap(), 1);

    let real = ferry(&env, &["apply", file.to_str().unwrap()]).await;
    let stdout = String::from_utf8_lossy(&real.stdout);
    assert!(!stdout.contains("dry run"), "{stdout}");
    assert!(
        stdout.contains(r#"fields (→ city).from: "City" → "PostCode""#),
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

/// Two integrations writing one table under one key: `apply` lists each such pair (against the files
/// and the stored definitions) with every other error, stores nothing, and accepts them once both set
/// `target.shared = true`.
#[tokio::test]
async fn two_integrations_writing_one_table_and_key_need_shared_on_both() {
    let env = TestEnv::without_worker(1, 1).await;
    let good = env.write_definitions("");
    let first = ferry(&env, &["apply", good.to_str().unwrap()]).await;
    assert!(first.status.success());
    let more = env.dir.join("more.toml");
    let write_more = |copy: &str| {
        std::fs::write(
            &more,
            format!(
                r#"
[[integration]]
name = "mirror"
connection = "bc"
source = {{ entity = "RescoCustomer", key = ["No"], version = "RowVersionNumber" }}
target = {{ table = "customer", key = ["bc_no"], shared = true }}
fields = [{{ from = "No", to = "bc_no" }}]

[[integration]]
name = "by_id"
connection = "bc"
source = {{ entity = "RescoCustomer", key = ["No"], version = "RowVersionNumber" }}
target = {{ table = "customer", key = ["bc_id"] }}
fields = [{{ from = "id", to = "bc_id" }}]
{copy}"#
            ),
        )
        .unwrap()
    };
    write_more(
        r#"
[[integration]]
name = "copy"
connection = "bc"
schedule = "soon"
source = { entity = "RescoCustomer", key = ["No"], version = "RowVersionNumber" }
target = { table = "customer", key = ["bc_no"] }
fields = [{ from = "No", to = "bc_no" }]
"#,
    );

    let refused = ferry(&env, &["apply", more.to_str().unwrap()]).await;

    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    let file = more.display().to_string();
    let rows = "table \"customer\" with key [\"bc_no\"] is also written by integration";
    let expected = [
        format!(
            "{file}: integration \"mirror\".target: {rows} \"customers\" (stored); two integrations may write the same rows only when both set `shared = true` (not set by \"customers\")"
        ),
        format!(
            "{file}: integration \"mirror\".target: {rows} \"copy\"; two integrations may write the same rows only when both set `shared = true` (not set by \"copy\")"
        ),
        format!(
            "{file}: integration \"copy\".target: {rows} \"customers\" (stored); two integrations may write the same rows only when both set `shared = true` (not set by \"copy\" and \"customers\")"
        ),
        format!(
            "{file}: integration \"copy\".target: {rows} \"mirror\"; two integrations may write the same rows only when both set `shared = true` (not set by \"copy\")"
        ),
        format!("{file}: integration \"copy\".schedule: not a cron expression"),
    ];
    for line in &expected {
        assert!(
            stderr.contains(line.as_str()),
            "missing {line:?} in:\n{stderr}"
        );
    }
    assert!(
        stderr.contains(&format!(
            "{} problem(s) found; nothing was stored",
            expected.len()
        )),
        "{stderr}"
    );
    assert_eq!(integration::Entity::find().count(&env.db).await.unwrap(), 1);

    // Within the files alone the conflict shows too.
    let set =
        ferry_shared::definitions::load_files(std::slice::from_ref(&more), &["bc".to_string()]);
    assert!(set.is_err(), "copy and mirror conflict within the file");

    // Both say so (the stored one by being applied again): accepted.
    write_more("");
    let text = std::fs::read_to_string(&good).unwrap().replace(
        "target = { table = \"customer\", key = [\"bc_no\"], create = true }",
        "target = { table = \"customer\", key = [\"bc_no\"], create = true, shared = true }",
    );
    assert!(text.contains("shared = true"));
    std::fs::write(&good, text).unwrap();
    let only_mirror = ferry(&env, &["apply", more.to_str().unwrap()]).await;
    assert!(
        !only_mirror.status.success(),
        "the stored customers is not shared yet"
    );
    let both = ferry(
        &env,
        &["apply", good.to_str().unwrap(), more.to_str().unwrap()],
    )
    .await;
    assert!(
        both.status.success(),
        "{}",
        String::from_utf8_lossy(&both.stderr)
    );
    let stored = ferry_shared::definitions::stored_integrations(&env.db)
        .await
        .unwrap();
    let names: Vec<&str> = stored.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["by_id", "customers", "mirror"]);
    env.finish().await;
}

/// `definitions::apply` itself refuses a set that conflicts with what is stored, whoever calls it.
#[tokio::test]
async fn the_store_step_refuses_a_set_that_conflicts_with_stored_integrations() {
    let env = TestEnv::without_worker(1, 1).await;
    env.apply(&env.write_definitions("")).await;
    let file = env.dir.join("twin.toml");
    std::fs::write(
        &file,
        r#"
[[integration]]
name = "twin"
connection = "bc"
source = { entity = "RescoCustomer", key = ["No"], version = "RowVersionNumber" }
target = { table = "customer", key = ["bc_no"], shared = true }
fields = [{ from = "No", to = "bc_no" }]
"#,
    )
    .unwrap();
    // Loaded without the stored definitions, so only the store step can see the conflict.
    let set =
        ferry_shared::definitions::load_files(std::slice::from_ref(&file), &["bc".to_string()])
            .expect("valid on its own");
    match ferry_shared::definitions::apply(&env.db, &set).await {
        Err(ferry_shared::definitions::ApplyError::Invalid(errors)) => {
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert_eq!(errors[0].key, "integration \"twin\".target");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(integration::Entity::find().count(&env.db).await.unwrap(), 1);
    env.finish().await;
}

/// Definitions that are surely a mistake are refused, each saying what to write instead (issue 20,
/// item 9): a schedule every second, a 5-field cron, one that never fires, a URL with credentials in
/// it (never echoed), a name of dots, a type error named by its field, an empty file.
#[tokio::test]
async fn apply_refuses_definitions_that_are_surely_a_mistake() {
    let env = TestEnv::without_worker(1, 1).await;
    let good = env.write_definitions("");
    let text = std::fs::read_to_string(&good).unwrap();
    let url_line = text
        .lines()
        .find(|l| l.starts_with("url = "))
        .unwrap()
        .to_string();
    let with_password = url_line.replacen("http://", "http://ferry:hunter2@", 1);
    let mistakes = env.dir.join("mistakes.toml");
    std::fs::write(
        &mistakes,
        text.replacen(&url_line, &with_password, 1).replacen(
            "direction = \"import\"",
            "direction = \"import\"\nschedule = \"* * * * * *\"",
            1,
        ) + r#"
[[integration]]
name = "five"
connection = "bc"
schedule = "*/5 * * * *"
source = { entity = "RescoItem", key = ["No"], version = "RowVersionNumber" }
target = { table = "item", key = ["no"] }
fields = [{ from = "No", to = "no" }]

[[integration]]
name = "typed"
connection = "bc"
source = { entity = "RescoItem", key = ["No"], version = "RowVersionNumber", overlap = "lots" }
target = { table = "item4", key = ["no"], create = "yes" }
fields = [{ from = 7, to = "no" }]

[[integration]]
name = "range"
connection = "bc"
schedule = "0 60 * * * *"
source = { entity = "RescoItem", key = ["No"], version = "RowVersionNumber" }
target = { table = "item5", key = ["no"] }
fields = [{ from = "No", to = "no" }]

[[integration]]
name = "never"
connection = "bc"
schedule = "0 0 0 30 2 *"
source = { entity = "RescoItem", key = ["No"], version = "RowVersionNumber" }
target = { table = "item2", key = ["no"] }
fields = [{ from = "No", to = "no" }]

[[integration]]
name = "..."
connection = "bc"
source = { entity = "RescoItem", key = ["No"], version = "RowVersionNumber" }
target = { table = "item3", key = ["no"] }
fields = [{ from = "No", to = "no" }]
"#,
    )
    .unwrap();
    let empty = env.dir.join("empty.toml");
    std::fs::write(&empty, "# nothing yet\n").unwrap();

    let output = ferry(
        &env,
        &["apply", mistakes.to_str().unwrap(), empty.to_str().unwrap()],
    )
    .await;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    for expected in [
        "connection \"bc\".url: must not carry a user name or password",
        "integration \"customers\".schedule: \"* * * * * *\" fires every 1 s",
        "integration \"five\".schedule: Ferry's cron has a seconds field first",
        "it reads \"0 */5 * * * *\"",
        "integration \"typed\".source.overlap: invalid type: string \"lots\", expected",
        "integration \"typed\".target.create: invalid type: string \"yes\", expected a boolean",
        "integration \"typed\".fields[0].from: invalid type: integer `7`, expected",
        "integration \"range\".schedule: not a cron expression with seconds",
        "minutes must be at most 59, not 60",
        "integration \"never\".schedule: \"0 0 0 30 2 *\" never fires",
        "integration \"...\".name: use letters, digits",
        "empty.toml: (file): no definitions found",
    ] {
        assert!(
            stderr.contains(expected),
            "missing {expected:?} in:\n{stderr}"
        );
    }
    assert!(
        !stderr.contains("hunter2"),
        "a credential is never echoed:\n{stderr}"
    );
    let stored = integration::Entity::find().count(&env.db).await.unwrap();
    assert_eq!(stored, 0, "nothing is stored when anything is wrong");
    env.finish().await;
}

#[tokio::test]
async fn apply_stores_but_warns_about_a_lookup_cycle_and_a_table_name_with_capitals() {
    let env = TestEnv::without_worker(1, 1).await;
    let file = env.write_definitions(
        r#"
[[integration]]
name = "left"
connection = "bc"
source = { entity = "RescoCustomer", key = ["No"], version = "RowVersionNumber" }
target = { table = "Left_T", key = ["no"], create = true }
fields = [{ from = "No", to = "no" }]
lookups = [{ to = "partner", from = ["Name"], table = "right_t", match = ["no"], select = "no", missing = "defer" }]

[[integration]]
name = "right"
connection = "bc"
source = { entity = "RescoCustomer", key = ["No"], version = "RowVersionNumber" }
target = { table = "right_t", key = ["no"], create = true }
fields = [{ from = "No", to = "no" }]
lookups = [{ to = "partner", from = ["Name"], table = "Left_T", match = ["no"], select = "no", missing = "defer" }]
"#,
    );
    let output = ferry(&env, &["apply", file.to_str().unwrap()]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        stdout
            .matches("lookups form a cycle (left → right → left)")
            .count(),
        2,
        "named on both integrations:\n{stdout}"
    );
    assert!(
        stdout.contains(r#"query it as "Left_T" (with the double quotes)"#),
        "{stdout}"
    );
    assert!(
        !stdout
            .lines()
            .any(|l| l.contains("customers") && l.contains("warning")),
        "{stdout}"
    );
    let stored = integration::Entity::find().count(&env.db).await.unwrap();
    assert_eq!(stored, 3, "warnings store the definitions all the same");
    env.finish().await;
}
