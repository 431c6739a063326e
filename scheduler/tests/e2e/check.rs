//! Drift: `ferry check` against the live source and the target table, a run failing at once on a
//! vanished field, and `ferry check --clean-up`.

use ferry_shared::runs::Mode;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestEnv};

fn problems(output: &std::process::Output) -> Vec<Value> {
    let report: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stdout)));
    report["integrations"][0]["problems"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

crate::on_both_backends!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    a_dropped_field_is_named_by_check_and_fails_the_next_run_at_once
);
async fn a_dropped_field_is_named_by_check_and_fails_the_next_run_at_once(backend: Backend) {
    let env = TestEnv::start_on(backend, 20, 1).await;
    let file = env.write_definitions("");
    let text = std::fs::read_to_string(&file).unwrap().replace(
        r#"version = "RowVersionNumber" }"#,
        r#"version = "RowVersionNumber", filter = "City ne 'Nowhere'" }"#,
    );
    std::fs::write(&file, text).unwrap();
    env.apply(&file).await;
    let first = env.run("customers", Mode::Incremental).await;
    assert_eq!(first.status, "succeeded", "{:?}", first.error);
    let clean = env
        .ferry(&["check", "customers", "--json"])
        .output()
        .unwrap();
    assert!(
        clean.status.success(),
        "{}",
        String::from_utf8_lossy(&clean.stdout)
    );

    env.control(
        "/_sandbox/schema",
        json!({ "entity": "RescoCustomer", "drop_field": "City" }),
    )
    .await;
    env.mutate("RescoCustomer", 0, 5, 0);

    let output = env
        .ferry(&["check", "customers", "--json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let problems = problems(&output);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0]["field"], "City");
    assert_eq!(problems[0]["kind"], "missing_field");
    assert_eq!(problems[0]["integration"], "customers");
    assert_eq!(
        problems[0]["used_by"],
        json!(["fields[6] (City → city)", "source.filter"])
    );
    let all = env.ferry(&["check", "--all"]).output().unwrap();
    assert_eq!(all.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&all.stdout).contains("\"City\""));

    // The worker cached $metadata from the first run; the run still fails naming City, reading nothing.
    let output = env
        .ferry(&["run", "customers", "--wait", "--json"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let run: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stderr)));
    assert_eq!(run["status"], "failed");
    let error = run["error"].as_str().unwrap();
    assert!(error.contains("\"City\" not found on entity"), "{error}");
    assert!(
        error.contains("no longer exists"),
        "the first run read City: {error}"
    );
    assert!(error.contains("source.filter"), "{error}");
    assert_eq!(run["attempt"], 1, "drift is not retried");
    assert_eq!(
        (
            run["rows_read"].as_u64(),
            run["inserted"].as_u64(),
            run["updated"].as_u64()
        ),
        (Some(0), Some(0), Some(0))
    );
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    clean_up_drops_vanished_fields_and_refuses_when_the_version_is_gone
);
async fn clean_up_drops_vanished_fields_and_refuses_when_the_version_is_gone(backend: Backend) {
    let env = TestEnv::start_on(backend, 10, 1).await;
    env.apply(&env.write_definitions("")).await;
    env.control(
        "/_sandbox/schema",
        json!({ "entity": "RescoCustomer", "drop_field": "HomePage" }),
    )
    .await;

    let output = env
        .ferry(&["check", "--clean-up", "customers", "--json"])
        .output()
        .unwrap();

    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let cleaned: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(cleaned["version"], 2);
    assert_eq!(cleaned["removed"], json!(["HomePage"]));
    let check = env.ferry(&["check", "customers"]).output().unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    let run = env.run("customers", Mode::Incremental).await;
    assert_eq!(run.status, "succeeded", "{:?}", run.error);
    assert_eq!((run.inserted, run.definition_version), (10, 2));

    env.control(
        "/_sandbox/schema",
        json!({ "entity": "RescoCustomer", "drop_field": "RowVersionNumber" }),
    )
    .await;
    let refused = env
        .ferry(&["check", "--clean-up", "customers"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("\"RowVersionNumber\""), "{stderr}");
    assert!(stderr.contains("choose source.version"), "{stderr}");
    env.finish().await;
}

/// A clean-up stored only in the database would be undone by the next `apply` of the unchanged file:
/// `--file` names the file's lines to delete, `--write` deletes them, and the file then applies as
/// the cleaned version (no new version, nothing brought back).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_up_names_the_lines_of_the_file_and_writes_them_when_asked() {
    let env = TestEnv::without_worker(5, 1).await;
    let file = env.write_definitions("");
    env.apply(&file).await;
    env.control(
        "/_sandbox/schema",
        json!({ "entity": "RescoCustomer", "drop_field": "HomePage" }),
    )
    .await;
    let before = std::fs::read_to_string(&file).unwrap();
    let line = before
        .lines()
        .position(|l| l.contains(r#"from = "HomePage""#))
        .unwrap()
        + 1;
    let path = file.to_str().unwrap();

    let named = env
        .ferry(&["check", "--clean-up", "customers", "--file", path])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&named.stdout);
    assert!(named.status.success(), "{stdout}");
    assert!(
        stdout.contains("stored version 2 without HomePage"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            r#"{path}:{line}: {{ from = "HomePage", to = "home_page" }},"#
        )),
        "{stdout}"
    );
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        before,
        "not written"
    );

    // Already stored: asked again with --write, the file still loses the line.
    let written = env
        .ferry(&[
            "check",
            "--clean-up",
            "customers",
            "--file",
            path,
            "--write",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&written.stdout);
    assert!(written.status.success(), "{stdout}");
    assert!(stdout.contains(&format!("deleted line {line}")), "{stdout}");
    let after = std::fs::read_to_string(&file).unwrap();
    let expected: Vec<&str> = before.lines().filter(|l| !l.contains("HomePage")).collect();
    assert_eq!(after.lines().collect::<Vec<_>>(), expected);

    let applied = env
        .ferry(&["apply", path])
        .env("FERRY__LOG__LEVEL", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&applied.stdout);
    assert!(
        stdout.contains("unchanged integration customers (version 2)"),
        "the file now is the cleaned version: {stdout}"
    );
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    check_reports_missing_and_incompatible_target_columns
);
async fn check_reports_missing_and_incompatible_target_columns(backend: Backend) {
    let env = TestEnv::without_worker_on(backend, 3, 1).await;
    env.db
        .execute_unprepared(
            "CREATE TABLE customer (bc_no text PRIMARY KEY, name integer, email text)",
        )
        .await
        .unwrap();
    env.apply(&env.write_definitions("")).await;

    let output = env
        .ferry(&["check", "customers", "--json"])
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(1));
    let problems = problems(&output);
    let name = problems
        .iter()
        .find(|p| p["field"] == "name")
        .expect("name is reported");
    assert_eq!(name["kind"], "incompatible_column");
    assert!(
        name["message"].as_str().unwrap().contains("integer"),
        "{name}"
    );
    let missing: Vec<&str> = problems
        .iter()
        .filter(|p| p["kind"] == "missing_column")
        .map(|p| p["field"].as_str().unwrap())
        .collect();
    assert!(
        missing.contains(&"city") && missing.contains(&"row_version"),
        "{missing:?}"
    );
    assert!(
        !missing.contains(&"email") && !missing.contains(&"bc_no"),
        "{missing:?}"
    );
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    check_finds_what_the_first_run_would_fail_on_before_any_run
);
async fn check_finds_what_the_first_run_would_fail_on_before_any_run(backend: Backend) {
    let env = TestEnv::without_worker_on(backend, 3, 1).await;
    let file = env.write_definitions("");
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace(
            r#"version = "RowVersionNumber" }"#,
            r#"version = "RowVersionNumber", filter = "SystemModifiedAt ge 'yesterday'" }"#,
        )
        .replace(
            r#"{ to = "origin", value = "bc" },"#,
            r#"{ to = "origin", value = "bc" },
  { to = "label", transform = { format = "{No}: {Nmae}" } },"#,
        );
    std::fs::write(&file, text).unwrap();
    env.apply(&file).await;

    let output = env
        .ferry(&["check", "customers", "--json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let problems = problems(&output);
    let found: Vec<(&str, &str)> = problems
        .iter()
        .map(|p| (p["kind"].as_str().unwrap(), p["field"].as_str().unwrap()))
        .collect();
    assert_eq!(
        found,
        [
            ("missing_field", "Nmae"),
            ("filter_type_mismatch", "SystemModifiedAt")
        ],
        "{problems:?}"
    );
    let placeholder = problems[0]["message"].as_str().unwrap();
    assert!(
        placeholder.contains("does not exist") && !placeholder.contains("no longer"),
        "no run ever read it: {placeholder}"
    );
    assert_eq!(
        problems[0]["used_by"],
        json!(["fields[16].transform (→ label)"])
    );
    assert!(
        problems[1]["message"]
            .as_str()
            .unwrap()
            .contains("Edm.DateTimeOffset"),
        "{}",
        problems[1]
    );
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    check_finds_a_target_key_without_a_unique_index_and_columns_too_narrow
);
async fn check_finds_a_target_key_without_a_unique_index_and_columns_too_narrow(backend: Backend) {
    let env = TestEnv::without_worker_on(backend, 3, 1).await;
    let columns = [
        "bc_no varchar(20)",
        "bc_id uuid",
        "name varchar(10)",
        "email text",
        "address text",
        "address2 text",
        "city text",
        "state text",
        "post_code text",
        "country text",
        "phone text",
        "home_page text",
        "primary_contact_no text",
        "modified_at timestamptz",
        "row_version numeric(12,0)",
        "origin text",
    ];
    env.db
        .execute_unprepared(&format!("CREATE TABLE customer ({})", columns.join(", ")))
        .await
        .unwrap();
    env.apply(&env.write_definitions("")).await;

    let output = env
        .ferry(&["check", "customers", "--json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let problems = problems(&output);
    let found: Vec<(&str, &str)> = problems
        .iter()
        .map(|p| (p["kind"].as_str().unwrap(), p["field"].as_str().unwrap()))
        .collect();
    // SQLite keeps any length and any number of digits; PostgreSQL refuses what does not fit.
    let expected: &[(&str, &str)] = match backend {
        Backend::Postgres => &[
            ("column_too_narrow", "name"),
            ("column_too_narrow", "row_version"),
            ("key_without_unique_index", "bc_no"),
        ],
        Backend::Sqlite => &[("key_without_unique_index", "bc_no")],
    };
    assert_eq!(found, expected, "{problems:?}");
    let key = problems.last().unwrap()["message"].as_str().unwrap();
    assert!(
        key.contains(r#"CREATE UNIQUE INDEX ON "customer" ("bc_no")"#),
        "{key}"
    );

    env.db
        .execute_unprepared("CREATE UNIQUE INDEX customer_key ON customer (bc_no)")
        .await
        .unwrap();
    let output = env
        .ferry(&["check", "customers", "--json"])
        .output()
        .unwrap();
    let after = self::problems(&output);
    assert!(
        after
            .iter()
            .all(|p| p["kind"] != "key_without_unique_index"),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    apply_checks_against_the_last_metadata_read_and_says_when_there_is_none
);
async fn apply_checks_against_the_last_metadata_read_and_says_when_there_is_none(backend: Backend) {
    let env = TestEnv::without_worker_on(backend, 3, 1).await;
    let file = env.write_definitions("");
    let first = env
        .ferry(&["apply", file.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(first.status.success(), "{stdout}");
    assert!(
        stdout.contains("no $metadata of connection \"bc\" is stored yet"),
        "{stdout}"
    );

    let check = env.ferry(&["check", "customers"]).output().unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    let text = std::fs::read_to_string(&file).unwrap().replace(
        r#"{ to = "origin", value = "bc" },"#,
        r#"{ to = "origin", value = "bc" },
  { from = "Nmae", to = "nickname" },"#,
    );
    std::fs::write(&file, text).unwrap();
    let second = env
        .ferry(&["apply", file.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&second.stdout);
    assert!(
        second.status.success(),
        "a stored document may be old; apply goes on: {stdout}"
    );
    assert!(
        stdout.contains("against the $metadata of \"bc\" read"),
        "{stdout}"
    );
    assert!(
        stdout.contains("problem: field \"Nmae\" not found on entity \"RescoCustomer\" (it does not exist at the source) (used by fields[16] (Nmae → nickname))"),
        "{stdout}"
    );
    assert!(!stdout.contains("is stored yet"), "{stdout}");
    env.finish().await;
}
