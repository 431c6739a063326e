//! `ferry demo` as a newcomer runs it: the real binary, in an empty folder, with no FERRY* variable, no
//! Postgres or Redis URL and no client secret in the environment. It must exit 0, print a summary line
//! with inserted rows per integration, and leave a SQLite file whose tables hold exactly the sandbox's
//! rows.

use std::collections::HashMap;
use std::time::Duration;

use ferry_sandbox::Sandbox;
use ferry_scheduler::demo;
use sea_orm::{ConnectionTrait, Database, Statement};

/// `integration → (status, inserted)` from the demo's summary table.
fn summary(stdout: &str) -> HashMap<String, (String, i64)> {
    stdout
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split_whitespace().collect();
            match cells.as_slice() {
                [name, status, _read, inserted, ..] if demo::INTEGRATIONS.contains(name) => Some((
                    name.to_string(),
                    (status.to_string(), inserted.parse().ok()?),
                )),
                _ => None,
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_runs_in_an_empty_folder_with_nothing_configured() {
    let folder = std::env::temp_dir().join(format!("ferry-demo-test-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&folder).unwrap();
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_ferry"));
    command
        .arg("demo")
        .current_dir(&folder)
        .env_remove("BC_CLIENT_SECRET")
        .env_remove("RUST_LOG")
        .kill_on_drop(true);
    for (name, _) in std::env::vars() {
        if name.starts_with("FERRY") {
            command.env_remove(name);
        }
    }
    let output = tokio::time::timeout(Duration::from_secs(300), command.output())
        .await
        .expect("the demo ends within five minutes")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "exit {:?}\n{stdout}\n{stderr}",
        output.status
    );

    let runs = summary(&stdout);
    for name in demo::INTEGRATIONS {
        let (status, inserted) = runs
            .get(*name)
            .unwrap_or_else(|| panic!("no summary line for {name}:\n{stdout}"));
        assert_eq!(status, "succeeded", "{stdout}");
        assert!(*inserted > 0, "{name} inserted nothing:\n{stdout}");
    }
    let file = folder.join(demo::DB_FILE);
    assert!(file.is_file(), "{} is missing", file.display());
    assert!(stdout.contains(&file.display().to_string()), "{stdout}");

    // The sandbox is deterministic: the same configuration serves the same rows the demo synced.
    let sandbox = Sandbox::start("127.0.0.1:0".parse().unwrap(), demo::sandbox_config())
        .await
        .unwrap();
    let db = Database::connect(format!("sqlite:{}?mode=ro", file.display()))
        .await
        .unwrap();
    for (table, entity) in demo::TABLES {
        let count: i64 = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                format!("SELECT count(*) FROM \"{table}\""),
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index(0)
            .unwrap();
        assert_eq!(count as usize, sandbox.rows(entity).len(), "{table}");
    }
    let inserted: i64 = runs.values().map(|(_, n)| n).sum();
    let sources: usize = demo::TABLES
        .iter()
        .map(|(_, e)| sandbox.rows(e).len())
        .sum();
    assert_eq!(
        inserted as usize, sources,
        "every row inserted exactly once"
    );
    db.close().await.ok();
    sandbox.stop().await;
    std::fs::remove_dir_all(&folder).ok();
}

/// `ferry demo --keep-running` with an API token configured outside it (it may be a production one):
/// the printed command names the variable, never the token, and the API still takes the token; the
/// console is served beside it, reached through a link that signs in once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_keep_running_never_prints_a_token_configured_outside_it() {
    use tokio::io::{AsyncBufReadExt, BufReader};

    const TOKEN: &str = "configured-outside-the-demo-0123456789abcdef";
    let folder = std::env::temp_dir().join(format!("ferry-demo-test-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&folder).unwrap();
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_ferry"));
    command
        .args(["demo", "--keep-running"])
        .current_dir(&folder)
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    for (name, _) in std::env::vars() {
        if name.starts_with("FERRY") {
            command.env_remove(name);
        }
    }
    command.env("FERRY__API__TOKEN", TOKEN);
    let mut demo = command.spawn().unwrap();
    let mut lines = BufReader::new(demo.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    let curl = tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            seen.push(line.clone());
            if line.contains("curl") {
                return line;
            }
        }
        panic!("the demo ended without printing how to reach the API")
    })
    .await
    .expect("the demo prints its API address");

    assert!(!seen.join("\n").contains(TOKEN), "{seen:#?}");
    assert!(curl.contains("$FERRY__API__TOKEN"), "{curl}");
    let url = curl
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("the metrics URL")
        .to_string();
    let metrics = reqwest::Client::new()
        .get(&url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200, "the configured token opens /metrics");

    // The console is served too, with a link that signs in once.
    let console = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("the console line follows")
        .unwrap()
        .unwrap();
    assert!(!console.contains(TOKEN), "{console}");
    let link = console
        .split_whitespace()
        .find(|w| w.contains("/sign-in/link?code="))
        .unwrap_or_else(|| panic!("no sign-in link in {console:?}"))
        .to_string();
    let browserless = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let signed_in = browserless.get(&link).send().await.unwrap();
    assert_eq!(signed_in.status(), 303);
    let cookie = signed_in.headers()["set-cookie"].to_str().unwrap();
    let session = cookie.split(';').next().unwrap().to_string();
    let home = url.replace("/metrics", "/");
    let page = browserless
        .get(&home)
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("customers"), "the examples are listed");
    let again = browserless.get(&link).send().await.unwrap();
    assert_eq!(again.status(), 403, "the link works once");
    demo.kill().await.ok();
    std::fs::remove_dir_all(&folder).ok();
}
