//! `ferry run --wait` on a terminal keeps a live line on stderr (state, rows read, rows/s); with
//! stderr not a terminal it prints nothing but the summary (issue 17, the CLI's live view).

use std::process::Command;

use crate::helpers::TestEnv;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_wait_shows_a_live_line_on_a_terminal_and_nothing_extra_otherwise() {
    let env = TestEnv::start(3_000, 1).await;
    env.apply(&env.write_definitions("")).await;
    // Every page takes a while, so the run is seen running between polls.
    env.slow_pages(300).await;

    // `script` gives the child a pseudo-terminal for stdout and stderr alike.
    let mut on_terminal = Command::new("script");
    on_terminal
        .args([
            "-qec",
            &format!("{} run customers --wait", env!("CARGO_BIN_EXE_ferry")),
            "/dev/null",
        ])
        .envs(env.env_vars())
        .env("FERRY__LOG__LEVEL", "warn");
    let shown = tokio::task::spawn_blocking(move || on_terminal.output())
        .await
        .unwrap()
        .expect("script runs");
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.status.success(), "{text}");
    assert!(
        text.contains("running, ") && text.contains(" rows read"),
        "a live line while the run works: {text:?}"
    );
    assert!(
        text.contains("\r\x1b[K"),
        "the line is cleared before the summary: {text:?}"
    );
    assert!(text.contains("succeeded"), "then the summary: {text:?}");

    // Stderr to a pipe: the summary only.
    let piped = env
        .ferry_output(&["run", "customers", "--wait", "--full"])
        .await;
    let stderr = String::from_utf8_lossy(&piped.stderr);
    assert!(piped.status.success(), "{stderr}");
    assert!(
        !stderr.contains("rows read"),
        "no live line off a terminal: {stderr:?}"
    );
    assert!(String::from_utf8_lossy(&piped.stdout).contains("succeeded"));
    env.finish().await;
}
