//! `salesOrders` on the standard API: each points at a customer by id, number and name.

use super::super::generate::{Generator, RefPicker, amount, date, put, seq_guid};
use super::super::rng::Rng;
use super::super::schema::{Api, EdmType, EntitySchema, EnumDef, FieldDef};
use super::super::value::Value;
use super::{customer, tag};

pub const NAME: &str = "salesOrders";

pub static STATUS: EnumDef = EnumDef {
    name: "salesOrderStatus",
    members: &["Draft", "In Review", "Open", "Released"],
};

pub static SCHEMA: EntitySchema = EntitySchema {
    name: NAME,
    type_name: "salesOrder",
    api: Api::Standard,
    key: &["id"],
    fields: &[
        FieldDef::guid("id"),
        FieldDef::text("number", 20),
        FieldDef::text("externalDocumentNumber", 35),
        FieldDef::scalar("orderDate", EdmType::Date),
        FieldDef::scalar("postingDate", EdmType::Date),
        FieldDef::guid("customerId"),
        FieldDef::text("customerNumber", 20),
        FieldDef::text("customerName", 100),
        FieldDef::text("currencyCode", 10),
        FieldDef::enumeration("status", &STATUS),
        FieldDef::decimal("totalAmountExcludingTax"),
        FieldDef::decimal("totalTaxAmount"),
        FieldDef::decimal("totalAmountIncludingTax"),
        FieldDef::scalar("fullyShipped", EdmType::Boolean),
        FieldDef::modified_at("lastModifiedDateTime"),
        FieldDef::hidden_row_version(),
    ],
};

pub fn id(seq: u64) -> uuid::Uuid {
    seq_guid(tag::SALES_ORDER, seq)
}

#[derive(Debug)]
pub struct SalesOrderGenerator {
    pub seed: u64,
}

fn set_totals(row: &mut [Value], rng: &mut Rng) {
    let net = rng.range(1_000, 5_000_000) as f64 / 100.0;
    let tax = net * 0.08;
    put(&SCHEMA, row, "totalAmountExcludingTax", amount(net, 2));
    put(&SCHEMA, row, "totalTaxAmount", amount(tax, 2));
    put(
        &SCHEMA,
        row,
        "totalAmountIncludingTax",
        amount(net + tax, 2),
    );
}

impl Generator for SalesOrderGenerator {
    fn schema(&self) -> &'static EntitySchema {
        &SCHEMA
    }

    fn key(&self, seq: u64) -> Vec<Value> {
        vec![Value::Guid(id(seq))]
    }

    fn new_row(&self, seq: u64, rng: &mut Rng, refs: &mut dyn RefPicker) -> Vec<Value> {
        let mut row = vec![Value::Null; SCHEMA.fields.len()];
        let p = |row: &mut Vec<Value>, f: &str, v: Value| put(&SCHEMA, row, f, v);
        p(&mut row, "id", Value::Guid(id(seq)));
        p(
            &mut row,
            "number",
            Value::str(format!("S-ORD{:06}", 101_000 + seq)),
        );
        p(
            &mut row,
            "externalDocumentNumber",
            Value::text(if rng.chance(40) {
                format!("PO-{}", rng.range(1000, 99_999))
            } else {
                String::new()
            }),
        );
        let ordered = date(rng);
        p(&mut row, "postingDate", ordered.clone());
        p(&mut row, "orderDate", ordered);
        match refs.pick_seq(customer::NAME, rng) {
            Some(c) => {
                p(&mut row, "customerId", Value::Guid(customer::id(c)));
                p(&mut row, "customerNumber", Value::str(customer::number(c)));
                p(
                    &mut row,
                    "customerName",
                    Value::text(customer::display_name(self.seed, c)),
                );
            }
            None => {
                p(&mut row, "customerId", Value::Guid(uuid::Uuid::nil()));
                p(&mut row, "customerNumber", Value::interned(""));
                p(&mut row, "customerName", Value::interned(""));
            }
        }
        p(&mut row, "currencyCode", Value::interned("USD"));
        p(
            &mut row,
            "status",
            Value::interned(if rng.chance(70) { "Open" } else { "Released" }),
        );
        set_totals(&mut row, rng);
        p(&mut row, "fullyShipped", Value::Bool(rng.chance(20)));
        row
    }

    fn update(&self, row: &mut [Value], rng: &mut Rng, _refs: &mut dyn RefPicker) {
        set_totals(row, rng);
    }
}
