//! One answer while the queue is down: a trigger records its run and says its dispatch is pending,
//! from the CLI and from the API alike, and the run starts once the queue answers again.

use std::time::Duration;

use ferry_scheduler::cli;
use ferry_shared::runs;
use secrecy::ExposeSecret;
use serde_json::Value;

use crate::helpers::TestEnv;
use crate::private_redis::PrivateRedis;

#[tokio::test]
async fn ferry_run_records_the_run_while_the_queue_is_down_and_it_runs_later() {
    let mut env = TestEnv::without_worker(30, 2).await;
    env.apply(&env.write_definitions("")).await;

    // Nothing listens on port 1; the URL's password must appear nowhere.
    let output = env
        .ferry(&["run", "customers"])
        .env("FERRY__QUEUE__URL", "redis://:hunter2@127.0.0.1:1")
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(output.status.success(), "{stderr}");
    let run_id: i64 = stdout.trim().parse().expect("the run id");
    assert!(
        stderr.contains("redis://127.0.0.1:1 unreachable")
            && stderr.contains("pushes it once the queue answers"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2") && !stdout.contains("hunter2"));
    let run = runs::get(&env.db, run_id).await.unwrap().unwrap();
    assert_eq!((run.state.as_str(), run.pushed_at), ("queued", None));

    // With the queue back, recovery pushes the job and a worker runs it.
    env.start_worker();
    env.start_scheduler().await;
    let done = cli::wait_for(&env.db, run_id, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!((done.status.as_str(), done.inserted), ("succeeded", 30));
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_answers_202_pending_while_the_queue_is_down_and_the_run_starts_when_it_returns() {
    let mut env = TestEnv::without_worker(30, 2).await;
    let mut redis = PrivateRedis::start().await;
    env.settings.queue.url = redis.url();
    env.apply(&env.write_definitions("")).await;
    let api = env.start_scheduler().await;
    // The scheduler is up (and connected to the queue) before the queue goes down.
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if let Ok(ready) = client.get(format!("{api}/readyz")).send().await
            && ready.status().is_success()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    redis.kill().await;

    let token = env.settings.api.token.clone().unwrap();
    let answer = client
        .post(format!("{api}/api/v1/integrations/customers/runs"))
        .bearer_auth(token.expose_secret())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 202);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["dispatch"], "pending", "{body}");
    let run_id = body["run_id"].as_i64().unwrap();
    assert_eq!(
        runs::get(&env.db, run_id).await.unwrap().unwrap().state,
        "queued"
    );

    redis.launch().await;
    env.start_worker();
    let done = cli::wait_for(&env.db, run_id, Duration::from_secs(90))
        .await
        .unwrap();
    assert_eq!((done.status.as_str(), done.inserted), ("succeeded", 30));
    env.finish().await;
}

/// With the database or the queue unreachable, a command fails once, naming the host and port and
/// the cause (each said once), and never the URL's password.
#[tokio::test]
async fn an_unreachable_database_or_queue_is_named_by_host_and_port_once() {
    let env = TestEnv::without_worker(1, 1).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let database = env
        .ferry(&["runs"])
        .env(
            "FERRY__DATABASE__URL",
            format!("postgres://ferry:hunter2@127.0.0.1:{closed}/ferry"),
        )
        .output()
        .unwrap();
    let queue = env
        .ferry(&["queue"])
        .env(
            "FERRY__QUEUE__URL",
            format!("redis://:hunter2@127.0.0.1:{closed}"),
        )
        .output()
        .unwrap();
    for (output, what) in [(database, "the database"), (queue, "the queue")] {
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{stderr}");
        assert!(
            stderr.contains(&format!("{what} at 127.0.0.1:{closed}: ")),
            "{stderr}"
        );
        assert_eq!(stderr.matches("refused").count(), 1, "said once: {stderr}");
        assert!(!stderr.contains("hunter2"), "{stderr}");
    }
    env.finish().await;
}
