//! What a test puts into its world: the definition files it applies and the sandbox's data and faults.

use std::path::PathBuf;

use ferry_sandbox::{MutateRequest, MutateResponse, Sandbox};
use serde_json::Value;

use super::TestEnv;

/// A Business Central connection `name` to the sandbox's API at `url` (one of its `*_url`s), signed in
/// with the sandbox's confidential client.
pub fn bc_connection(sandbox: &Sandbox, name: &str, url: &str) -> String {
    format!(
        r#"
[[connection]]
name = "{name}"
kind = "business_central"
url = "{url}"
company = "CRONUS USA, Inc."
[connection.auth]
flow = "client_credentials"
authority = "{authority}"
tenant = "sandbox"
client_id = "ferry"
client_secret_env = "BC_SANDBOX_SECRET"
scope = "https://api.businesscentral.dynamics.com/.default"
"#,
        authority = sandbox.base_url(),
    )
}

/// A Dataverse connection `name` to the sandbox's environment, signed in with the sandbox's
/// confidential client for the environment's scope.
pub fn dataverse_connection(sandbox: &Sandbox, name: &str) -> String {
    format!(
        r#"
[[connection]]
name = "{name}"
kind = "dataverse"
url = "{environment}"
[connection.auth]
flow = "client_credentials"
authority = "{authority}"
tenant = "sandbox"
client_id = "ferry"
client_secret_env = "BC_SANDBOX_SECRET"
scope = "{scope}"
"#,
        environment = sandbox.dataverse_environment_url(),
        authority = sandbox.base_url(),
        scope = sandbox.dataverse_scope(),
    )
}

/// The customer integration of ARCHITECTURE.md, "The definition format", pointed at `sandbox`.
pub fn definitions(sandbox: &Sandbox, extra_integration: &str) -> String {
    let connection = bc_connection(sandbox, "bc", &sandbox.resco_url());
    format!(
        r#"{connection}
[[integration]]
name = "customers"
connection = "bc"
direction = "import"
source = {{ entity = "RescoCustomer", key = ["No"], version = "RowVersionNumber" }}
target = {{ table = "customer", key = ["bc_no"], create = true }}
fields = [
  {{ from = "No", to = "bc_no" }},
  {{ from = "id", to = "bc_id" }},
  {{ from = "Name", to = "name" }},
  {{ from = "Email", to = "email", transform = "lower" }},
  {{ from = "Address", to = "address" }},
  {{ from = "Address2", to = "address2" }},
  {{ from = "City", to = "city" }},
  {{ from = "State", to = "state" }},
  {{ from = "PostCode", to = "post_code" }},
  {{ from = "CountryRegionCode", to = "country" }},
  {{ from = "PhoneNo", to = "phone" }},
  {{ from = "HomePage", to = "home_page" }},
  {{ from = "PrimaryContacNo", to = "primary_contact_no" }},
  {{ from = "SystemModifiedAt", to = "modified_at" }},
  {{ from = "RowVersionNumber", to = "row_version" }},
  {{ to = "origin", value = "bc" }},
]
{extra_integration}
"#,
    )
}

impl TestEnv {
    /// Writes the ARCHITECTURE.md, "The definition format" definitions (client credentials, `create = true`) for this sandbox.
    pub fn write_definitions(&self, extra_integration: &str) -> PathBuf {
        let file = self.dir.join("bc.toml");
        std::fs::write(&file, definitions(&self.sandbox, extra_integration)).unwrap();
        file
    }

    pub fn mutate(
        &self,
        entity: &str,
        insert: usize,
        update: usize,
        delete: usize,
    ) -> MutateResponse {
        self.sandbox
            .mutate(MutateRequest {
                entity: entity.into(),
                insert,
                update,
                delete,
            })
            .expect("mutate")
    }

    /// POSTs JSON to a sandbox control endpoint and returns its JSON answer.
    pub async fn control(&self, path: &str, body: Value) -> Value {
        let response = reqwest::Client::new()
            .post(format!("{}{path}", self.sandbox.base_url()))
            .json(&body)
            .send()
            .await
            .expect("sandbox answers");
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.expect("JSON")
    }

    /// Makes every sandbox customer request take `ms` milliseconds, so a run lasts long enough to be
    /// interfered with.
    pub async fn slow_pages(&self, ms: u64) {
        self.control(
            "/_sandbox/faults",
            serde_json::json!({ "route": "*/RescoCustomer*", "latency_ms": ms, "rate": 1.0 }),
        )
        .await;
    }

    /// Removes every fault rule of the sandbox (`DELETE /_sandbox/faults`).
    pub async fn clear_faults(&self) {
        let answer = reqwest::Client::new()
            .delete(format!("{}/_sandbox/faults", self.sandbox.base_url()))
            .send()
            .await
            .expect("sandbox answers");
        assert!(answer.status().is_success(), "{}", answer.status());
    }
}
