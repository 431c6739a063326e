//! The in-process budget (one-process mode). The Redis one, shared across processes, is tested
//! against a real Redis in `scheduler/tests/e2e/budget.rs`.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{Budget, BudgetError, Budgets, Window};

fn budget(concurrent: u32, window: Option<(u32, u64)>) -> Budget {
    Budget {
        concurrent,
        window: window.map(|(requests, ms)| Window {
            requests,
            per: Duration::from_millis(ms),
        }),
    }
}

#[tokio::test]
async fn a_request_past_the_concurrent_slots_waits_until_one_is_given_back() {
    let budgets = Budgets::in_process(CancellationToken::new());
    let gate = budgets.gate("bc", budget(2, None), Duration::from_secs(5));
    let first = gate.enter().await.unwrap();
    let _second = gate.enter().await.unwrap();
    let third = tokio::spawn({
        let gate = gate.clone();
        async move { gate.enter().await.map(|_| ()) }
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(!third.is_finished(), "a third request waits for a slot");
    drop(first);
    tokio::time::timeout(Duration::from_secs(2), third)
        .await
        .expect("the freed slot is taken")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn a_spent_window_waits_for_its_oldest_request_to_leave_it() {
    let budgets = Budgets::in_process(CancellationToken::new());
    let gate = budgets.gate("dv", budget(10, Some((3, 400))), Duration::from_secs(5));
    let started = tokio::time::Instant::now();
    for _ in 0..3 {
        drop(gate.enter().await.unwrap());
    }
    assert!(started.elapsed() < Duration::from_millis(200));
    drop(gate.enter().await.unwrap());
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "the fourth request waited for the window: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_wait_is_bounded_and_ends_at_shutdown() {
    let stopping = CancellationToken::new();
    let budgets = Budgets::in_process(stopping.clone());
    let gate = budgets.gate("bc", budget(1, None), Duration::from_millis(200));
    let _held = gate.enter().await.unwrap();
    let spent = gate.enter().await.unwrap_err();
    assert!(
        matches!(spent, BudgetError::Spent { .. }) && spent.to_string().contains("1 at once"),
        "{spent}"
    );

    let patient = budgets.gate("bc", budget(1, None), Duration::from_secs(60));
    let waiting = tokio::spawn(async move { patient.enter().await.map(|_| ()) });
    tokio::time::sleep(Duration::from_millis(50)).await;
    stopping.cancel();
    let stopped = tokio::time::timeout(Duration::from_secs(2), waiting)
        .await
        .expect("shutdown ends the wait at once")
        .unwrap()
        .unwrap_err();
    assert!(matches!(stopped, BudgetError::Stopped { .. }), "{stopped}");
}

#[tokio::test]
async fn connections_have_budgets_of_their_own() {
    let budgets = Budgets::in_process(CancellationToken::new());
    let bc = budgets.gate("bc", budget(1, None), Duration::from_millis(100));
    let other = budgets.gate("other", budget(1, None), Duration::from_millis(100));
    let _a = bc.enter().await.unwrap();
    let _b = other.enter().await.unwrap();
    assert!(bc.enter().await.is_err());
}

#[test]
fn defaults_follow_the_kind_and_the_definition_overrides_them() {
    use crate::definitions::{BudgetDef, ConnectionDef, ConnectionKind};
    let mut connection: ConnectionDef = toml::from_str(
        r#"
name = "bc"
kind = "business_central"
url = "https://bc.example"
company = "CRONUS"
auth = { flow = "none" }
"#,
    )
    .unwrap();
    assert_eq!(
        Budget::of(&connection).to_string(),
        "5 at once, 6000 per 300 s"
    );
    connection.kind = ConnectionKind::Dataverse;
    assert_eq!(
        Budget::of(&connection).to_string(),
        "52 at once, 6000 per 300 s"
    );
    connection.kind = ConnectionKind::Odata;
    assert_eq!(Budget::of(&connection).to_string(), "10 at once");
    connection.budget = Some(BudgetDef {
        concurrent: Some(3),
        requests: Some(100),
        per_secs: Some(60),
    });
    assert_eq!(
        Budget::of(&connection).to_string(),
        "3 at once, 100 per 60 s"
    );
    connection.kind = ConnectionKind::BusinessCentral;
    connection.budget = Some(BudgetDef {
        concurrent: Some(2),
        requests: None,
        per_secs: None,
    });
    assert_eq!(
        Budget::of(&connection).to_string(),
        "2 at once, 6000 per 300 s"
    );
}
