//! `kind = "odata"`: a generic OData v4 service without company segment or sign-in.

use ferry_shared::runs::Mode;

use crate::helpers::TestEnv;
use crate::odata_service::ODataService;

#[tokio::test]
async fn a_generic_odata_service_imports_every_page_and_resumes_from_its_checkpoint() {
    let service = ODataService::start(30).await;
    let env = TestEnv::start(1, 1).await;
    let file = env.dir.join("odata.toml");
    std::fs::write(
        &file,
        format!(
            r#"
[[connection]]
name = "catalog"
kind = "odata"
url = "{root}"
auth = {{ flow = "none" }}

[[integration]]
name = "products"
connection = "catalog"
source = {{ entity = "Products", key = ["Code"], version = "Version" }}
target = {{ table = "product", key = ["code"], create = true }}
fields = [
  {{ from = "Code", to = "code" }},
  {{ from = "Title", to = "title" }},
  {{ from = "Price", to = "price" }},
  {{ from = "Version", to = "version" }},
]
"#,
            root = service.root()
        ),
    )
    .unwrap();
    env.apply(&file).await;

    let run = env.run("products", Mode::Incremental).await;

    assert_eq!(run.status, "succeeded", "{:?}", run.error);
    assert_eq!((run.inserted, run.rows_read), (30, 30));
    assert_eq!(
        run.checkpoint_after
            .as_ref()
            .map(|c| c.to_string().contains("1000000000030")),
        Some(true),
        "{:?}",
        run.checkpoint_after
    );
    // The high-water mark, three full pages, then the empty page their last next link pointed to.
    assert_eq!(service.state.requests.lock().unwrap().len(), 5);
    let rows = env
        .table("product", &["code", "version", "price"], "code")
        .await;
    assert_eq!(rows.len(), 30);
    assert_eq!(
        rows[29],
        vec![
            Some("P0030".into()),
            Some("1000000000030".into()),
            // Price is Edm.Decimal Precision="12" Scale="2": the column is numeric(12,2).
            Some("37.50".into())
        ]
    );

    let again = env.run("products", Mode::Incremental).await;
    assert_eq!(again.status, "succeeded", "{:?}", again.error);
    assert_eq!(again.rows_read, 0);
    let requests = service.state.requests.lock().unwrap().clone();
    assert!(
        requests
            .last()
            .unwrap()
            .contains("Version gt 1000000000030"),
        "{requests:?}"
    );
    env.finish().await;
}
