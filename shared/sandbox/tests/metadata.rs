mod common;

use std::collections::{BTreeMap, BTreeSet};

use quick_xml::events::Event;
use reqwest::StatusCode;

#[tokio::test]
async fn metadata_is_csdl_and_matches_the_rows() {
    let env = common::start(common::config(5, 5, 1)).await;
    let response = env
        .client
        .get(format!("{}/$metadata", env.sandbox.resco_url()))
        .bearer_auth(&env.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/xml")
    );
    let xml = response.text().await.unwrap();
    assert!(xml.starts_with(r#"<edmx:Edmx Version="4.0""#));

    // entity type → (keys, property → type); entity sets
    let mut types: BTreeMap<String, (Vec<String>, BTreeMap<String, String>)> = BTreeMap::new();
    let mut sets = BTreeMap::new();
    let mut namespace = String::new();
    let mut current = String::new();
    let mut reader = quick_xml::Reader::from_str(&xml);
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Eof => break,
            Event::Start(e) | Event::Empty(e) => {
                let attr = |name: &str| {
                    e.try_get_attribute(name).unwrap().map(|a| {
                        a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .unwrap()
                            .into_owned()
                    })
                };
                match e.name().as_ref() {
                    "Schema" => namespace = attr("Namespace").unwrap(),
                    "EntityType" => {
                        current = attr("Name").unwrap();
                        types.entry(current.clone()).or_default();
                    }
                    "PropertyRef" => types
                        .get_mut(&current)
                        .unwrap()
                        .0
                        .push(attr("Name").unwrap()),
                    "Property" => {
                        types
                            .get_mut(&current)
                            .unwrap()
                            .1
                            .insert(attr("Name").unwrap(), attr("Type").unwrap());
                    }
                    "EntitySet" => {
                        sets.insert(attr("Name").unwrap(), attr("EntityType").unwrap());
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    assert_eq!(namespace, "Microsoft.NAV");
    assert_eq!(sets["companies"], "Microsoft.NAV.company");
    for entity in ["RescoCustomer", "RescoContact"] {
        assert_eq!(sets[entity], format!("Microsoft.NAV.{entity}"));
        let (keys, props) = &types[entity];
        assert_eq!(keys, &["No"]);
        assert_eq!(props["RowVersionNumber"], "Edm.Int64");
        assert_eq!(props["id"], "Edm.Guid");
        assert_eq!(props["SystemModifiedAt"], "Edm.DateTimeOffset");
        let (_, _, body) = env.get(&env.entity_url(entity, "")).await;
        let row = body["value"][0].as_object().unwrap();
        let row_props: BTreeSet<&str> = row
            .keys()
            .map(String::as_str)
            .filter(|k| !k.starts_with('@'))
            .collect();
        let meta_props: BTreeSet<&str> = props.keys().map(String::as_str).collect();
        assert_eq!(row_props, meta_props, "{entity}");
        for (name, ty) in props {
            match ty.as_str() {
                "Edm.String" | "Edm.Guid" | "Edm.DateTimeOffset" => {
                    assert!(row[name].is_string(), "{name}")
                }
                "Edm.Int64" => assert!(row[name].is_i64(), "{name}"),
                other => panic!("unexpected type {other}"),
            }
        }
    }
    assert!(
        xml.contains(r#"<Property Name="No" Type="Edm.String" Nullable="false" MaxLength="20"/>"#)
    );
    assert!(xml.contains(
        r#"<Property Name="PrimaryContacNo" Type="Edm.String" Nullable="false" MaxLength="20"/>"#
    ));
    assert!(xml.contains(r#"<EntityContainer Name="NAV">"#));
    let (_, company_props) = &types["company"];
    let (_, _, companies) = env
        .get(&format!("{}/companies", env.sandbox.resco_url()))
        .await;
    let company_keys: BTreeSet<&str> = companies["value"][0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        company_keys,
        company_props.keys().map(String::as_str).collect()
    );
}
