//! RescoServiceItemLine: the service items on a service order, keyed by (documentType,
//! documentNo, lineNo): a composite reference to its order.

use super::super::generate::{Generator, RefPicker, date, one_of, put};
use super::super::rng::Rng;
use super::super::schema::{Api, EdmType, EntitySchema, FieldDef};
use super::super::value::Value;
use super::{SERVICE_DOCUMENT_TYPE, SERVICE_PRIORITY, item, order_no, service_order};

pub const NAME: &str = "RescoServiceItemLine";

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
        FieldDef::text("serviceItemNo", 20),
        FieldDef::lookup("itemNo", 20, item::NAME),
        FieldDef::text("description", 100),
        FieldDef::text("serialNo", 50),
        FieldDef::text("repairStatusCode", 10),
        FieldDef::enumeration("priority", &SERVICE_PRIORITY),
        FieldDef::scalar("responseDate", EdmType::Date),
        FieldDef::scalar("warranty", EdmType::Boolean),
        FieldDef::modified_at("systemModifiedAt"),
        FieldDef::row_version("rowVersionNumber"),
    ],
};

const REPAIR_STATUS: &[&str] = &[
    "INITIAL",
    "IN PROCESS",
    "WAIT CUST",
    "FINISHED",
    "PARTLY SERV",
];

/// Lines of one order share its number: `per_order` consecutive sequence numbers per order, line
/// numbers 10000, 20000, … as BC assigns them.
#[derive(Debug)]
pub struct ServiceItemLineGenerator {
    pub per_order: u64,
}

pub fn line_key(seq: u64, per_order: u64) -> Vec<Value> {
    let per_order = per_order.max(1);
    let order = (seq - 1) / per_order + 1;
    let line = (seq - 1) % per_order + 1;
    vec![
        Value::interned("Order"),
        Value::str(order_no(order)),
        Value::Int((line * 10_000) as i64),
    ]
}

impl Generator for ServiceItemLineGenerator {
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
        p(
            &mut row,
            "serviceItemNo",
            Value::text(format!("SI{:06}", rng.range(1, 999_999))),
        );
        p(&mut row, "itemNo", item);
        p(
            &mut row,
            "description",
            one_of(
                rng,
                &[
                    "Boiler",
                    "Air conditioner",
                    "Forklift",
                    "Printer",
                    "Elevator",
                    "Compressor",
                ],
            ),
        );
        p(
            &mut row,
            "serialNo",
            Value::text(format!("SN-{:08}", rng.below(100_000_000))),
        );
        p(&mut row, "repairStatusCode", one_of(rng, REPAIR_STATUS));
        p(&mut row, "priority", one_of(rng, SERVICE_PRIORITY.members));
        p(&mut row, "responseDate", date(rng));
        p(&mut row, "warranty", Value::Bool(rng.chance(30)));
        row
    }

    fn update(&self, row: &mut [Value], rng: &mut Rng, _refs: &mut dyn RefPicker) {
        let i = SCHEMA.index_of("repairStatusCode").unwrap_or(0);
        let current = row[i].clone();
        while row[i] == current {
            row[i] = one_of(rng, REPAIR_STATUS);
        }
    }
}
