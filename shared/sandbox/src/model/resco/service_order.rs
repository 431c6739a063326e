//! RescoServiceOrder: BC's Service Header with Document Type = Order, keyed by `No`. PascalCase
//! like RescoCustomer (its page carries `RowVersionNumber`).

use super::super::generate::{self as g, Generator, RefPicker, date, one_of, put};
use super::super::rng::Rng;
use super::super::schema::{Api, EdmType, EntitySchema, EnumDef, FieldDef};
use super::super::value::Value;
use super::super::{contact, customer};
use super::{SERVICE_DOCUMENT_TYPE, SERVICE_PRIORITY, order_no};

pub const NAME: &str = "RescoServiceOrder";

pub static SERVICE_ORDER_STATUS: EnumDef = EnumDef {
    name: "serviceOrderStatus",
    members: &["Pending", "In Process", "Finished", "On Hold"],
};

pub static SCHEMA: EntitySchema = EntitySchema {
    name: NAME,
    type_name: NAME,
    api: Api::Resco,
    key: &["No"],
    fields: &[
        FieldDef::system_id("id"),
        FieldDef::enumeration("DocumentType", &SERVICE_DOCUMENT_TYPE),
        FieldDef::text("No", 20),
        FieldDef::lookup("CustomerNo", 20, customer::NAME),
        FieldDef::text("Name", 100),
        FieldDef::text("Address", 100),
        FieldDef::text("City", 30),
        FieldDef::text("PostCode", 20),
        FieldDef::text("PhoneNo", 30),
        FieldDef::lookup("ContactNo", 20, contact::NAME),
        FieldDef::text("Description", 100),
        FieldDef::enumeration("Status", &SERVICE_ORDER_STATUS),
        FieldDef::enumeration("Priority", &SERVICE_PRIORITY),
        FieldDef::scalar("OrderDate", EdmType::Date),
        FieldDef::scalar("ResponseDate", EdmType::Date),
        FieldDef::text("AssignedUserId", 50),
        FieldDef::modified_at("SystemModifiedAt"),
        FieldDef::row_version("RowVersionNumber"),
    ],
};

const PROBLEMS: &[&str] = &[
    "Annual maintenance",
    "Repair after breakdown",
    "Installation",
    "Warranty inspection",
    "Noise complaint",
    "Replace worn parts",
    "Emergency call-out",
];

#[derive(Debug, Default)]
pub struct ServiceOrderGenerator;

impl Generator for ServiceOrderGenerator {
    fn schema(&self) -> &'static EntitySchema {
        &SCHEMA
    }

    fn key(&self, seq: u64) -> Vec<Value> {
        vec![Value::str(order_no(seq))]
    }

    fn new_row(&self, seq: u64, rng: &mut Rng, refs: &mut dyn RefPicker) -> Vec<Value> {
        let mut row = vec![Value::Null; SCHEMA.fields.len()];
        let (city, _, zip, area) = *g::city(rng);
        let blank = || Value::interned("");
        let customer = refs
            .pick(customer::NAME, rng)
            .map_or_else(blank, Value::Str);
        let contact = refs.pick(contact::NAME, rng).map_or_else(blank, Value::Str);
        let p = |row: &mut Vec<Value>, name: &str, v: Value| put(&SCHEMA, row, name, v);
        p(&mut row, "DocumentType", Value::interned("Order"));
        p(&mut row, "No", Value::str(order_no(seq)));
        p(&mut row, "CustomerNo", customer);
        p(&mut row, "Name", Value::text(g::company_name(rng)));
        p(&mut row, "Address", Value::text(g::street_address(rng)));
        p(&mut row, "City", Value::interned(city));
        p(&mut row, "PostCode", Value::text(g::post_code(rng, zip)));
        p(&mut row, "PhoneNo", Value::text(g::phone(rng, area)));
        p(&mut row, "ContactNo", contact);
        p(&mut row, "Description", one_of(rng, PROBLEMS));
        p(
            &mut row,
            "Status",
            one_of(rng, SERVICE_ORDER_STATUS.members),
        );
        p(&mut row, "Priority", one_of(rng, SERVICE_PRIORITY.members));
        let ordered = date(rng);
        let response = match &ordered {
            Value::Date(d) => Value::Date(*d + chrono::Duration::days(rng.range(0, 5) as i64)),
            other => other.clone(),
        };
        p(&mut row, "OrderDate", ordered);
        p(&mut row, "ResponseDate", response);
        p(
            &mut row,
            "AssignedUserId",
            Value::text(format!("TECH{:02}", rng.range(1, 25))),
        );
        row
    }

    fn update(&self, row: &mut [Value], rng: &mut Rng, _refs: &mut dyn RefPicker) {
        let i = SCHEMA.index_of("Status").unwrap_or(0);
        let current = row[i].clone();
        while row[i] == current {
            row[i] = one_of(rng, SERVICE_ORDER_STATUS.members);
        }
        put(
            &SCHEMA,
            row,
            "AssignedUserId",
            Value::text(format!("TECH{:02}", rng.range(1, 25))),
        );
    }
}
