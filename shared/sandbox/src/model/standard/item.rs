//! `items` on the standard API.

use super::super::generate::{self as g, Generator, RefPicker, amount, put, seq_guid};
use super::super::resco::item::ITEM_TYPE;
use super::super::rng::Rng;
use super::super::schema::{Api, EdmType, EntitySchema, FieldDef};
use super::super::value::Value;
use super::{row_rng, tag};

pub const NAME: &str = "items";

pub static SCHEMA: EntitySchema = EntitySchema {
    name: NAME,
    type_name: "item",
    api: Api::Standard,
    key: &["id"],
    fields: &[
        FieldDef::guid("id"),
        FieldDef::text("number", 20),
        FieldDef::text("displayName", 100),
        FieldDef::text("displayName2", 50),
        FieldDef::enumeration("type", &ITEM_TYPE),
        FieldDef::text("itemCategoryCode", 20),
        FieldDef::scalar("blocked", EdmType::Boolean),
        FieldDef::text("gtin", 14),
        FieldDef::decimal("inventory"),
        FieldDef::decimal("unitPrice"),
        FieldDef::scalar("priceIncludesTax", EdmType::Boolean),
        FieldDef::decimal("unitCost"),
        FieldDef::text("taxGroupCode", 20),
        FieldDef::text("baseUnitOfMeasureCode", 10),
        FieldDef::modified_at("lastModifiedDateTime"),
        FieldDef::hidden_row_version(),
    ],
};

pub fn id(seq: u64) -> uuid::Uuid {
    seq_guid(tag::ITEM, seq)
}

pub fn number(seq: u64) -> String {
    format!("{}-S", 1000 + seq)
}

const NOUNS: &[&str] = &[
    "Desk", "Chair", "Lamp", "Cabinet", "Bicycle", "Helmet", "Monitor", "Stand",
];
const STYLES: &[&str] = &[
    "ATHENS",
    "PARIS",
    "ROME",
    "BERLIN",
    "LONDON",
    "MEXICO",
    "ANTWERP",
    "AMSTERDAM",
];

/// Name and unit price, recomputable from the sequence number (sales lines copy both).
pub fn name_and_price(seed: u64, seq: u64) -> (String, f64) {
    let mut rng = row_rng(seed, NAME, seq);
    let name = format!("{} {}", rng.pick(STYLES), rng.pick(NOUNS));
    (name, rng.range(500, 250_000) as f64 / 100.0)
}

#[derive(Debug)]
pub struct ItemGenerator {
    pub seed: u64,
}

impl Generator for ItemGenerator {
    fn schema(&self) -> &'static EntitySchema {
        &SCHEMA
    }

    fn key(&self, seq: u64) -> Vec<Value> {
        vec![Value::Guid(id(seq))]
    }

    fn new_row(&self, seq: u64, rng: &mut Rng, _refs: &mut dyn RefPicker) -> Vec<Value> {
        let mut row = vec![Value::Null; SCHEMA.fields.len()];
        let (name, price) = name_and_price(self.seed, seq);
        let p = |row: &mut Vec<Value>, f: &str, v: Value| put(&SCHEMA, row, f, v);
        p(&mut row, "id", Value::Guid(id(seq)));
        p(&mut row, "number", Value::str(number(seq)));
        p(&mut row, "displayName", Value::text(name));
        p(&mut row, "displayName2", Value::interned(""));
        p(&mut row, "type", Value::interned("Inventory"));
        p(
            &mut row,
            "itemCategoryCode",
            g::one_of(rng, &["FURNITURE", "CHAIR", "DESK", "TABLE", "MISC"]),
        );
        p(&mut row, "blocked", Value::Bool(rng.chance(2)));
        p(
            &mut row,
            "gtin",
            Value::text(format!("0{:013}", rng.below(10_000_000_000_000))),
        );
        p(&mut row, "inventory", amount(rng.below(300) as f64, 0));
        p(&mut row, "unitPrice", amount(price, 2));
        p(&mut row, "priceIncludesTax", Value::Bool(false));
        p(&mut row, "unitCost", amount(price * 0.62, 2));
        p(&mut row, "taxGroupCode", Value::interned("FURNITURE"));
        p(&mut row, "baseUnitOfMeasureCode", Value::interned("PCS"));
        row
    }

    fn update(&self, row: &mut [Value], rng: &mut Rng, _refs: &mut dyn RefPicker) {
        put(
            &SCHEMA,
            row,
            "inventory",
            amount(rng.below(300) as f64 + 300.0, 0),
        );
    }
}
