//! `salesOrderLines` on the standard API: each belongs to a sales order (`documentId`) and sells
//! an item (`itemId`, `lineObjectNumber`). Like BC, lines have no number, name or
//! `lastModifiedDateTime` of their own; they do carry ETags.

use super::super::generate::{Generator, RefPicker, amount, date, put, seq_guid};
use super::super::rng::Rng;
use super::super::schema::{Api, EdmType, EntitySchema, EnumDef, FieldDef};
use super::super::value::Value;
use super::{item, sales_order, tag};

pub const NAME: &str = "salesOrderLines";

pub static LINE_TYPE: EnumDef = EnumDef {
    name: "salesLineType",
    members: &[
        "Comment",
        "Account",
        "Item",
        "Resource",
        "Value",
        "Charge",
        "Fixed Asset",
    ],
};

pub static SCHEMA: EntitySchema = EntitySchema {
    name: NAME,
    type_name: "salesOrderLine",
    api: Api::Standard,
    key: &["id"],
    fields: &[
        FieldDef::guid("id"),
        FieldDef::guid("documentId"),
        FieldDef::scalar("sequence", EdmType::Int32),
        FieldDef::guid("itemId"),
        FieldDef::enumeration("lineType", &LINE_TYPE),
        FieldDef::text("lineObjectNumber", 20),
        FieldDef::text("description", 100),
        FieldDef::text("unitOfMeasureCode", 10),
        FieldDef::decimal("quantity"),
        FieldDef::decimal("unitPrice"),
        FieldDef::decimal("discountPercent"),
        FieldDef::decimal("amountExcludingTax"),
        FieldDef::decimal("taxPercent"),
        FieldDef::decimal("amountIncludingTax"),
        FieldDef::scalar("shipmentDate", EdmType::Date),
        FieldDef::hidden_row_version(),
    ],
};

#[derive(Debug)]
pub struct SalesOrderLineGenerator {
    pub seed: u64,
    /// Consecutive lines per order (sequence 10000, 20000, …).
    pub per_order: u64,
}

fn set_quantity(row: &mut [Value], rng: &mut Rng, price: f64) {
    let quantity = rng.range(1, 12) as f64;
    let net = quantity * price;
    put(&SCHEMA, row, "quantity", amount(quantity, 0));
    put(&SCHEMA, row, "amountExcludingTax", amount(net, 2));
    put(&SCHEMA, row, "amountIncludingTax", amount(net * 1.08, 2));
}

impl Generator for SalesOrderLineGenerator {
    fn schema(&self) -> &'static EntitySchema {
        &SCHEMA
    }

    fn key(&self, seq: u64) -> Vec<Value> {
        vec![Value::Guid(seq_guid(tag::SALES_ORDER_LINE, seq))]
    }

    fn new_row(&self, seq: u64, rng: &mut Rng, refs: &mut dyn RefPicker) -> Vec<Value> {
        let mut row = vec![Value::Null; SCHEMA.fields.len()];
        let per_order = self.per_order.max(1);
        let order = (seq - 1) / per_order + 1;
        let line = (seq - 1) % per_order + 1;
        let item_seq = refs.pick_seq(item::NAME, rng).unwrap_or(1);
        let (name, price) = item::name_and_price(self.seed, item_seq);
        let p = |row: &mut Vec<Value>, f: &str, v: Value| put(&SCHEMA, row, f, v);
        p(
            &mut row,
            "id",
            Value::Guid(seq_guid(tag::SALES_ORDER_LINE, seq)),
        );
        p(&mut row, "documentId", Value::Guid(sales_order::id(order)));
        p(&mut row, "sequence", Value::Int((line * 10_000) as i64));
        p(&mut row, "itemId", Value::Guid(item::id(item_seq)));
        p(&mut row, "lineType", Value::interned("Item"));
        p(
            &mut row,
            "lineObjectNumber",
            Value::str(item::number(item_seq)),
        );
        p(&mut row, "description", Value::text(name));
        p(&mut row, "unitOfMeasureCode", Value::interned("PCS"));
        p(&mut row, "unitPrice", amount(price, 2));
        p(&mut row, "discountPercent", amount(0.0, 0));
        p(&mut row, "taxPercent", amount(8.0, 0));
        set_quantity(&mut row, rng, price);
        p(&mut row, "shipmentDate", date(rng));
        row
    }

    fn update(&self, row: &mut [Value], rng: &mut Rng, _refs: &mut dyn RefPicker) {
        let price = row[SCHEMA.index_of("unitPrice").unwrap_or(0)]
            .as_f64()
            .unwrap_or(1.0);
        set_quantity(row, rng, price);
    }
}
