//! The single company BC's API routes hang off (`/companies({id})/…`). Served through the same
//! generic table/query code as the Resco entities, so `$filter=name eq '…'` lookups work.

use super::generate::{Generator, RefPicker};
use super::rng::Rng;
use super::schema::{Api, EdmType, EntitySchema, FieldDef};
use super::value::Value;

pub const NAME: &str = "company";
pub const COMPANY_NAME: &str = "CRONUS USA, Inc.";

pub static SCHEMA: EntitySchema = EntitySchema {
    name: NAME,
    type_name: "company",
    api: Api::Resco,
    key: &["id"],
    fields: &[
        FieldDef::system_id("id"),
        FieldDef::text("systemVersion", 250),
        FieldDef::scalar("timestamp", EdmType::Int64),
        FieldDef::text("name", 30),
        FieldDef::text("displayName", 250),
        FieldDef::text("businessProfileId", 250),
    ],
};

#[derive(Debug)]
pub struct CompanyGenerator {
    pub id: uuid::Uuid,
}

impl CompanyGenerator {
    /// The company's id is a fixed GUID derived from the seed.
    pub fn from_seed(seed: u64) -> Self {
        Self {
            id: Rng::derive(seed, NAME).uuid(),
        }
    }
}

impl Generator for CompanyGenerator {
    fn schema(&self) -> &'static EntitySchema {
        &SCHEMA
    }

    fn key(&self, _seq: u64) -> Vec<Value> {
        vec![Value::Guid(self.id)]
    }

    fn new_row(&self, _seq: u64, _rng: &mut Rng, _refs: &mut dyn RefPicker) -> Vec<Value> {
        vec![
            Value::Guid(self.id),
            Value::str("24.0.16410.0"),
            Value::Int(1234),
            Value::str(COMPANY_NAME),
            Value::str(COMPANY_NAME),
            Value::str(""),
        ]
    }

    /// Companies are not mutated.
    fn update(&self, _row: &mut [Value], _rng: &mut Rng, _refs: &mut dyn RefPicker) {}
}
