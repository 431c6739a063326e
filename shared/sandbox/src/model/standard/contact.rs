//! `contacts` on the standard API.

use super::super::generate::{self as g, Generator, RefPicker, put, seq_guid};
use super::super::rng::Rng;
use super::super::schema::{Api, EntitySchema, FieldDef};
use super::super::value::Value;
use super::customer::{self, CONTACT_TYPE};
use super::tag;

pub const NAME: &str = "contacts";

pub static SCHEMA: EntitySchema = EntitySchema {
    name: NAME,
    type_name: "contact",
    api: Api::Standard,
    key: &["id"],
    fields: &[
        FieldDef::guid("id"),
        FieldDef::text("number", 20),
        FieldDef::enumeration("type", &CONTACT_TYPE),
        FieldDef::text("displayName", 100),
        FieldDef::text("jobTitle", 30),
        FieldDef::text("companyNumber", 20),
        FieldDef::text("companyName", 100),
        FieldDef::text("businessRelation", 30),
        FieldDef::text("addressLine1", 100),
        FieldDef::text("city", 30),
        FieldDef::text("state", 30),
        FieldDef::text("country", 10),
        FieldDef::text("postalCode", 20),
        FieldDef::text("phoneNumber", 30),
        FieldDef::text("mobilePhoneNumber", 30),
        FieldDef::text("email", 80),
        FieldDef::modified_at("lastModifiedDateTime"),
        FieldDef::hidden_row_version(),
    ],
};

#[derive(Debug)]
pub struct ContactGenerator {
    pub seed: u64,
}

impl Generator for ContactGenerator {
    fn schema(&self) -> &'static EntitySchema {
        &SCHEMA
    }

    fn key(&self, seq: u64) -> Vec<Value> {
        vec![Value::Guid(seq_guid(tag::CONTACT, seq))]
    }

    fn new_row(&self, seq: u64, rng: &mut Rng, refs: &mut dyn RefPicker) -> Vec<Value> {
        let mut row = vec![Value::Null; SCHEMA.fields.len()];
        let name = g::person_name(rng);
        let (city, state, zip, area) = *g::city(rng);
        let company = refs.pick_seq(customer::NAME, rng);
        let p = |row: &mut Vec<Value>, f: &str, v: Value| put(&SCHEMA, row, f, v);
        p(&mut row, "id", Value::Guid(seq_guid(tag::CONTACT, seq)));
        p(
            &mut row,
            "number",
            Value::str(format!("CT{:06}", 100_000 + seq)),
        );
        p(&mut row, "type", Value::interned("Person"));
        p(
            &mut row,
            "jobTitle",
            g::one_of(rng, &["Purchaser", "Owner", "Accountant", "Manager", ""]),
        );
        let (company_no, company_name, domain) = match company {
            Some(s) => {
                let company_name = customer::display_name(self.seed, s);
                let domain = g::domain_of(&company_name);
                (customer::number(s), company_name, domain)
            }
            None => (String::new(), String::new(), "example.com".to_owned()),
        };
        p(
            &mut row,
            "email",
            Value::text(g::email(rng, Some(&name), &domain)),
        );
        p(&mut row, "displayName", Value::text(name));
        p(
            &mut row,
            "businessRelation",
            Value::interned(if company.is_some() {
                "Customer"
            } else {
                "None"
            }),
        );
        p(&mut row, "companyNumber", Value::text(company_no));
        p(&mut row, "companyName", Value::text(company_name));
        p(
            &mut row,
            "addressLine1",
            Value::text(g::street_address(rng)),
        );
        p(&mut row, "city", Value::interned(city));
        p(&mut row, "state", Value::interned(state));
        p(&mut row, "country", Value::interned("US"));
        p(&mut row, "postalCode", Value::text(g::post_code(rng, zip)));
        p(&mut row, "phoneNumber", Value::text(g::phone(rng, area)));
        p(
            &mut row,
            "mobilePhoneNumber",
            Value::text(g::phone(rng, area)),
        );
        row
    }

    fn update(&self, row: &mut [Value], rng: &mut Rng, _refs: &mut dyn RefPicker) {
        let (_, _, _, area) = *g::city(rng);
        put(
            &SCHEMA,
            row,
            "mobilePhoneNumber",
            Value::text(g::phone(rng, area)),
        );
        put(
            &SCHEMA,
            row,
            "jobTitle",
            g::one_of(
                rng,
                &["Purchaser", "Owner", "Accountant", "Manager", "Director"],
            ),
        );
    }
}
