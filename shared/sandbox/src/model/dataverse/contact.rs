//! Dataverse `contact` (entity set `contacts`, key `contactid`), with the customer lookup
//! `parentcustomerid` read as `_parentcustomerid_value` (here it always points at an account).

use super::super::generate::{self as g, Generator, RefPicker, seq_guid};
use super::super::rng::Rng;
use super::super::schema::{Api, EdmType, EntitySchema, FieldDef};
use super::super::value::Value;
use super::{account, tag};

pub const NAME: &str = "contact";

pub static SCHEMA: EntitySchema = EntitySchema {
    name: NAME,
    type_name: NAME,
    api: Api::Dataverse,
    key: &["contactid"],
    fields: &[
        FieldDef::guid("contactid"),
        FieldDef::text("fullname", 160).nullable(),
        FieldDef::text("firstname", 50).nullable(),
        FieldDef::text("lastname", 50).nullable(),
        FieldDef::text("emailaddress1", 100).nullable(),
        FieldDef::text("telephone1", 50).nullable(),
        FieldDef::text("address1_city", 80).nullable(),
        FieldDef {
            references: Some(account::NAME),
            ..FieldDef::guid("_parentcustomerid_value").nullable()
        },
        FieldDef::scalar("statecode", EdmType::Int32),
        FieldDef::created_at("createdon"),
        FieldDef::modified_at("modifiedon"),
        FieldDef::row_version("versionnumber"),
    ],
};

const FULLNAME: usize = 1;
const FIRST: usize = 2;
const LAST: usize = 3;
const EMAIL: usize = 4;
const PHONE: usize = 5;
const CITY: usize = 6;
pub const PARENT: usize = 7;
const STATE: usize = 8;

pub fn id(seq: u64) -> uuid::Uuid {
    seq_guid(tag::CONTACT, seq)
}

#[derive(Debug, Default)]
pub struct ContactGenerator;

/// Dataverse computes `fullname` from the name parts ("First Last").
pub fn full_name(row: &mut [Value]) {
    let part = |v: &Value| v.as_str().unwrap_or("").to_owned();
    let full = format!("{} {}", part(&row[FIRST]), part(&row[LAST]));
    row[FULLNAME] = Value::text(full.trim().to_owned());
}

impl Generator for ContactGenerator {
    fn schema(&self) -> &'static EntitySchema {
        &SCHEMA
    }

    fn key(&self, seq: u64) -> Vec<Value> {
        vec![Value::Guid(id(seq))]
    }

    fn new_row(&self, seq: u64, rng: &mut Rng, refs: &mut dyn RefPicker) -> Vec<Value> {
        let mut row = vec![Value::Null; SCHEMA.fields.len()];
        row[0] = Value::Guid(id(seq));
        let first = *rng.pick(g::FIRST_NAMES);
        let last = *rng.pick(g::LAST_NAMES);
        row[FIRST] = Value::interned(first);
        row[LAST] = Value::interned(last);
        full_name(&mut row);
        let (city, _, _, area) = *g::city(rng);
        if rng.chance(90) {
            let person = format!("{first} {last}");
            row[EMAIL] = Value::text(g::email(rng, Some(&person), "example.com"));
        }
        row[PHONE] = Value::text(g::phone(rng, area));
        row[CITY] = Value::interned(city);
        if rng.chance(80)
            && let Some(seq) = refs.pick_seq(account::NAME, rng)
        {
            row[PARENT] = Value::Guid(account::id(seq));
        }
        row[STATE] = Value::Int(0);
        row
    }

    fn after_write(&self, row: &mut [Value]) {
        full_name(row);
    }

    fn update(&self, row: &mut [Value], rng: &mut Rng, _refs: &mut dyn RefPicker) {
        let old = row[LAST].clone();
        while row[LAST] == old {
            let last: &&'static str = rng.pick(g::LAST_NAMES);
            let last: &'static str = last;
            row[LAST] = Value::interned(last);
        }
        full_name(row);
        let (city, _, _, area) = *g::city(rng);
        row[PHONE] = Value::text(g::phone(rng, area));
        row[CITY] = Value::interned(city);
    }
}
