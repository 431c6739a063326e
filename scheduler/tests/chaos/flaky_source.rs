//! Scenario 4: a source that answers 10% of its requests with 429 or 503 (as BC does under load) and
//! sends one malformed page (a 200 whose body is not JSON, as a broken gateway does).

use std::time::Duration;

use serde_json::{Value, json};

use crate::verify;
use crate::world::World;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_source_and_a_malformed_page_lose_nothing() {
    let mut world = World::start("flaky_source", false).await;
    let versions = verify::source_versions(&world);
    let faults = format!("{}/_sandbox/faults", world.sandbox.base_url());
    let http = reqwest::Client::new();
    // The first matching rule wins: one malformed customer page at a seeded random point, then 5%
    // 429 and 5% 503 (with BC's Retry-After) on every data route.
    for rule in [
        json!({"route": "*/RescoCustomer*", "kind": "malformed", "rate": 0.2, "count": 1}),
        json!({"status": 429, "rate": 0.05}),
        json!({"status": 503, "retry_after": 1, "rate": 0.05}),
    ] {
        let answer = http.post(&faults).json(&rule).send().await.unwrap();
        assert!(answer.status().is_success(), "{rule}: {}", answer.status());
    }
    let run_id = world.trigger().await;

    world.wait_final(run_id, Duration::from_secs(300)).await;
    let left: Value = http
        .get(&faults)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        left.as_array().map(Vec::len),
        Some(2),
        "the malformed page was served (its rule retired): {left}"
    );
    let run = verify::all(&mut world, run_id, &versions).await;
    assert_eq!(
        run.attempt, 2,
        "busy answers are retried per request; the malformed page costs one attempt: {run:#?}"
    );
    world.finish().await;
}
