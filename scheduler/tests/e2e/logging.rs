//! Log levels by kind of process, with the real binary: one-shot commands print their answer and at
//! most warnings (no migration or connection INFO lines on every call), daemons still log at info,
//! and `log.level` still wins when it is set.

use std::time::Duration;

use serde_json::Value;

use crate::helpers::TestEnv;
use crate::process::Process;

/// The levels of the JSON log lines in `stderr`.
fn levels(stderr: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|e| e["level"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_shot_commands_log_only_warnings_and_daemons_log_info() {
    let env = TestEnv::without_worker(1, 1).await;
    let definitions = env.write_definitions("");
    let definitions = definitions.to_str().unwrap();
    let one_shots: [&[&str]; 4] = [
        &["apply", definitions],
        &["run", "customers", "--json"],
        &["runs", "--json"],
        &["queue", "--json"],
    ];
    for args in one_shots {
        let out = env
            .ferry(args)
            .env_remove("RUST_LOG")
            .env_remove("FERRY__LOG__LEVEL")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "ferry {args:?}: {stderr}");
        let levels = levels(&out.stderr);
        assert!(
            levels.iter().all(|l| l == "WARN" || l == "ERROR"),
            "ferry {args:?} logged below warn: {stderr}"
        );
    }

    // An explicit level still applies to one-shot commands.
    let out = env
        .ferry(&["runs", "--json"])
        .env_remove("RUST_LOG")
        .env("FERRY__LOG__LEVEL", "info")
        .output()
        .unwrap();
    assert!(
        levels(&out.stderr).iter().any(|l| l == "INFO"),
        "log.level=info logs at info: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The daemon keeps info.
    let mut command = env.ferry(&["scheduler"]);
    command
        .env_remove("RUST_LOG")
        .env_remove("FERRY__LOG__LEVEL")
        .env("FERRY__API__LISTEN", "127.0.0.1:0");
    let mut scheduler = Process::start(command);
    let started = scheduler.wait_for_message("scheduler started", Duration::from_secs(60));
    assert_eq!(started["level"], "INFO");
    drop(scheduler);
    env.finish().await;
}
