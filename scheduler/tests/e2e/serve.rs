//! `ferry serve --workers N`: the scheduler, the API and N workers in one process, on Postgres + Redis
//! and on one SQLite file. A run triggered through the API is executed by the process' own workers, and
//! the process stops by itself when asked.

use std::time::Duration;

use serde_json::Value;
use tokio::sync::oneshot;

use crate::helpers::{Backend, TestEnv, assert_customers_equal_source};

crate::on_both_backends!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    one_process_serves_the_api_and_runs_what_it_enqueues
);
async fn one_process_serves_the_api_and_runs_what_it_enqueues(backend: Backend) {
    let env = TestEnv::without_worker_on(backend, 300, 1).await;
    env.apply(&env.write_definitions("")).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let serving = tokio::spawn(ferry_scheduler::serve::run_with_listener(
        env.settings.clone(),
        listener,
        2,
        async move {
            let _ = stopped.await;
        },
    ));

    let answer = reqwest::Client::new()
        .post(format!("{api}/api/v1/integrations/customers/runs"))
        .bearer_auth(crate::helpers::API_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 202);
    let answer: Value = answer.json().await.unwrap();
    let run_id = answer["run_id"].as_i64().expect("a run id");
    let run = ferry_scheduler::cli::wait_for(&env.db, run_id, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        (run.status.as_str(), run.inserted),
        ("succeeded", 300),
        "{:?}",
        run.error
    );
    assert_customers_equal_source(&env).await;

    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(60), serving)
        .await
        .expect("serve stops within the workers' grace period")
        .unwrap()
        .expect("serve ends cleanly");
    env.finish().await;
}
