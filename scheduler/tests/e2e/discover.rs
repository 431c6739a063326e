//! `ferry discover`: from a `$metadata` file and from a live connection.

use serde_json::Value;

use crate::helpers::TestEnv;

fn fixture() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/tests/fixtures/bc-odatav4-metadata.xml")
}

#[test]
fn metadata_file_lists_all_81_entity_sets() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["discover", "--metadata"])
        .arg(fixture())
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let catalog: Value = serde_json::from_slice(&output.stdout).unwrap();
    let sets = catalog["entity_sets"].as_array().unwrap();
    assert_eq!(sets.len(), 81);
    for set in sets {
        assert!(set["name"].is_string() && set["entity_type"].is_string());
        assert!(
            !set["key"].as_array().unwrap().is_empty(),
            "{}",
            set["name"]
        );
        for p in set["properties"].as_array().unwrap() {
            assert!(p["name"].is_string() && p["type"].is_string() && p["nullable"].is_boolean());
        }
    }
    let company = sets
        .iter()
        .find(|s| s["name"] == "Company")
        .expect("Company set");
    assert_eq!(company["entity_type"], "NAV.Company");
    assert_eq!(company["key"], serde_json::json!(["Name"]));
    let properties = company["properties"].as_array().unwrap();
    let name = properties.iter().find(|p| p["name"] == "Name").unwrap();
    assert_eq!(
        (
            name["type"].as_str(),
            name["nullable"].as_bool(),
            name["max_length"].as_u64()
        ),
        (Some("Edm.String"), Some(false), Some(30))
    );
    let timestamp = properties
        .iter()
        .find(|p| p["name"] == "timestamp")
        .unwrap();
    assert_eq!(timestamp["type"], "Edm.Int64");
}

/// Multi-threaded: the sandbox runs in this process and must answer while the test waits for `ferry`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_connection_shows_resco_customer_with_its_row_version() {
    let env = TestEnv::without_worker(3, 1).await;
    env.apply(&env.write_definitions("")).await;

    let output = env
        .ferry(&["discover", "bc", "RescoCustomer", "--json"])
        .output()
        .unwrap();

    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let catalog: Value = serde_json::from_slice(&output.stdout).unwrap();
    let sets = catalog["entity_sets"].as_array().unwrap();
    assert_eq!(sets.len(), 1);
    assert_eq!(sets[0]["name"], "RescoCustomer");
    let version = sets[0]["properties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "RowVersionNumber")
        .expect("RowVersionNumber is listed");
    assert_eq!(version["type"], "Edm.Int64");

    let unknown = env
        .ferry(&["discover", "bc", "NoSuchEntity"])
        .output()
        .unwrap();
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("NoSuchEntity"));
    env.finish().await;
}
