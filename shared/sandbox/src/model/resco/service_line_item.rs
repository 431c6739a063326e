//! RescoServiceLineItem: service lines of type Item (parts used on an order), keyed by
//! (documentType, documentNo, lineNo) like the item lines.

use super::super::generate::{Generator, RefPicker, amount, date, one_of, put};
use super::super::rng::Rng;
use super::super::schema::{Api, EdmType, EntitySchema, EnumDef, FieldDef};
use super::super::value::Value;
use super::service_item_line::line_key;
use super::{SERVICE_DOCUMENT_TYPE, item, service_order, unit_of_measure};

pub const NAME: &str = "RescoServiceLineItem";

pub static SERVICE_LINE_TYPE: EnumDef = EnumDef {
    name: "serviceLineType",
    members: &[" ", "Item", "Resource", "Cost", "G/L Account"],
};

pub static SCHEMA: EntitySchema = EntitySchema {
    name: NAME,
    type_name: NAME,
    api: Api::Resco,
    key: &["documentType", "documentNo", "lineNo"],
    fields: &[
        FieldDef::system_id("id"),
        FieldDef::enumeration("documentType", &SERVICE_DOCUMENT_TYPE),
        FieldDef::lookup("documentNo", 20, service_order::NAME),
        FieldDef::scalar("lineNo", EdmType::Int32),
        FieldDef::scalar("serviceItemLineNo", EdmType::Int32),
        FieldDef::enumeration("type", &SERVICE_LINE_TYPE),
        FieldDef::lookup("no", 20, item::NAME),
        FieldDef::text("description", 100),
        FieldDef::decimal("quantity"),
        FieldDef::lookup("unitOfMeasureCode", 10, unit_of_measure::NAME),
        FieldDef::decimal("unitPrice"),
        FieldDef::decimal("lineDiscountPercent"),
        FieldDef::decimal("lineAmount"),
        FieldDef::text("locationCode", 10),
        FieldDef::scalar("postingDate", EdmType::Date),
        FieldDef::modified_at("systemModifiedAt"),
        FieldDef::row_version("rowVersionNumber"),
    ],
};

#[derive(Debug)]
pub struct ServiceLineItemGenerator {
    pub per_order: u64,
}

fn set_quantity(row: &mut [Value], rng: &mut Rng) {
    let quantity = rng.range(1, 20) as f64;
    let price = rng.range(500, 50_000) as f64 / 100.0;
    let discount = *rng.pick(&[0.0, 0.0, 0.0, 5.0, 10.0]);
    put(&SCHEMA, row, "quantity", amount(quantity, 0));
    put(&SCHEMA, row, "unitPrice", amount(price, 2));
    put(&SCHEMA, row, "lineDiscountPercent", amount(discount, 0));
    put(
        &SCHEMA,
        row,
        "lineAmount",
        amount(quantity * price * (1.0 - discount / 100.0), 2),
    );
}

impl Generator for ServiceLineItemGenerator {
    fn schema(&self) -> &'static EntitySchema {
        &SCHEMA
    }

    fn key(&self, seq: u64) -> Vec<Value> {
        line_key(seq, self.per_order)
    }

    fn new_row(&self, seq: u64, rng: &mut Rng, refs: &mut dyn RefPicker) -> Vec<Value> {
        let mut row = self.keyed_row(seq);
        let p = |row: &mut Vec<Value>, name: &str, v: Value| put(&SCHEMA, row, name, v);
        let item = item::pick(refs, rng);
        p(&mut row, "serviceItemLineNo", Value::Int(10_000));
        p(&mut row, "type", Value::interned("Item"));
        p(
            &mut row,
            "description",
            Value::text(format!("Spare part {}", item.as_str().unwrap_or_default())),
        );
        p(&mut row, "no", item);
        p(&mut row, "unitOfMeasureCode", Value::interned("PCS"));
        set_quantity(&mut row, rng);
        p(
            &mut row,
            "locationCode",
            one_of(rng, &["MAIN", "EAST", "WEST", "VAN1"]),
        );
        p(&mut row, "postingDate", date(rng));
        row
    }

    fn update(&self, row: &mut [Value], rng: &mut Rng, _refs: &mut dyn RefPicker) {
        set_quantity(row, rng);
    }
}
