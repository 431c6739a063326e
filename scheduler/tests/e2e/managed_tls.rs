//! Managed Redis and PostgreSQL that require TLS (issue 18, item 7). Each test makes its own CA and a
//! server certificate for `localhost` and `127.0.0.1` (`certificates.rs`), and starts its own server
//! on 127.0.0.1 that speaks only TLS and wants a password; the servers stop when the test ends, also
//! when it panics (their guards' `Drop`). Ferry must connect with the CA it is given, refuse a
//! server its CA did not sign, and say what failed without showing a password.

use std::time::Duration;

use ferry_shared::runs::Mode;
use ferry_shared::settings::{DatabaseSettings, QueueSettings};
use ferry_shared::storage::{self, StorageError};
use sea_orm::{ConnectionTrait, Statement};

use crate::certificates::Certificates;
use crate::helpers::{TestEnv, assert_customers_equal_source};
use crate::private_postgres::{PostgresTls, PrivatePostgres};
use crate::private_redis::{PrivateRedis, RedisTls};

const REDIS_PASSWORD: &str = "redis-pw-5f2c9a";
const WRONG_PASSWORD: &str = "not-the-redis-pw-81d3";
const DATABASE_PASSWORD: &str = "db-pw-7e41b0";

/// The queue settings of `env` pointed at the TLS Redis, with the password given as the setting
/// (what `FERRY__QUEUE__PASSWORD` sets) and the test's CA.
fn tls_queue(env: &TestEnv, redis: &PrivateRedis, certificates: &Certificates) -> QueueSettings {
    QueueSettings {
        url: redis.url(),
        prefix: env.settings.queue.prefix.clone(),
        password: Some(REDIS_PASSWORD.to_string().into()),
        tls_ca_file: Some(certificates.ca.clone()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_round_trips_through_a_tls_redis_trusted_by_its_ca_and_password() {
    let certificates = Certificates::make();
    let redis = PrivateRedis::start_tls(RedisTls {
        cert: certificates.server_cert.clone(),
        key: certificates.server_key.clone(),
        ca: certificates.ca.clone(),
        password: REDIS_PASSWORD.into(),
    })
    .await;
    let mut env = TestEnv::without_worker(40, 2).await;
    env.settings.queue = tls_queue(&env, &redis, &certificates);
    assert!(env.settings.queue.url.starts_with("rediss://localhost:"));
    env.apply(&env.write_definitions("")).await;

    // Pushed over TLS by the trigger, claimed over TLS by the worker (woken over TLS too).
    env.start_worker();
    let run_id =
        ferry_scheduler::cli::trigger(&env.db, &env.settings, "customers", Mode::Incremental)
            .await
            .unwrap();
    let run = ferry_scheduler::cli::wait_for(&env.db, run_id, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!((run.status.as_str(), run.inserted), ("succeeded", 40));
    assert_customers_equal_source(&env).await;
    let mut queue = ferry_shared::queue::storage(&env.settings.queue, Duration::from_secs(10))
        .await
        .unwrap();
    let bookkeeping = ferry_shared::queue::bookkeeping(&mut queue).await.unwrap();
    assert!(
        !bookkeeping.workers.is_empty(),
        "the worker registered over TLS"
    );

    // Without the CA, the server's certificate is checked against the public roots and refused.
    let without_ca = QueueSettings {
        tls_ca_file: None,
        ..env.settings.queue.clone()
    };
    let error = queue_error(&without_ca).await;
    assert!(
        error.contains("certificate")
            && error.contains("queue.tls_ca_file")
            && error.contains(&format!("localhost:{}", redis.port)),
        "{error}"
    );
    // Trusting another CA is no better, and the error names the file it trusted.
    let other_ca = QueueSettings {
        tls_ca_file: Some(certificates.other_ca.clone()),
        ..env.settings.queue.clone()
    };
    let error = queue_error(&other_ca).await;
    assert!(
        error.contains("not trusted") && error.contains("other-ca.pem"),
        "{error}"
    );
    // A wrong password is named as the cause, and never shown.
    let wrong_password = QueueSettings {
        password: Some(WRONG_PASSWORD.to_string().into()),
        ..env.settings.queue.clone()
    };
    let error = queue_error(&wrong_password).await;
    assert!(error.contains("FERRY__QUEUE__PASSWORD"), "{error}");
    let without_password = QueueSettings {
        password: None,
        ..env.settings.queue.clone()
    };
    let missing = queue_error(&without_password).await;
    assert!(missing.contains("FERRY__QUEUE__PASSWORD"), "{missing}");
    for error in [&error, &missing, &queue_error(&without_ca).await] {
        assert!(
            !error.contains(WRONG_PASSWORD) && !error.contains(REDIS_PASSWORD),
            "{error}"
        );
    }

    // The `ferry` binary reads the same from its environment, and says no more.
    let output = env
        .ferry(&["run", "customers"])
        .env("FERRY__QUEUE__URL", redis.url())
        .env("FERRY__QUEUE__TLS_CA_FILE", &certificates.ca)
        .env("FERRY__QUEUE__PASSWORD", WRONG_PASSWORD)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stderr.contains("FERRY__QUEUE__PASSWORD"),
        "the run is recorded and its push waits for the queue: {stderr}"
    );
    assert!(!stderr.contains(WRONG_PASSWORD), "{stderr}");
    env.finish().await;
}

/// The error `queue::storage` gives for `settings`, as text.
async fn queue_error(settings: &QueueSettings) -> String {
    let opened = ferry_shared::queue::storage(settings, Duration::from_secs(10));
    match tokio::time::timeout(Duration::from_secs(30), opened).await {
        Ok(Ok(_)) => panic!("the queue opened with {settings:?}"),
        Ok(Err(e)) => e.to_string(),
        Err(_) => panic!("no answer within 30 s"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_migrates_a_tls_postgres_verified_against_its_ca_and_refuses_another_ca() {
    let certificates = Certificates::make();
    let postgres = tokio::task::block_in_place(|| {
        PrivatePostgres::start_tls(&PostgresTls {
            cert: certificates.server_cert.clone(),
            key: certificates.server_key.clone(),
            password: DATABASE_PASSWORD.into(),
        })
    });
    let port = postgres.port;
    let ca = certificates.ca.display().to_string();

    // The CA in the URL, with the mode written out.
    let in_url = database(&format!(
        "postgres://postgres:{DATABASE_PASSWORD}@localhost:{port}/postgres?sslmode=verify-full&sslrootcert={ca}"
    ));
    let db = storage::connect(&in_url).await.unwrap();
    assert_tls_and_migrated(&db).await;
    db.close().await.unwrap();

    // The CA as database.tls_ca_file, no mode: verify-full, on loopback too, by IP address.
    let mut as_setting = database(&format!(
        "postgres://postgres:{DATABASE_PASSWORD}@127.0.0.1:{port}/postgres"
    ));
    as_setting.tls_ca_file = Some(certificates.ca.clone());
    let db = storage::connect(&as_setting).await.unwrap();
    assert_tls_and_migrated(&db).await;
    db.close().await.unwrap();

    // Another CA: refused, saying what was checked against what, and never the password.
    as_setting.tls_ca_file = Some(certificates.other_ca.clone());
    let error = storage::connect(&as_setting).await.unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, StorageError::Certificate { .. }), "{text}");
    assert!(
        text.contains("not trusted")
            && text.contains("other-ca.pem")
            && text.contains("database.tls_ca_file")
            && text.contains(&format!("127.0.0.1:{port}")),
        "{text}"
    );
    assert!(!text.contains(DATABASE_PASSWORD), "{text}");

    // A mode that checks nothing cannot be combined with a CA: refused when settings load.
    let dir = std::env::temp_dir().join(format!("ferry-tls-settings-{port}"));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("ferry.toml");
    std::fs::write(
        &file,
        format!(
            "[database]\nurl = \"postgres://postgres@127.0.0.1:{port}/postgres?sslmode=require\"\n\
             tls_ca_file = \"{ca}\"\n"
        ),
    )
    .unwrap();
    let refused = ferry_shared::settings::Settings::load(Some(&file))
        .unwrap_err()
        .to_string();
    std::fs::remove_dir_all(&dir).ok();
    assert!(refused.contains("sslmode=require"), "{refused}");
}

fn database(url: &str) -> DatabaseSettings {
    DatabaseSettings {
        url: url.to_string(),
        max_connections: 2,
        lock_timeout_ms: 10_000,
        statement_timeout_ms: 60_000,
        idle_in_transaction_timeout_ms: 60_000,
        tls_ca_file: None,
    }
}

/// The session is encrypted (`pg_stat_ssl`) and Ferry's tables exist.
async fn assert_tls_and_migrated(db: &sea_orm::DatabaseConnection) {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT ssl, (SELECT count(*) FROM ferry_runs) AS runs \
             FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        ))
        .await
        .unwrap()
        .unwrap();
    assert!(
        row.try_get::<bool>("", "ssl").unwrap(),
        "the session uses TLS"
    );
    assert_eq!(row.try_get::<i64>("", "runs").unwrap(), 0);
}
