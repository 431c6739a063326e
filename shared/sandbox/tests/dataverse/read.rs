//! Reading rows: the shape, `$select`, formatted values, case-insensitive `$filter`, `$count`,
//! `$metadata`.

use reqwest::StatusCode;
use serde_json::Value;

use crate::env::{self, config};

#[tokio::test]
async fn rows_carry_etag_key_and_currency_beside_money_even_when_not_selected() {
    let env = env::start(config(20, 10)).await;
    let reply = env
        .get(&env.url("accounts?$select=name,revenue"), &[])
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert!(
        reply.json["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("/api/data/v9.2/$metadata#accounts(name,revenue)"),
        "{}",
        reply.json["@odata.context"]
    );
    let rows = reply.json["value"].as_array().unwrap();
    assert_eq!(rows.len(), 20);
    let all = env.sandbox.rows("account");
    for row in rows {
        let mut keys: Vec<&str> = row
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "@odata.etag",
                "_transactioncurrencyid_value",
                "accountid",
                "name",
                "revenue"
            ],
            "{row}"
        );
        let stored = all
            .iter()
            .find(|r| r["accountid"] == row["accountid"])
            .expect("the row exists");
        assert_eq!(
            row["@odata.etag"],
            format!("W/\"{}\"", stored["versionnumber"]),
            "the ETag is the version number"
        );
    }
}

#[tokio::test]
async fn money_is_a_json_number_with_four_decimals() {
    let env = env::start(config(30, 0)).await;
    let reply = env.get(&env.url("accounts?$select=revenue"), &[]).await;
    let with_revenue: Vec<&str> = reply
        .text
        .split("\"revenue\":")
        .skip(1)
        .map(|rest| rest.split([',', '}']).next().unwrap())
        .filter(|v| *v != "null")
        .collect();
    assert!(!with_revenue.is_empty(), "{}", reply.text);
    for v in with_revenue {
        let (_, decimals) = v.split_once('.').unwrap_or_else(|| panic!("{v}"));
        assert_eq!(decimals.len(), 4, "{v}");
        assert!(
            v.bytes().all(|b| b.is_ascii_digit() || b == b'.'),
            "a number, not a string: {v}"
        );
    }
}

#[tokio::test]
async fn formatted_values_only_when_asked_and_only_for_non_null_values() {
    let env = env::start(config(40, 30)).await;
    let plain = env.get(&env.url("accounts"), &[]).await;
    assert!(
        !plain.text.contains("@OData.Community"),
        "not asked: {}",
        plain.text
    );
    assert!(plain.headers.get("preference-applied").is_none());

    let formatted = "odata.include-annotations=\"OData.Community.Display.V1.FormattedValue\"";
    let reply = env.get(&env.url("accounts"), &[formatted]).await;
    assert_eq!(
        reply.headers["preference-applied"],
        "odata.include-annotations=\"OData.Community.Display.V1.FormattedValue\""
    );
    let label = "industrycode@OData.Community.Display.V1.FormattedValue";
    let (mut labelled, mut null) = (0, 0);
    for row in reply.json["value"].as_array().unwrap() {
        match row["industrycode"].as_i64() {
            Some(1) => assert_eq!(row[label], "Accounting"),
            Some(7) => assert_eq!(row[label], "Consulting"),
            Some(_) => assert!(row[label].is_string(), "{row}"),
            None => {
                assert!(
                    row.get(label).is_none(),
                    "null has no formatted value: {row}"
                );
                null += 1;
                continue;
            }
        }
        labelled += 1;
        let state = &row["statecode@OData.Community.Display.V1.FormattedValue"];
        assert!(state == "Active" || state == "Inactive", "{row}");
        if let Some(revenue) = row["revenue"].as_f64() {
            let text = row["revenue@OData.Community.Display.V1.FormattedValue"]
                .as_str()
                .unwrap();
            assert!(
                text.starts_with('$') && text.contains('.'),
                "{text} for {revenue}"
            );
        }
    }
    assert!(labelled > 0 && null > 0, "{labelled} labelled, {null} null");

    // Contacts with every annotation: the lookup names its table and its target's name.
    let reply = env
        .get(&env.url("contacts"), &["odata.include-annotations=\"*\""])
        .await;
    let accounts = env.sandbox.rows("account");
    let mut linked = 0;
    for row in reply.json["value"].as_array().unwrap() {
        let Some(parent) = row["_parentcustomerid_value"].as_str() else {
            assert!(
                row.get("_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname")
                    .is_none()
            );
            continue;
        };
        linked += 1;
        assert_eq!(
            row["_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"],
            "account"
        );
        let account = accounts
            .iter()
            .find(|a| a["accountid"] == parent)
            .expect("parent exists");
        assert_eq!(
            row["_parentcustomerid_value@OData.Community.Display.V1.FormattedValue"],
            account["name"]
        );
    }
    assert!(linked > 0);
}

#[tokio::test]
async fn filter_ignores_case_and_count_stops_at_5000() {
    let env = env::start(config(5200, 0)).await;
    let accounts = env.sandbox.rows("account");
    let name = accounts[17]["name"].as_str().unwrap().to_owned();
    let shouted = name.to_uppercase().replace('\'', "''");
    let reply = env
        .get(
            &env.url(&format!(
                "accounts?$select=name&$filter=name eq '{shouted}'"
            )),
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let found = reply.json["value"].as_array().unwrap();
    assert!(
        found.iter().any(|r| r["name"] == name.as_str()),
        "{}",
        reply.text
    );
    let word = name
        .split(' ')
        .next()
        .unwrap()
        .to_lowercase()
        .replace('\'', "''");
    let reply = env
        .get(
            &env.url(&format!(
                "accounts?$select=name&$filter=contains(name,'{word}')&$top=5"
            )),
            &[],
        )
        .await;
    assert!(
        !reply.json["value"].as_array().unwrap().is_empty(),
        "{}",
        reply.text
    );

    let reply = env.get(&env.url("accounts?$count=true&$top=1"), &[]).await;
    assert_eq!(reply.json["@odata.count"], 5000, "counts stop at 5,000");
    let reply = env
        .get(
            &env.url("accounts?$count=true&$top=1&$filter=statecode eq 1"),
            &[],
        )
        .await;
    let inactive = accounts.iter().filter(|a| a["statecode"] == 1).count();
    assert_eq!(reply.json["@odata.count"], inactive.min(5000));
}

#[tokio::test]
async fn one_row_by_id_and_404_for_an_unknown_one() {
    let env = env::start(config(5, 5)).await;
    let id = env.sandbox.rows("contact")[2]["contactid"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply = env
        .get(&env.url(&format!("contacts({id})?$select=fullname")), &[])
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.json["contactid"], id.as_str());
    assert!(
        reply.json["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("$metadata#contacts/$entity")
    );
    assert!(reply.json["fullname"].is_string());
    assert!(reply.json.get("emailaddress1").is_none());
    let (code, message) = env
        .error(
            &env.url("contacts(00000000-0000-0000-0000-000000000001)"),
            &[],
            StatusCode::NOT_FOUND,
        )
        .await;
    assert_eq!(code, "0x80040217");
    assert!(message.contains("Does Not Exist"), "{message}");
}

#[tokio::test]
async fn metadata_is_in_dataverse_shape() {
    let env = env::start(config(1, 1)).await;
    let reply = env.get(&env.url("$metadata"), &[]).await;
    assert_eq!(reply.status, StatusCode::OK);
    let xml = reply.text;
    let mut reader = quick_xml::Reader::from_str(&xml);
    let mut elements = 0;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => elements += 1,
            Err(e) => panic!("not well-formed: {e}"),
        }
        assert!(elements < 100_000);
    }
    for needle in [
        r#"Schema Namespace="Microsoft.Dynamics.CRM" Alias="mscrm""#,
        r#"<EntityType Name="account" BaseType="mscrm.crmbaseentity"><Key><PropertyRef Name="accountid"/></Key>"#,
        r#"<Property Name="accountid" Type="Edm.Guid"/>"#,
        r#"<Property Name="revenue" Type="Edm.Decimal" Scale="Variable"/>"#,
        r#"<Property Name="industrycode" Type="Edm.Int32"/>"#,
        r#"<Property Name="versionnumber" Type="Edm.Int64"/>"#,
        r#"<Property Name="modifiedon" Type="Edm.DateTimeOffset"/>"#,
        r#"<Property Name="_parentcustomerid_value" Type="Edm.Guid"/>"#,
        r#"<NavigationProperty Name="parentcustomerid_account" Type="mscrm.account""#,
        r#"<NavigationProperty Name="contact_customer_accounts" Type="Collection(mscrm.contact)""#,
        r#"<EntitySet Name="accounts" EntityType="Microsoft.Dynamics.CRM.account">"#,
        r#"<NavigationPropertyBinding Path="parentcustomerid_account" Target="accounts"/>"#,
    ] {
        assert!(xml.contains(needle), "missing {needle}");
    }
    let doc = env.get(&env.url(""), &[]).await;
    let names: Vec<&Value> = doc.json["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["name"])
        .collect();
    assert_eq!(names, ["accounts", "contacts"]);
}

#[tokio::test]
async fn money_and_versionnumber_filter_numerically() {
    let env = env::start(config(60, 0)).await;
    let reply = env
        .get(
            &env.url("accounts?$select=revenue&$filter=revenue gt 1000000"),
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let rich = reply.json["value"].as_array().unwrap();
    let expected = env
        .sandbox
        .rows("account")
        .iter()
        .filter(|r| {
            r["revenue"]
                .as_str()
                .is_some_and(|m| m.parse::<f64>().unwrap() > 1_000_000.0)
        })
        .count();
    assert_eq!(rich.len(), expected);
    assert!(expected > 0);

    // Polling by versionnumber (no deletes reported, but filters allowed).
    let newest = env
        .sandbox
        .rows("account")
        .iter()
        .map(|r| r["versionnumber"].as_i64().unwrap())
        .max()
        .unwrap();
    let changed = env
        .sandbox
        .mutate(ferry_sandbox::MutateRequest {
            entity: "account".into(),
            insert: 1,
            update: 2,
            delete: 0,
        })
        .unwrap();
    let reply = env
        .get(
            &env.url(&format!(
                "accounts?$select=versionnumber&$filter=versionnumber gt {newest}&$orderby=versionnumber"
            )),
            &[],
        )
        .await;
    let rows = reply.json["value"].as_array().unwrap();
    assert_eq!(rows.len(), 3, "{}", reply.text);
    let versions: Vec<i64> = rows
        .iter()
        .map(|r| r["versionnumber"].as_i64().unwrap())
        .collect();
    assert!(versions.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(changed.inserted.len() + changed.updated.len(), 3);
}
