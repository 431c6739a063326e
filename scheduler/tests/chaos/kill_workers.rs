//! Scenario 1: `kill -9` a worker twenty times at random points of the import, starting a fresh process
//! in its place each time. Mostly the lease holder (its run must be taken back at the checkpoint and
//! finished by a worker), sometimes the idle one (nothing may change).

use std::time::Duration;

use crate::verify;
use crate::world::World;

const KILLS: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_sigkills_lose_and_duplicate_nothing() {
    let mut world = World::start("kill_workers", false).await;
    let versions = verify::source_versions(&world);
    let run_id = world.trigger().await;
    // Kill i lands in the i-th of KILLS + 2 slices of the import, so all twenty hit a running import.
    let slice = world.rows as f64 / (KILLS + 2) as f64;
    let mut holder_kills = 0;
    for i in 0..KILLS {
        let point = ((i as f64 + 0.5 + world.rng.f64()) * slice) as i64;
        if !world
            .wait_rows(run_id, point, Duration::from_secs(180))
            .await
        {
            world.fail(&format!(
                "the run ended after {i} kills: too few rows to attack"
            ));
        }
        // Anywhere in a page: reading, mapping, writing or committing.
        let delay = Duration::from_millis(world.rng.u64(0..250));
        tokio::time::sleep(delay).await;
        let run = world.run(run_id).await.expect("the run row");
        let holder = world.lease_holder(&run);
        let victim = match holder {
            Some(h) if world.rng.f64() < 0.8 => h,
            _ => world.rng.usize(0..2),
        };
        world.kill_and_restart_worker(victim).await;
        println!(
            "kill {i}: worker {victim} at {point} rows + {delay:?}, lease holder {holder:?}, \
             attempt {}",
            run.attempt
        );
        verify::checkpoint_behind_rows(&world, &versions).await;
        if holder == Some(victim) {
            holder_kills += 1;
            // The history says what happened: recovery takes the run back naming the lost
            // attempt, and the next claim is the next attempt.
            let lost = run.attempt;
            let again = world
                .wait_run(run_id, "claimed again", Duration::from_secs(60), |r| {
                    r.attempt > lost || r.state == "succeeded"
                })
                .await;
            let error = again.error.clone().unwrap_or_default();
            if again.state == "running" && !error.contains(&format!("attempt {lost}")) {
                world.fail(&format!(
                    "attempt {lost} was lost, the run says: {again:#?}"
                ));
            }
        }
    }
    world.wait_final(run_id, Duration::from_secs(300)).await;
    let run = verify::all(&mut world, run_id, &versions).await;
    println!(
        "{holder_kills} of {KILLS} kills hit the lease holder; {} attempts",
        run.attempt
    );
    assert!(
        run.attempt as usize > holder_kills && run.attempt as usize <= KILLS + 1,
        "one attempt per lost lease, and no more than the kills explain: {run:#?}"
    );
    world.finish().await;
}
