//! `customers` on the standard API.

use super::super::generate::{self as g, Generator, RefPicker, amount, put, seq_guid};
use super::super::rng::Rng;
use super::super::schema::{Api, EdmType, EntitySchema, EnumDef, FieldDef};
use super::super::value::Value;
use super::{row_rng, tag};

pub const NAME: &str = "customers";

pub static CONTACT_TYPE: EnumDef = EnumDef {
    name: "contactType",
    members: &["Company", "Person"],
};

pub static BLOCKED: EnumDef = EnumDef {
    name: "customerBlocked",
    members: &[" ", "Ship", "Invoice", "All"],
};

pub static SCHEMA: EntitySchema = EntitySchema {
    name: NAME,
    type_name: "customer",
    api: Api::Standard,
    key: &["id"],
    fields: &[
        FieldDef::guid("id"),
        FieldDef::text("number", 20),
        FieldDef::text("displayName", 100),
        FieldDef::enumeration("type", &CONTACT_TYPE),
        FieldDef::text("addressLine1", 100),
        FieldDef::text("addressLine2", 50),
        FieldDef::text("city", 30),
        FieldDef::text("state", 30),
        FieldDef::text("country", 10),
        FieldDef::text("postalCode", 20),
        FieldDef::text("phoneNumber", 30),
        FieldDef::text("email", 80),
        FieldDef::text("website", 80),
        FieldDef::text("salespersonCode", 20),
        FieldDef::decimal("balanceDue"),
        FieldDef::decimal("creditLimit"),
        FieldDef::scalar("taxLiable", EdmType::Boolean),
        FieldDef::text("currencyCode", 10),
        FieldDef::enumeration("blocked", &BLOCKED),
        FieldDef::modified_at("lastModifiedDateTime"),
        FieldDef::hidden_row_version(),
    ],
};

pub fn id(seq: u64) -> uuid::Uuid {
    seq_guid(tag::CUSTOMER, seq)
}

pub fn number(seq: u64) -> String {
    format!("{}", 10_000 + seq * 10)
}

/// The customer's name, recomputable by sales orders from the sequence number alone.
pub fn display_name(seed: u64, seq: u64) -> String {
    g::company_name(&mut row_rng(seed, NAME, seq))
}

#[derive(Debug)]
pub struct CustomerGenerator {
    pub seed: u64,
}

fn set_balance(row: &mut [Value], rng: &mut Rng) {
    put(
        &SCHEMA,
        row,
        "balanceDue",
        amount(rng.below(2_000_000) as f64 / 100.0, 2),
    );
}

impl Generator for CustomerGenerator {
    fn schema(&self) -> &'static EntitySchema {
        &SCHEMA
    }

    fn key(&self, seq: u64) -> Vec<Value> {
        vec![Value::Guid(id(seq))]
    }

    fn new_row(&self, seq: u64, rng: &mut Rng, _refs: &mut dyn RefPicker) -> Vec<Value> {
        let mut row = vec![Value::Null; SCHEMA.fields.len()];
        let name = display_name(self.seed, seq);
        let domain = g::domain_of(&name);
        let (city, state, zip, area) = *g::city(rng);
        let p = |row: &mut Vec<Value>, f: &str, v: Value| put(&SCHEMA, row, f, v);
        p(&mut row, "id", Value::Guid(id(seq)));
        p(&mut row, "number", Value::str(number(seq)));
        p(&mut row, "email", Value::text(g::email(rng, None, &domain)));
        p(&mut row, "website", Value::text(format!("www.{domain}")));
        p(&mut row, "displayName", Value::text(name));
        p(&mut row, "type", Value::interned("Company"));
        p(
            &mut row,
            "addressLine1",
            Value::text(g::street_address(rng)),
        );
        p(&mut row, "addressLine2", Value::text(g::address2(rng)));
        p(&mut row, "city", Value::interned(city));
        p(&mut row, "state", Value::interned(state));
        p(&mut row, "country", Value::interned("US"));
        p(&mut row, "postalCode", Value::text(g::post_code(rng, zip)));
        p(&mut row, "phoneNumber", Value::text(g::phone(rng, area)));
        p(
            &mut row,
            "salespersonCode",
            g::one_of(rng, &["JO", "PS", "HR", "BD"]),
        );
        set_balance(&mut row, rng);
        p(
            &mut row,
            "creditLimit",
            amount((rng.range(0, 20) * 5_000) as f64, 2),
        );
        p(&mut row, "taxLiable", Value::Bool(rng.chance(80)));
        p(&mut row, "currencyCode", Value::interned(""));
        p(
            &mut row,
            "blocked",
            Value::interned(if rng.chance(3) { "All" } else { " " }),
        );
        row
    }

    fn update(&self, row: &mut [Value], rng: &mut Rng, _refs: &mut dyn RefPicker) {
        set_balance(row, rng);
        let (_, _, _, area) = *g::city(rng);
        put(
            &SCHEMA,
            row,
            "phoneNumber",
            Value::text(g::phone(rng, area)),
        );
    }
}
