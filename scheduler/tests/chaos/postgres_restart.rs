//! Scenario 3: PostgreSQL crash-restarted (`pg_ctl stop -m immediate`, then start) twice mid-import, on a
//! private server. Every connection of the workers, the scheduler and the test dies at once; committed
//! pages must survive WAL recovery and the run must resume from its checkpoint.

use std::time::Duration;

use crate::verify;
use crate::world::World;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_crash_restarted_mid_import_loses_nothing() {
    let mut world = World::start("postgres_restart", true).await;
    let versions = verify::source_versions(&world);
    let rows = world.rows as i64;
    let run_id = world.trigger().await;

    for share in [4, 2] {
        let point = rows / share + world.rng.i64(0..rows / 8);
        assert!(
            world
                .wait_rows(run_id, point, Duration::from_secs(180))
                .await
        );
        let postgres = world.postgres.as_ref().expect("a private server");
        tokio::task::block_in_place(|| postgres.restart());
        println!("postgres crash-restarted at {point} rows");
        world
            .wait_run(run_id, "readable again", Duration::from_secs(60), |_| true)
            .await;
        verify::checkpoint_behind_rows(&world, &versions).await;
    }

    world.wait_final(run_id, Duration::from_secs(300)).await;
    let run = verify::all(&mut world, run_id, &versions).await;
    println!("attempts {}, last error {:?}", run.attempt, run.error);
    world.finish().await;
}
