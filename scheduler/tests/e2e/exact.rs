//! No value is changed on the way (issue 21, item 2): decimals arrive digit for digit in a column with
//! the source's precision and scale, composite keys that used to read alike stay two records, and a
//! lookup into a narrow column matches only the value it holds.

use ferry_shared::runs::Mode;
use sea_orm::{ConnectionTrait, Statement};

use crate::helpers::{Backend, TestEnv};
use crate::on_both_backends;
use crate::raw_service::RawService;

/// One entity set of its own per test, under the names the integrations use.
fn metadata(properties: &str, key: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
  <edmx:DataServices>
    <Schema Namespace="Demo" xmlns="http://docs.oasis-open.org/odata/ns/edm">
      <EntityType Name="Item">
        <Key>{key}</Key>
        {properties}
        <Property Name="Version" Type="Edm.Int64" Nullable="false"/>
      </EntityType>
      <EntityContainer Name="Container">
        <EntitySet Name="Items" EntityType="Demo.Item"/>
      </EntityContainer>
    </Schema>
  </edmx:DataServices>
</edmx:Edmx>"#
    )
}

/// Starts a service with `properties` and `body`, and applies `integration` against it.
async fn world(
    backend: Backend,
    properties: &str,
    key: &str,
    body: &str,
    integration: &str,
) -> (RawService, TestEnv) {
    let service = RawService::start(&metadata(properties, key), body).await;
    let env = TestEnv::start_on(backend, 1, 1).await;
    let file = env.dir.join("raw.toml");
    std::fs::write(&file, service.definitions(integration)).unwrap();
    env.apply(&file).await;
    (service, env)
}

async fn decimals_arrive_exactly(backend: Backend) {
    let (_service, env) = world(
        backend,
        r#"<Property Name="Code" Type="Edm.String" Nullable="false"/>
           <Property Name="Amount" Type="Edm.Decimal" Precision="38" Scale="20"/>
           <Property Name="Ratio" Type="Edm.Decimal" Scale="Variable"/>"#,
        r#"<PropertyRef Name="Code"/>"#,
        r#"{"value":[{"Code":"A","Amount":1234567890123456.78,"Ratio":0.1234567890123456789,"Version":1}]}"#,
        r#"
[[integration]]
name = "items"
connection = "raw"
source = { entity = "Items", key = ["Code"], version = "Version" }
target = { table = "item", key = ["code"], create = true }
fields = [{ from = "Code", to = "code" }, { from = "Amount", to = "amount" }, { from = "Ratio", to = "ratio" }]
"#,
    )
    .await;
    let run = env.run("items", Mode::Incremental).await;
    assert_eq!(
        (run.status.as_str(), run.inserted),
        ("succeeded", 1),
        "{run:?}"
    );
    let stored = env.table("item", &["amount", "ratio"], "code").await;
    let [amount, ratio] = [stored[0][0].clone(), stored[0][1].clone()].map(Option::unwrap);
    match backend {
        Backend::Postgres => {
            // numeric(38,20), as $metadata says: the same number, written out to its scale.
            assert_eq!(amount, "1234567890123456.78000000000000000000");
            let declared = env
                .db
                .query_one_raw(Statement::from_string(
                    env.db.get_database_backend(),
                    "SELECT format_type(atttypid, atttypmod) FROM pg_attribute \
                     WHERE attrelid = 'item'::regclass AND attname = 'amount'",
                ))
                .await
                .unwrap()
                .unwrap()
                .try_get_by_index::<String>(0)
                .unwrap();
            assert_eq!(declared, "numeric(38,20)");
        }
        // SQLite keeps decimals as text, exactly as the source sent them.
        Backend::Sqlite => assert_eq!(amount, "1234567890123456.78"),
    }
    assert_eq!(
        ratio, "0.1234567890123456789",
        "Scale=\"Variable\": unconstrained"
    );
    env.finish().await;
}
on_both_backends!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    decimals_arrive_exactly
);

async fn composite_keys_that_read_alike_stay_two_records(backend: Backend) {
    // (A|B, C) and (A, B|C) once shared the record key `A|B|C`; (X␟, Y) and (X, ␟Y) once shared the
    // writer's key, and one of them was dropped as a duplicate.
    let body = r#"{"value":[
        {"Doc":"A|B","Line":"C","Version":1},
        {"Doc":"A","Line":"B|C","Version":2},
        {"Doc":"X\u001f","Line":"Y","Version":3},
        {"Doc":"X","Line":"\u001fY","Version":4}]}"#;
    let (_service, env) = world(
        backend,
        r#"<Property Name="Doc" Type="Edm.String" Nullable="false"/>
           <Property Name="Line" Type="Edm.String" Nullable="false"/>"#,
        r#"<PropertyRef Name="Doc"/><PropertyRef Name="Line"/>"#,
        body,
        r#"
[[integration]]
name = "lines"
connection = "raw"
source = { entity = "Items", key = ["Doc", "Line"], version = "Version" }
target = { table = "line", key = ["doc", "line"], create = true }
fields = [{ from = "Doc", to = "doc" }, { from = "Line", to = "line" }, { from = "Version", to = "version" }]
"#,
    )
    .await;
    let run = env.run("lines", Mode::Incremental).await;
    assert_eq!(
        (run.status.as_str(), run.inserted),
        ("succeeded", 4),
        "{run:?}"
    );
    let rows = env.table("line", &["version"], "version").await;
    assert_eq!(rows.len(), 4, "{rows:?}");
    let couplings = env
        .db
        .query_one_raw(Statement::from_string(
            env.db.get_database_backend(),
            "SELECT COUNT(DISTINCT source_key) FROM ferry_couplings WHERE integration = 'lines'",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index::<i64>(0)
        .unwrap();
    assert_eq!(couplings, 4, "each record owns its own row");

    // Read again, every record is found unchanged through its own coupling.
    let again = env.run("lines", Mode::Full).await;
    assert_eq!(
        (again.status.as_str(), again.unchanged, again.updated),
        ("succeeded", 4, 0),
        "{again:?}"
    );
    env.finish().await;
}
on_both_backends!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    composite_keys_that_read_alike_stay_two_records
);

async fn a_lookup_into_a_narrow_column_matches_only_its_value(backend: Backend) {
    let body = r#"{"value":[
        {"Code":"P1","Ref":"name","Version":1},
        {"Code":"P2","Ref":"name 1","Version":2},
        {"Code":"P3","Ref":"name 2","Version":3}]}"#;
    let (_service, env) = world(
        backend,
        r#"<Property Name="Code" Type="Edm.String" Nullable="false"/>
           <Property Name="Ref" Type="Edm.String"/>"#,
        r#"<PropertyRef Name="Code"/>"#,
        body,
        r#"
[[integration]]
name = "items"
connection = "raw"
source = { entity = "Items", key = ["Code"], version = "Version" }
target = { table = "item", key = ["code"], create = true }
fields = [{ from = "Code", to = "code" }]
lookups = [{ to = "owner", from = ["Ref"], table = "owner", match = ["name"], select = "id", missing = "null" }]
"#,
    )
    .await;
    for sql in [
        "CREATE TABLE owner (id integer PRIMARY KEY, name varchar(4) NOT NULL)",
        "INSERT INTO owner (id, name) VALUES (7, 'name')",
    ] {
        env.db
            .execute_raw(Statement::from_string(env.db.get_database_backend(), sql))
            .await
            .unwrap();
    }
    let run = env.run("items", Mode::Incremental).await;
    assert_eq!(
        (run.status.as_str(), run.inserted),
        ("succeeded", 3),
        "{run:?}"
    );
    let owners = env.table("item", &["code", "owner"], "code").await;
    let owners: Vec<(String, Option<String>)> = owners
        .into_iter()
        .map(|r| (r[0].clone().unwrap(), r[1].clone()))
        .collect();
    assert_eq!(
        owners,
        [
            ("P1".to_string(), Some("7".to_string())),
            ("P2".to_string(), None),
            ("P3".to_string(), None),
        ],
        "`name 1` and `name 2` are not `name`"
    );
    env.finish().await;
}
on_both_backends!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    a_lookup_into_a_narrow_column_matches_only_its_value
);
