//! Scenario 2: Redis dies (SIGKILL, no persistence) mid-import and comes back empty. Later the lease
//! holder dies too, so the run can only finish if recovery pushes its job into the new Redis and a
//! worker that lived through the restart takes it from there.

use std::time::Duration;

use crate::verify;
use crate::world::World;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restarted_empty_mid_import_loses_nothing() {
    let mut world = World::start("redis_restart", false).await;
    let versions = verify::source_versions(&world);
    let rows = world.rows as i64;
    let run_id = world.trigger().await;

    let point = rows / 5 + world.rng.i64(0..rows / 5);
    assert!(
        world
            .wait_rows(run_id, point, Duration::from_secs(180))
            .await
    );
    world.redis.kill().await;
    let outage = Duration::from_millis(world.rng.u64(200..2000));
    println!("redis down at {point} rows for {outage:?}");
    tokio::time::sleep(outage).await;
    world.redis.launch().await;
    verify::checkpoint_behind_rows(&world, &versions).await;

    let point = rows / 2 + world.rng.i64(0..rows / 5);
    assert!(
        world
            .wait_rows(run_id, point, Duration::from_secs(180))
            .await
    );
    let run = world
        .wait_run(run_id, "held", Duration::from_secs(30), |r| {
            r.lease_owner.is_some()
        })
        .await;
    let holder = world
        .lease_holder(&run)
        .expect("a live worker holds the lease");
    world.kill_and_restart_worker(holder).await;
    println!("lease holder {holder} killed at {point} rows");

    world.wait_final(run_id, Duration::from_secs(300)).await;
    let run = verify::all(&mut world, run_id, &versions).await;
    assert_eq!(
        run.attempt, 2,
        "one attempt lost with the killed worker, none to the Redis restart: {run:#?}"
    );
    world.finish().await;
}
