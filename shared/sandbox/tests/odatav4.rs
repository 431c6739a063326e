//! The ODataV4 route: `Company('{name}')/{page}` with BC page field names, namespace `NAV`, the
//! same rows as the Resco pages, paging and query options.

mod common;

use reqwest::StatusCode;

fn page_url(env: &common::Env, page: &str, query: &str) -> String {
    format!(
        "{}/Company('CRONUS%20USA%2C%20Inc.')/{page}{query}",
        env.sandbox.odata_v4_url()
    )
}

#[tokio::test]
async fn pages_show_the_resco_rows_under_page_field_names() {
    let env = common::start(common::config(30, 5, 1)).await;
    let (status, _, companies) = env
        .get(&format!("{}/Company", env.sandbox.odata_v4_url()))
        .await;
    assert_eq!(status, StatusCode::OK, "{companies}");
    assert_eq!(companies["value"][0]["Name"], "CRONUS USA, Inc.");

    let (rows, pages) = env
        .walk(
            &page_url(
                &env,
                "Customer_Details_WS",
                "?$select=No,Name,E_Mail,County",
            ),
            Some(7),
        )
        .await;
    assert_eq!((rows.len(), pages), (30, 5));
    let resco = env.sandbox.rows("RescoCustomer");
    for (page_row, resco_row) in rows.iter().zip(&resco) {
        assert_eq!(page_row["No"], resco_row["No"]);
        assert_eq!(page_row["E_Mail"], resco_row["Email"]);
        assert_eq!(page_row["County"], resco_row["State"]);
        assert!(page_row["@odata.etag"].is_string());
    }

    let (status, _, one) = env
        .get(&page_url(&env, "Customer_Details_WS('C000002')", ""))
        .await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!(one["No"], "C000002");
    assert!(one.get("RowVersionNumber").is_none() && one.get("SystemId").is_none());

    let (status, _, items) = env
        .get(&page_url(
            &env,
            "Item_Card",
            "?$filter=Unit_Price gt 5&$top=3",
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{items}");
    assert_eq!(items["value"].as_array().unwrap().len(), 3);
    assert!(items["value"][0]["Type"].is_string());

    let (status, _, missing) = env
        .get(&format!(
            "{}/Company('Nope')/Item_Card",
            env.sandbox.odata_v4_url()
        ))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
}

#[tokio::test]
async fn odatav4_metadata_uses_the_nav_namespace() {
    let env = common::start(common::config(3, 3, 1)).await;
    let doc = env
        .client
        .get(format!("{}/$metadata", env.sandbox.odata_v4_url()))
        .bearer_auth(&env.token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(doc.contains(r#"<Schema Namespace="NAV""#));
    assert!(doc.contains(r#"<EntitySet Name="Company" EntityType="NAV.Company"/>"#));
    assert!(
        doc.contains(
            r#"<EntityType Name="Customer_Details_WS"><Key><PropertyRef Name="No"/></Key>"#
        )
    );
    assert!(doc.contains(
        r#"<Property Name="Unit_Price" Type="Edm.Decimal" Nullable="false" Scale="Variable"/>"#
    ));
    assert!(
        doc.contains(r#"<Property Name="Type" Type="Edm.String""#),
        "page enums are strings"
    );
    assert!(!doc.contains("RowVersionNumber") && !doc.contains("Microsoft.NAV"));
}
