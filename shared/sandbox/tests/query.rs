mod common;

use reqwest::StatusCode;
use serde_json::{Map, Value};

type Row = Map<String, Value>;
/// A filter and the local predicate it must agree with.
type Case = (String, Box<dyn Fn(&Row) -> bool>);

fn expected(env: &common::Env, keep: impl Fn(&Row) -> bool) -> Vec<String> {
    env.sandbox
        .rows("RescoCustomer")
        .iter()
        .filter(|r| keep(r))
        .map(|r| r["No"].as_str().unwrap().to_owned())
        .collect()
}

async fn filtered(env: &common::Env, filter: &str) -> Vec<String> {
    // Only `&` needs escaping for the query string (names like "… & Sons"); the URL parser turns
    // spaces into %20 and leaves `+` alone.
    let filter = filter.replace('&', "%26");
    let (rows, _) = env
        .walk(
            &env.entity_url("RescoCustomer", &format!("?$filter={filter}")),
            None,
        )
        .await;
    common::keys(&rows)
}

fn s<'a>(r: &'a Row, f: &str) -> &'a str {
    r[f].as_str().unwrap()
}

fn v(r: &Row) -> i64 {
    r["RowVersionNumber"].as_i64().unwrap()
}

#[tokio::test]
async fn filter_semantics_match_a_local_evaluation() {
    let env = common::start(common::config(1000, 100, 11)).await;
    let rows = env.sandbox.rows("RescoCustomer");
    let pivot = &rows[500];
    let name = s(pivot, "Name").to_owned();
    let lo = v(&rows[0]) + 100;
    let hi = lo + 200;

    let cases: Vec<Case> = vec![
        (
            format!("Name eq '{}'", name.replace('\'', "''")),
            Box::new(move |r: &Row| s(r, "Name") == name),
        ),
        (
            "City ne 'Austin'".into(),
            Box::new(|r: &Row| s(r, "City") != "Austin"),
        ),
        (
            format!("RowVersionNumber gt {lo}"),
            Box::new(move |r: &Row| v(r) > lo),
        ),
        (
            format!("RowVersionNumber ge {lo} and RowVersionNumber lt {hi}"),
            Box::new(move |r: &Row| v(r) >= lo && v(r) < hi),
        ),
        (
            format!("RowVersionNumber le {lo}"),
            Box::new(move |r: &Row| v(r) <= lo),
        ),
        (
            "State eq 'TX' or State eq 'CA'".into(),
            Box::new(|r: &Row| matches!(s(r, "State"), "TX" | "CA")),
        ),
        (
            "not (State eq 'TX') and Address2 eq ''".into(),
            Box::new(|r: &Row| s(r, "State") != "TX" && s(r, "Address2").is_empty()),
        ),
        (
            "contains(Name,'Motors')".into(),
            Box::new(|r: &Row| s(r, "Name").contains("Motors")),
        ),
        (
            "startswith(Name,'Margie''s') or endswith(Email,'.com')".into(),
            Box::new(|r: &Row| {
                s(r, "Name").starts_with("Margie's") || s(r, "Email").ends_with(".com")
            }),
        ),
        (
            "No ge 'C000100' and No lt 'C000200'".into(),
            Box::new(|r: &Row| ("C000100".."C000200").contains(&s(r, "No"))),
        ),
        (
            "Email eq ''".into(),
            Box::new(|r: &Row| s(r, "Email").is_empty()),
        ),
        (
            "PrimaryContacNo ne '' and (City eq 'Boston' or City eq 'Denver')".into(),
            Box::new(|r: &Row| {
                !s(r, "PrimaryContacNo").is_empty() && matches!(s(r, "City"), "Boston" | "Denver")
            }),
        ),
        // `+` is a literal plus: as a space this would match every (multi-word) name.
        ("contains(Name,'+')".into(), Box::new(|_: &Row| false)),
        // ... and it survives inside a date/time offset.
        (
            "SystemModifiedAt ge 2024-01-01T02:30:00+01:00".into(),
            Box::new(|r: &Row| s(r, "SystemModifiedAt") >= "2024-01-01T01:30:00.000Z"),
        ),
    ];
    for (filter, keep) in cases {
        let want = expected(&env, keep);
        let got = filtered(&env, &filter).await;
        assert_eq!(got, want, "{filter}");
        assert!(
            !want.is_empty() || filter.contains('+') && filter.contains("Name"),
            "{filter} should select something for the test to mean anything"
        );
    }
    let margies = expected(&env, |r| s(r, "Name").starts_with("Margie's"));
    assert!(
        !margies.is_empty(),
        "the '' escape case needs a matching row"
    );
    assert_eq!(
        filtered(&env, "startswith(Name,'Margie''s')").await,
        margies
    );
}

#[tokio::test]
async fn select_top_skip_count_and_orderby() {
    let env = common::start(common::config(300, 10, 11)).await;
    let all = env.sandbox.rows("RescoCustomer");

    let (status, _, body) = env
        .get(&env.entity_url("RescoCustomer", "?$select=Name,No&$top=5&$skip=2"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let rows = body["value"].as_array().unwrap();
    assert_eq!(
        common::keys(rows),
        all[2..7]
            .iter()
            .map(|r| s(r, "No").to_owned())
            .collect::<Vec<_>>()
    );
    for row in rows {
        let mut keys: Vec<&str> = row
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(keys, ["@odata.etag", "Name", "No"]);
    }
    assert!(
        body["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("/RescoCustomer(No,Name)")
    );

    let (_, _, body) = env
        .get(&env.entity_url("RescoCustomer", "?$filter=State eq 'TX'&$count=true&$top=3"))
        .await;
    let tx = all.iter().filter(|r| s(r, "State") == "TX").count();
    assert!(tx > 3);
    assert_eq!(body["@odata.count"], tx);
    assert_eq!(body["value"].as_array().unwrap().len(), 3);

    let (rows, _) = env
        .walk(
            &env.entity_url(
                "RescoCustomer",
                "?$orderby=State desc,RowVersionNumber desc",
            ),
            Some(40),
        )
        .await;
    let mut sorted: Vec<&Row> = all.iter().collect();
    sorted.sort_by(|a, b| s(b, "State").cmp(s(a, "State")).then(v(b).cmp(&v(a))));
    assert_eq!(
        common::keys(&rows),
        sorted
            .iter()
            .map(|r| s(r, "No").to_owned())
            .collect::<Vec<_>>()
    );

    let (rows, _) = env
        .walk(
            &env.entity_url("RescoCustomer", "?$orderby=RowVersionNumber desc"),
            Some(64),
        )
        .await;
    assert_eq!(rows.len(), 300);
    assert!(
        rows.windows(2)
            .all(|w| w[0]["RowVersionNumber"].as_i64() > w[1]["RowVersionNumber"].as_i64())
    );

    let (rows, _) = env
        .walk(
            &env.entity_url("RescoCustomer", "?$orderby=No desc"),
            Some(64),
        )
        .await;
    let mut desc: Vec<String> = all.iter().map(|r| s(r, "No").to_owned()).collect();
    desc.reverse();
    assert_eq!(common::keys(&rows), desc);
}

#[tokio::test]
async fn bad_queries_are_400_with_odata_errors() {
    let env = common::start(common::config(20, 10, 11)).await;
    let url = |q: &str| env.entity_url("RescoCustomer", q);

    let (code, message) = env
        .error(&url("?$filter=Bogus eq 1"), StatusCode::BAD_REQUEST)
        .await;
    assert_eq!(code, "BadRequest_PropertyNotFound");
    assert_eq!(
        message,
        "Could not find a property named 'Bogus' on type 'Microsoft.NAV.RescoCustomer'."
    );
    for q in ["?$select=No,Nope", "?$orderby=Nope desc"] {
        let (code, message) = env.error(&url(q), StatusCode::BAD_REQUEST).await;
        assert_eq!(code, "BadRequest_PropertyNotFound", "{q}");
        assert!(message.contains("'Nope'"), "{q}: {message}");
    }
    for (q, needle) in [
        ("?$filter=Name eq", "position 7"),
        ("?$filter=(Name eq 'x'", "')'"),
        ("?$filter=Name eq 'x' oops", "'oops'"),
        ("?$filter=RowVersionNumber gt 'x'", "incompatible"),
        ("?$filter=RowVersionNumber gt 12abc", "12abc"),
        ("?$expand=Foo", "$expand"),
        ("?$top=-1", "$top"),
        ("?$orderby=No sideways", "sideways"),
        ("?$skiptoken=garbage", "skiptoken"),
        ("?$count=maybe", "$count"),
    ] {
        let (code, message) = env.error(&url(q), StatusCode::BAD_REQUEST).await;
        assert_eq!(code, "BadRequest", "{q}");
        assert!(message.contains(needle), "{q}: {message}");
    }
}

#[tokio::test]
async fn single_rows_companies_and_not_found() {
    let env = common::start(common::config(20, 10, 11)).await;
    let (status, _, body) = env
        .get(&env.entity_url("RescoCustomer('C000007')", ""))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["No"], "C000007");
    assert!(body["@odata.etag"].as_str().unwrap().starts_with("W/\""));
    assert!(body.get("value").is_none());

    let (code, _) = env
        .error(
            &env.entity_url("RescoCustomer('C999999')", ""),
            StatusCode::NOT_FOUND,
        )
        .await;
    assert_eq!(code, "BadRequest_NotFound");
    let (code, _) = env
        .error(&env.entity_url("RescoNothing", ""), StatusCode::NOT_FOUND)
        .await;
    assert_eq!(code, "BadRequest_NotFound");
    let other_tenant = env.sandbox.resco_url().replace("/sandbox/", "/elsewhere/");
    let (code, _) = env
        .error(&format!("{other_tenant}/companies"), StatusCode::NOT_FOUND)
        .await;
    assert_eq!(code, "BadRequest_NotFound");
    let other_env = env.sandbox.resco_url().replace("/production/", "/staging/");
    env.error(&format!("{other_env}/companies"), StatusCode::NOT_FOUND)
        .await;
    let bad_company = env
        .entity_url("RescoCustomer", "")
        .replace(&env.company, "00000000-0000-0000-0000-000000000000");
    env.error(&bad_company, StatusCode::NOT_FOUND).await;

    let (status, _, body) = env
        .get(&format!("{}/companies", env.sandbox.resco_url()))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("/$metadata#companies")
    );
    let company = &body["value"][0];
    assert_eq!(company["name"], "CRONUS USA, Inc.");
    assert_eq!(company["displayName"], "CRONUS USA, Inc.");
    assert_eq!(company["systemVersion"], "24.0.16410.0");
    assert_eq!(company["businessProfileId"], "");
    assert!(company["timestamp"].is_i64());
    let (_, _, by_name) = env
        .get(&format!(
            "{}/companies?$filter=name eq 'CRONUS USA, Inc.'",
            env.sandbox.resco_url()
        ))
        .await;
    assert_eq!(by_name["value"][0]["id"], company["id"]);
}
