//! Static checks of lookups, deletes, filters and transforms: each mistake reported with its key.

use super::load::{DefinitionError, load_files};

/// Loads one integration (with the given extra TOML lines) against a stored connection `bc`.
fn errors(extra: &str) -> Vec<DefinitionError> {
    let file = std::env::temp_dir().join(format!(
        "ferry-validate-{}.toml",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::write(
        &file,
        format!(
            r#"
[[integration]]
name = "contacts"
connection = "bc"
source = {{ entity = "RescoContact", key = ["No"], version = "RowVersionNumber", filter = "Type eq 'Person'" }}
target = {{ table = "contact", key = ["bc_no"] }}
fields = [{{ from = "No", to = "bc_no" }}, {{ to = "label", transform = {{ format = "{{No}} {{Name}}" }} }}]
{extra}
"#
        ),
    )
    .unwrap();
    let result = load_files(std::slice::from_ref(&file), &["bc".to_string()]);
    std::fs::remove_file(&file).ok();
    result.err().unwrap_or_default()
}

fn keys(errors: &[DefinitionError]) -> Vec<String> {
    errors
        .iter()
        .map(|e| format!("{}: {}", e.key, e.message))
        .collect()
}

#[test]
fn a_valid_integration_with_lookups_and_deletes_passes() {
    let found = errors(
        r#"lookups = [{ to = "customer_id", from = ["CustomerNo"], table = "customer", match = ["bc_no"], select = "id", missing = "defer" }]
deletes = { detect = "reconcile", every = "1h", max_share = 0.1 }"#,
    );
    assert!(found.is_empty(), "{:?}", keys(&found));
}

#[test]
fn lookup_mistakes_are_each_reported() {
    let found = keys(&errors(
        r#"lookups = [
  { to = "bc_no", from = ["A", "B"], table = "customer", match = ["x"], select = "id", missing = "later" },
  { to = "ok", from = [], table = "1bad", match = [], select = "id" },
]"#,
    ));
    for expected in [
        "lookups[0].to: column \"bc_no\" mapped twice",
        "lookups[0].match: 1 match column(s) for 2 source field(s)",
        "lookups[0].missing: unknown policy \"later\" (known: defer, null, skip, fail)",
        "lookups[1].from: name at least one source field",
        "lookups[1].table: \"1bad\" is not a valid table or column name",
        "target.key: key column \"bc_no\" cannot be a lookup",
    ] {
        assert!(
            found.iter().any(|f| f.contains(expected)),
            "{expected} in {found:?}"
        );
    }
}

#[test]
fn delete_mistakes_are_each_reported() {
    let found = keys(&errors(
        r#"deletes = { detect = "cdc", every = "hourly", max_share = 1.5, flag = "bc_no" }"#,
    ));
    for expected in [
        "deletes.detect: unknown detection \"cdc\"",
        "deletes.max_share: a share of the rows",
        "deletes.every: not a period",
        "deletes.flag: column \"bc_no\" is already mapped",
    ] {
        assert!(
            found.iter().any(|f| f.contains(expected)),
            "{expected} in {found:?}"
        );
    }
}

#[test]
fn periods_parse() {
    assert_eq!(super::validate::parse_every("90s"), Some(90));
    assert_eq!(super::validate::parse_every("1h"), Some(3600));
    assert_eq!(super::validate::parse_every("2d"), Some(172_800));
    assert_eq!(super::validate::parse_every("0m"), None);
    assert_eq!(super::validate::parse_every("h"), None);
}

/// Loads one integration writing to `table`, against a stored connection `bc`.
fn target_errors(table: &str) -> Vec<String> {
    integration_errors(&format!(
        r#"source = {{ entity = "RescoCustomer", key = ["No"], version = "RowVersionNumber" }}
target = {{ table = "{table}", key = ["bc_no"] }}
fields = [{{ from = "No", to = "bc_no" }}]"#
    ))
}

/// Loads an integration `x` of connection `bc` with the TOML lines `body`; its errors as `key: message`.
fn integration_errors(body: &str) -> Vec<String> {
    let file = std::env::temp_dir().join(format!(
        "ferry-validate-{}.toml",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::write(
        &file,
        format!("[[integration]]\nname = \"x\"\nconnection = \"bc\"\n{body}\n"),
    )
    .unwrap();
    let result = load_files(std::slice::from_ref(&file), &["bc".to_string()]);
    std::fs::remove_file(&file).ok();
    keys(&result.err().unwrap_or_default())
}

#[test]
fn the_reserved_prefix_is_matched_without_case_as_sqlite_matches_names() {
    for table in ["ferry_runs", "Ferry_runs", "FERRY_credentials", "fErRy_x"] {
        let found = target_errors(table);
        assert!(
            found
                .iter()
                .any(|e| e.contains("target.table: the ferry_ prefix is reserved")),
            "{table}: {found:?}"
        );
    }
    assert_eq!(target_errors("ferrying"), Vec::<String>::new());
}

#[test]
fn a_lookup_may_not_read_ferrys_own_tables() {
    let found = keys(&errors(
        r#"lookups = [{ to = "secret", from = ["No"], table = "Ferry_Connections", match = ["name"], select = "definition" }]"#,
    ));
    assert!(
        found
            .iter()
            .any(|e| e.contains("lookups[0].table: the ferry_ prefix is reserved")),
        "{found:?}"
    );
}

#[test]
fn client_secret_env_may_not_name_ferrys_own_variables() {
    let file = std::env::temp_dir().join(format!(
        "ferry-validate-{}.toml",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::write(
        &file,
        r#"
[[connection]]
name = "bc"
kind = "odata"
url = "https://bc.example/api"
[connection.auth]
flow = "client_credentials"
token_url = "https://login.example/token"
client_id = "c"
client_secret_env = "FERRY_MASTER_KEY"
scope = "s"
"#,
    )
    .unwrap();
    let found = keys(&load_files(std::slice::from_ref(&file), &[]).unwrap_err());
    std::fs::remove_file(&file).ok();
    assert!(
        found
            .iter()
            .any(|e| e.contains("auth.client_secret_env")
                && e.contains("one of Ferry's own variables")),
        "{found:?}"
    );
}

#[test]
fn secrets_env_prefix_narrows_client_secret_env() {
    use super::secret_env_refusal;
    assert_eq!(secret_env_refusal("BC_CLIENT_SECRET", None), None);
    assert_eq!(
        secret_env_refusal("SOURCE_SECRET_BC", Some("SOURCE_SECRET_")),
        None
    );
    let refusal = secret_env_refusal("BC_CLIENT_SECRET", Some("SOURCE_SECRET_")).unwrap();
    assert!(refusal.contains("secrets.env_prefix"), "{refusal}");
    let own = secret_env_refusal("FERRY_MASTER_KEY", Some("FERRY")).unwrap();
    assert!(
        own.contains("Ferry's own"),
        "a prefix never admits FERRY…: {own}"
    );
}

#[test]
fn plain_http_is_refused_off_loopback_unless_allowed() {
    let connection = |url: &str, extra: &str| {
        let file = std::env::temp_dir().join(format!(
            "ferry-validate-{}.toml",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::write(
            &file,
            format!(
                "[[connection]]\nname = \"bc\"\nkind = \"odata\"\nurl = \"{url}\"\n{extra}\n\
                 [connection.auth]\nflow = \"none\"\n"
            ),
        )
        .unwrap();
        let found = load_files(std::slice::from_ref(&file), &[])
            .err()
            .map(|e| keys(&e))
            .unwrap_or_default();
        std::fs::remove_file(&file).ok();
        found
    };
    let refused = connection("http://bc.example/api", "");
    assert!(
        refused.iter().any(|e| e.contains("url: must be https://")),
        "{refused:?}"
    );
    assert_eq!(
        connection("http://127.0.0.1:8080/api", ""),
        Vec::<String>::new()
    );
    assert_eq!(connection("http://localhost/api", ""), Vec::<String>::new());
    assert_eq!(
        connection("https://bc.example/api", ""),
        Vec::<String>::new()
    );
    assert_eq!(
        connection("http://bc.example/api", "allow_http = true"),
        Vec::<String>::new()
    );
}

/// Loads an integration whose `source` table is `source`, returning its errors as `key: message`.
fn source_errors(source: &str) -> Vec<String> {
    integration_errors(&format!(
        r#"source = {source}
target = {{ table = "x", key = ["id"] }}
fields = [{{ from = "id", to = "id" }}]"#
    ))
}

#[test]
fn changes_are_ordered_by_a_version_or_a_modified_time_each_with_its_own_window() {
    let ok = [
        r#"{ entity = "customers", key = ["id"], modified = "lastModifiedDateTime" }"#,
        r#"{ entity = "customers", key = ["id"], modified = "lastModifiedDateTime", overlap_secs = 300 }"#,
        r#"{ entity = "customers", key = ["id"], version = "systemRowVersion", overlap = 1000 }"#,
    ];
    for source in ok {
        assert!(
            source_errors(source).is_empty(),
            "{source}: {:?}",
            source_errors(source)
        );
    }
    let cases = [
        (
            r#"{ entity = "c", key = ["id"], changes = "version" }"#,
            r#"integration "x".source: changes = "version" needs the field changes are ordered by"#,
        ),
        (
            r#"{ entity = "c", key = ["id"], version = "v", modified = "m" }"#,
            "not both",
        ),
        (
            r#"{ entity = "c", key = ["id"], modified = "m", overlap = 10 }"#,
            "source.overlap: counts versions; with `modified` the window is `overlap_secs`",
        ),
        (
            r#"{ entity = "c", key = ["id"], version = "v", overlap_secs = 10 }"#,
            "source.overlap_secs: goes with `modified`",
        ),
        (
            r#"{ entity = "c", key = ["id"], modified = "m", overlap_secs = 0 }"#,
            "source.overlap_secs: must be at least 1",
        ),
        (
            r#"{ entity = "c", key = ["id"], modified = " " }"#,
            "source.modified: must not be empty",
        ),
    ];
    for (source, expected) in cases {
        let found = source_errors(source);
        assert!(
            found.iter().any(|f| f.contains(expected)),
            "{expected} in {found:?}"
        );
    }
}

/// Loads `text` (connections and integrations) on its own.
fn errors_of(text: &str) -> Vec<String> {
    let file = std::env::temp_dir().join(format!(
        "ferry-validate-{}.toml",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::write(&file, text).unwrap();
    let result = load_files(std::slice::from_ref(&file), &[]);
    std::fs::remove_file(&file).ok();
    keys(&result.err().unwrap_or_default())
}

fn connection(kind: &str) -> String {
    let company = if kind == "business_central" {
        "company = \"CRONUS\"\n"
    } else {
        ""
    };
    format!(
        "[[connection]]\nname = \"c\"\nkind = \"{kind}\"\nurl = \"https://org.example.com\"\n{company}\
         [connection.auth]\nflow = \"client_credentials\"\ntenant = \"t\"\nclient_id = \"ferry\"\n\
         client_secret_env = \"C_SECRET\"\nscope = \"https://org.example.com/.default\"\n"
    )
}

fn integration(source: &str, extra: &str) -> String {
    format!(
        "[[integration]]\nname = \"accounts\"\nconnection = \"c\"\nsource = {source}\n\
         target = {{ table = \"account\", key = [\"accountid\"], create = true }}\n\
         fields = [{{ from = \"accountid\", to = \"accountid\" }}]\n{extra}\n"
    )
}

#[test]
fn dataverse_tracks_changes_by_default_and_a_filter_with_tracking_is_refused() {
    let tracked = r#"{ entity = "accounts", key = ["accountid"] }"#;
    let found = errors_of(&(connection("dataverse") + &integration(tracked, "")));
    assert!(found.is_empty(), "{found:?}");
    let found = errors_of(
        &(connection("dataverse")
            + &integration(
                r#"{ entity = "accounts", key = ["accountid"], changes = "track", filter = "statecode eq 0" }"#,
                "",
            )),
    );
    assert!(
        found.iter().any(|e| e.contains(
            "source.filter: a filter cannot be combined with \
             change tracking"
        ) && e.contains("changes = \"version\"")),
        "{found:?}"
    );
    let found = errors_of(
        &(connection("dataverse")
            + &integration(
                r#"{ entity = "accounts", key = ["accountid"], changes = "track", version = "versionnumber", overlap = 5 }"#,
                "",
            )),
    );
    assert!(
        found
            .iter()
            .any(|e| e.contains("source.changes: \"track\" follows")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|e| e.contains("an overlap window goes with a watermark")),
        "{found:?}"
    );
}

#[test]
fn business_central_names_its_watermark_and_detect_track_needs_tracking() {
    let found = errors_of(
        &(connection("business_central")
            + &integration(r#"{ entity = "customers", key = ["accountid"] }"#, "")),
    );
    assert!(
        found
            .iter()
            .any(|e| e.contains("Business Central tracks no changes")),
        "{found:?}"
    );
    let found = errors_of(
        &(connection("dataverse")
            + &integration(
                r#"{ entity = "accounts", key = ["accountid"], changes = "version" }"#,
                r#"deletes = { detect = "track" }"#,
            )),
    );
    assert!(
        found
            .iter()
            .any(|e| e.contains("changes = \"version\" needs the field")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|e| e.contains("deletes.detect: \"track\" takes deletes")),
        "{found:?}"
    );
}

#[test]
fn label_needs_a_source_field_and_is_no_key() {
    let found = integration_errors(
        r#"source = { entity = "accounts", key = ["accountid"], version = "versionnumber" }
target = { table = "account", key = ["industry"] }
fields = [
  { from = "industrycode", to = "industry", label = true },
  { to = "origin", value = "dv", label = true },
  { to = "both", transform = { concat = ["name", "city"] }, label = true },
  { from = "statecode", to = "state", label = true },
]"#,
    );
    for expected in [
        "fields[1].label: label = true reads the formatted value (a choice's label) of the field \
         named by from; give from, or leave label out",
        "fields[2].label: label = true reads the formatted value",
        "target.key: key column \"industry\" must hold the field's value, not its label",
    ] {
        assert!(
            found.iter().any(|f| f.contains(expected)),
            "{expected} in {found:?}"
        );
    }
    assert_eq!(
        found.len(),
        3,
        "a labelled field with from is fine: {found:?}"
    );
}

#[test]
fn a_budget_is_checked_number_by_number_and_every_mistake_is_listed() {
    let valid = connection("business_central")
        + "[connection.budget]\nconcurrent = 3\nrequests = 600\nper_secs = 60\n";
    assert!(errors_of(&valid).is_empty(), "{:?}", errors_of(&valid));
    let alone = connection("odata") + "[connection.budget]\nconcurrent = 8\n";
    assert!(errors_of(&alone).is_empty(), "{:?}", errors_of(&alone));

    let found = errors_of(
        &(connection("dataverse")
            + "[connection.budget]\nconcurrent = 0\nrequests = 0\nper_secs = 100000\n"),
    );
    for expected in [
        "budget.concurrent: must be between 1 and 1000",
        "budget.requests: must be at least 1",
        "budget.per_secs: must be between 1 and 86400 seconds, not 100000",
    ] {
        assert!(
            found.iter().any(|e| e.contains(expected)),
            "{expected}: {found:?}"
        );
    }
    let found = errors_of(&(connection("dataverse") + "[connection.budget]\nrequests = 10\n"));
    assert!(
        found
            .iter()
            .any(|e| e.contains("budget.per_secs: give the window")),
        "{found:?}"
    );
    let found = errors_of(&(connection("dataverse") + "[connection.budget]\nper_secs = 10\n"));
    assert!(
        found
            .iter()
            .any(|e| e.contains("budget.requests: give how many")),
        "{found:?}"
    );
    let found = errors_of(&(connection("dataverse") + "[connection.budget]\nslots = 10\n"));
    assert!(!found.is_empty(), "an unknown budget key is refused");
}
