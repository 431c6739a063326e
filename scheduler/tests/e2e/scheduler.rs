//! `ferry scheduler`: integrations with a schedule run on their cron.

use std::time::Duration;

use ferry_shared::runs;

use crate::helpers::TestEnv;

#[tokio::test]
async fn scheduled_integrations_run_on_their_cron() {
    let env = TestEnv::start(120, 5).await;
    let file = env.write_definitions("");
    let text = std::fs::read_to_string(&file).unwrap().replace(
        "direction = \"import\"",
        "direction = \"import\"\nschedule = \"* * * * * *\"",
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
