//! The mapping engine end to end: filters checked at apply and rendered safely, transforms, and
//! per-record conversion failures.

use ferry_scheduler::cli;
use ferry_shared::runs::Mode;
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::helpers::{Backend, TestEnv, text};

crate::on_both_backends!(
    #[tokio::test]
    apply_refuses_a_malformed_filter_and_points_at_it
);
async fn apply_refuses_a_malformed_filter_and_points_at_it(backend: Backend) {
    let env = TestEnv::without_worker_on(backend, 1, 1).await;
    let file = env.dir.join("bad.toml");
    let good = env.write_definitions("");
    std::fs::write(
        &file,
        r#"
[[integration]]
name = "cities"
connection = "bc"
source = { entity = "RescoCustomer", key = ["No"], version = "RowVersionNumber", filter = "City eq" }
target = { table = "city", key = ["no"] }
fields = [{ from = "No", to = "no" }]
"#,
    )
    .unwrap();

    let errors = cli::apply(&env.db, &[good, file])
        .await
        .unwrap()
        .expect_err("the filter is refused");

    assert_eq!(errors.len(), 1, "{errors:?}");
    let shown = errors[0].to_string();
    assert!(
        shown.contains("integration \"cities\".source.filter")
            && shown.contains("at position 7 (end of filter): expected a value after `eq`"),
        "{shown}"
    );
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test]
    a_filter_with_quotes_and_functions_selects_exactly_the_matching_rows
);
async fn a_filter_with_quotes_and_functions_selects_exactly_the_matching_rows(backend: Backend) {
    let env = TestEnv::start_on(backend, 600, 1).await;
    env.apply(&env.write_definitions(
        r#"
[[integration]]
name = "some"
connection = "bc"
source = { entity = "RescoCustomer", key = ["No"], version = "RowVersionNumber", filter = "(City eq 'Salt Lake City' or startswith(City,'Kansas')) and Name ne 'O''Neil & Co+'" }
target = { table = "some_customer", key = ["no"], create = true }
fields = [{ from = "No", to = "no" }]
"#,
    ))
    .await;

    let run = env.run("some", Mode::Incremental).await;

    assert_eq!(run.status, "succeeded", "{:?}", run.error);
    let expected: Vec<Vec<Option<String>>> = env
        .sandbox
        .rows("RescoCustomer")
        .iter()
        .filter(|r| {
            let city = r["City"].as_str().unwrap_or_default();
            city == "Salt Lake City" || city.starts_with("Kansas")
        })
        .map(|r| vec![text(&r["No"])])
        .collect();
    assert!(!expected.is_empty(), "the sandbox has such customers");
    assert_eq!(env.table("some_customer", &["no"], "no").await, expected);
    assert_eq!(run.inserted as usize, expected.len());
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test]
    a_filter_field_missing_at_the_source_fails_the_run_naming_it
);
async fn a_filter_field_missing_at_the_source_fails_the_run_naming_it(backend: Backend) {
    let env = TestEnv::start_on(backend, 5, 1).await;
    env.apply(&env.write_definitions(
        r#"
[[integration]]
name = "drifted"
connection = "bc"
source = { entity = "RescoCustomer", key = ["No"], version = "RowVersionNumber", filter = "Town eq 'X'" }
target = { table = "drifted", key = ["no"], create = true }
fields = [{ from = "No", to = "no" }]
"#,
    ))
    .await;

    let run = env.run("drifted", Mode::Incremental).await;

    assert_eq!(run.status, "failed");
    let error = run.error.unwrap_or_default();
    assert!(error.contains("field \"Town\" not found"), "{error}");
    assert!(
        error.contains("filter"),
        "the message names where the field is used: {error}"
    );
    env.finish().await;
}

crate::on_both_backends!(
    #[tokio::test]
    transforms_shape_every_row
);
async fn transforms_shape_every_row(backend: Backend) {
    let env = TestEnv::start_on(backend, 300, 1).await;
    env.apply(&env.write_definitions(
        r#"
[[integration]]
name = "shaped"
connection = "bc"
source = { entity = "RescoCustomer", key = ["No"], version = "RowVersionNumber" }
target = { table = "shaped", key = ["no"], create = true }
fields = [
  { from = "No", to = "no" },
  { from = "Email", to = "email", transform = "upper" },
  { from = "Name", to = "name", transform = ["trim", "lower"] },
  { from = "Address2", to = "address2", transform = { default = "-" } },
  { from = "State", to = "region", transform = { map = { UT = "Utah", MO = "Missouri" }, fallback = "other" } },
  { to = "label", transform = { format = "{No}: {Name}" } },
  { to = "place", transform = { concat = ["PostCode", "City"], separator = " " } },
  { from = "SystemModifiedAt", to = "modified_day", transform = [{ timezone = "+02:00" }, { date = "%d.%m.%Y %H:%M" }] },
]
"#,
    ))
    .await;

    let run = env.run("shaped", Mode::Incremental).await;

    assert_eq!(run.status, "succeeded", "{:?}", run.error);
    assert_eq!(run.inserted, 300);
    let got = env
        .table(
            "shaped",
            &[
                "no",
                "email",
                "name",
                "address2",
                "region",
                "label",
                "place",
                "modified_day",
            ],
            "no",
        )
        .await;
    let source = env.sandbox.rows("RescoCustomer");
    assert_eq!(got.len(), source.len());
    let mut lower_emails = 0;
    for (row, src) in got.iter().zip(&source) {
        let s = |f: &str| text(&src[f]).unwrap_or_default();
        assert_eq!(row[0], Some(s("No")));
        let email = row[1].clone().unwrap_or_default();
        if email != email.to_uppercase() {
            lower_emails += 1;
        }
        assert_eq!(email, s("Email").to_uppercase());
        assert_eq!(row[2], Some(s("Name").trim().to_lowercase()));
        let address2 = s("Address2");
        assert_eq!(
            row[3],
            Some(if address2.is_empty() {
                "-".into()
            } else {
                address2
            })
        );
        let region = match s("State").as_str() {
            "UT" => "Utah",
            "MO" => "Missouri",
            _ => "other",
        };
        assert_eq!(row[4].as_deref(), Some(region));
        assert_eq!(row[5], Some(format!("{}: {}", s("No"), s("Name"))));
        let place: Vec<String> = [s("PostCode"), s("City")]
            .into_iter()
            .filter(|p| !p.is_empty())
            .collect();
        assert_eq!(row[6], Some(place.join(" ")));
        let modified = chrono::DateTime::parse_from_rfc3339(&s("SystemModifiedAt")).unwrap();
        let local = modified.with_timezone(&chrono::FixedOffset::east_opt(7200).unwrap());
        assert_eq!(row[7], Some(local.format("%d.%m.%Y %H:%M").to_string()));
    }
    assert_eq!(lower_emails, 0, "no lower-case e-mail in the target");
    env.finish().await;
}

/// Postgres only: SQLite neither enforces a declared width (`varchar(n)`, `smallint`) nor has a `date`
/// type, so Ferry adopts a hand-made table's column types on Postgres only (`mapping::adopt`) and on
/// SQLite every one of these values fits.
#[tokio::test]
async fn values_that_do_not_fit_fail_their_record_not_the_page() {
    let env = TestEnv::start(120, 1).await;
    // A hand-made table narrower than the source: names of at most the median length, cities as dates.
    let limit = median_name_length(&env);
    env.db
        .execute_unprepared(&format!(
            "CREATE TABLE narrow (no varchar(20) PRIMARY KEY, name varchar({limit}), \
             city_day date, version integer NOT NULL); \
             CREATE TABLE tiny (no varchar(20) PRIMARY KEY, version smallint, phone text NOT NULL)"
        ))
        .await
        .unwrap();
    env.apply(&env.write_definitions(
        r#"
[[integration]]
name = "narrow"
connection = "bc"
source = { entity = "RescoCustomer", key = ["No"], version = "RowVersionNumber" }
target = { table = "narrow", key = ["no"] }
fields = [
  { from = "No", to = "no" },
  { from = "Name", to = "name" },
  { from = "City", to = "city_day", transform = { map = { "Salt Lake City" = "2026-02-30" }, fallback = "2026-03-01" } },
  { from = "RowVersionNumber", to = "version" },
]

[[integration]]
name = "tiny"
connection = "bc"
source = { entity = "RescoCustomer", key = ["No"], version = "RowVersionNumber" }
target = { table = "tiny", key = ["no"], shared = true }
fields = [
  { from = "No", to = "no" },
  { from = "RowVersionNumber", to = "version" },
]

[[integration]]
name = "nulls"
connection = "bc"
source = { entity = "RescoCustomer", key = ["No"], version = "RowVersionNumber" }
target = { table = "tiny", key = ["no"], shared = true }
fields = [
  { from = "No", to = "no" },
]
lookups = [{ to = "phone", from = ["No"], table = "narrow", match = ["no"], select = "name", missing = "null" }]
"#,
    ))
    .await;

    let run = env.run("narrow", Mode::Incremental).await;

    // A name longer than the limit, or Salt Lake City mapped to February 30th, fails its record only.
    let source = env.sandbox.rows("RescoCustomer");
    let fits = |r: &serde_json::Map<String, serde_json::Value>| {
        r["Name"].as_str().unwrap_or_default().chars().count() <= limit
            && r["City"].as_str() != Some("Salt Lake City")
    };
    let good = source.iter().filter(|r| fits(r)).count() as i64;
    assert!(0 < good && good < 120, "some records fit, some do not");
    assert_eq!(run.status, "partial", "{:?}", run.error);
    assert_eq!((run.inserted, run.failed), (good, 120 - good));
    let narrow = error_messages(&env, run.run_id).await;
    assert_eq!(narrow.len() as i64, 120 - good);
    assert!(
        narrow.iter().any(|e| e.starts_with("name: text of")
            && e.contains(&format!("exceeds the maximum length {limit}"))),
        "{narrow:?}"
    );
    assert!(
        narrow.iter().any(|e| e.starts_with("city_day: not a date")),
        "{narrow:?}"
    );

    // Row versions start above 100,000: none fits a smallint, and still the run ends, partial.
    let tiny = env.run("tiny", Mode::Incremental).await;
    assert_eq!(
        (tiny.status.as_str(), tiny.failed, tiny.inserted),
        ("partial", 120, 0)
    );
    assert!(error_messages(&env, tiny.run_id).await[0].contains("does not fit a 16-bit integer"));

    // A lookup that finds nothing writes null, which the NOT NULL column refuses record by record.
    let nulls = env.run("nulls", Mode::Incremental).await;
    assert_eq!((nulls.inserted, nulls.failed), (good, 120 - good));
    assert!(error_messages(&env, nulls.run_id).await[0].contains("null in a NOT NULL column"));
    env.finish().await;
}

/// The messages of a run's failed records, in the order they were stored.
async fn error_messages(env: &TestEnv, run_id: i64) -> Vec<String> {
    let rows = env
        .db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT message FROM ferry_run_errors WHERE run_id = $1 ORDER BY id",
            [run_id.into()],
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|r| r.try_get_by_index::<String>(0).unwrap())
        .collect()
}

/// The median length of the sandbox's customer names, so about half of them fit a column that long.
pub fn median_name_length(env: &TestEnv) -> usize {
    let mut lengths: Vec<usize> = env
        .sandbox
        .rows("RescoCustomer")
        .iter()
        .map(|r| r["Name"].as_str().unwrap_or_default().chars().count())
        .collect();
    lengths.sort();
    lengths[lengths.len() / 2]
}

/// A hand-made table's NOT NULL column refuses a null record by record on both engines: SQLite's
/// declared types are affinities and stay the source's, but its NOT NULL is adopted like Postgres'.
async fn a_null_for_a_not_null_column_fails_its_record_not_the_run(backend: Backend) {
    let env = TestEnv::start_on(backend, 40, 1).await;
    env.db
        .execute_unprepared("CREATE TABLE strict (no varchar(20) PRIMARY KEY, phone text NOT NULL)")
        .await
        .unwrap();
    env.apply(&env.write_definitions(
        r#"
[[integration]]
name = "strict"
connection = "bc"
source = { entity = "RescoCustomer", key = ["No"], version = "RowVersionNumber" }
target = { table = "strict", key = ["no"] }
fields = [
  { from = "No", to = "no" },
]
lookups = [{ to = "phone", from = ["No"], table = "nowhere", match = ["no"], select = "phone", missing = "null" }]
"#,
    ))
    .await;
    let run = env.run("strict", Mode::Incremental).await;
    assert_eq!(
        (run.status.as_str(), run.inserted, run.failed),
        ("partial", 0, 40),
        "{:?}",
        run.error
    );
    let first = env
        .db
        .query_one_raw(ferry_shared::storage::statement(
            env.db.get_database_backend(),
            "SELECT message FROM ferry_run_errors WHERE run_id = ? ORDER BY id",
            [run.run_id.into()],
        ))
        .await
        .unwrap()
        .expect("failed records are logged");
    let message: String = first.try_get_by_index(0).unwrap();
    assert!(message.contains("null in a NOT NULL column"), "{message}");
    env.finish().await;
}
crate::on_both_backends!(
    #[tokio::test]
    a_null_for_a_not_null_column_fails_its_record_not_the_run
);
