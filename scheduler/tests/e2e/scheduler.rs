//! `ferry scheduler`: integrations with a schedule run on their cron.

use std::time::Duration;

use ferry_shared::runs;

use crate::helpers::{Backend, TestEnv};

crate::on_both_backends!(
    #[tokio::test]
    scheduled_integrations_run_on_their_cron
);
async fn scheduled_integrations_run_on_their_cron(backend: Backend) {
    let env = TestEnv::start_on(backend, 120, 5).await;
    let file = env.write_definitions("");
    let text = std::fs::read_to_string(&file).unwrap().replace(
        "direction = \"import\"",
        "direction = \"import\"\nschedule = \"* * * * * *\"\nallow_frequent = true",
    );
    std::fs::write(&file, text).unwrap();
    env.apply(&file).await;
    let mut env = env;
    env.start_scheduler().await;

    // Bounded wait for the first scheduled run to finish.
    let mut finished = None;
    for _ in 0..300 {
        let listed = runs::list(&env.db, Some("customers"), 10).await.unwrap();
        if let Some(run) = listed
            .iter()
            .find(|r| r.trigger == "schedule" && r.state == "succeeded")
        {
            finished = Some(run.clone());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    env.stop_schedulers().await;

    let run = finished.expect("a scheduled run succeeded within 30 s");
    assert_eq!(run.inserted, 120);
    assert!(
        run.scheduled_for.is_some(),
        "a tick records its scheduled time"
    );
    let all = runs::list(&env.db, Some("customers"), 1000).await.unwrap();
    let mut ticks: Vec<_> = all.iter().filter_map(|r| r.scheduled_for).collect();
    let total = ticks.len();
    ticks.dedup();
    assert_eq!(ticks.len(), total, "no tick enqueued twice");
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test]
    a_refused_tick_does_not_hold_up_the_other_integrations
);
/// One integration's refused tick (its queued reconcile cannot absorb an incremental run) is its own:
/// the same cron pass still enqueues every other integration's tick.
async fn a_refused_tick_does_not_hold_up_the_other_integrations(backend: Backend) {
    let env = TestEnv::without_worker_on(backend, 10, 1).await;
    let integration = |name: &str| {
        format!(
            r#"
[[integration]]
name = "{name}"
connection = "bc"
schedule = "* * * * * *"
allow_frequent = true
source = {{ entity = "RescoCustomer", key = ["No"], version = "RowVersionNumber" }}
target = {{ table = "{name}", key = ["no"], create = true }}
fields = [{{ from = "No", to = "no" }}]
"#
        )
    };
    let others: Vec<String> = (1..=10).map(|n| format!("tick_{n:02}")).collect();
    let mut extra = integration("refusing");
    for name in &others {
        extra.push_str(&integration(name));
    }
    env.apply(&env.write_definitions(&extra)).await;
    ferry_scheduler::cli::trigger(&env.db, &env.settings, "refusing", runs::Mode::Reconcile)
        .await
        .unwrap();

    let mut queue = ferry_shared::queue::storage(&env.settings.queue, Duration::from_secs(10))
        .await
        .unwrap();
    let mut cron = ferry_scheduler::cron_loop::Cron::default();
    let start = chrono::Utc::now();
    cron.step(&env.db, &mut queue, start).await.unwrap();
    cron.step(&env.db, &mut queue, start + chrono::Duration::seconds(2))
        .await
        .expect("a refused tick does not fail the pass");

    for name in &others {
        let listed = runs::list(&env.db, Some(name), 10).await.unwrap();
        assert!(
            listed.iter().any(|r| r.trigger == "schedule"),
            "{name} got its tick"
        );
    }
    env.finish().await;
}
