//! RescoContact: the Resco API page over BC's Contact table, keyed by `No`.

use super::generate::{self as g, Generator, RefPicker};
use super::rng::Rng;
use super::schema::{Api, EntitySchema, FieldDef};
use super::value::Value;

pub const NAME: &str = "RescoContact";

pub static SCHEMA: EntitySchema = EntitySchema {
    name: NAME,
    type_name: NAME,
    api: Api::Resco,
    key: &["No"],
    fields: &[
        FieldDef::system_id("id"),
        FieldDef::text("No", 20),
        FieldDef::text("Name", 100),
        FieldDef::text("Email", 80),
        FieldDef::text("Address", 100),
        FieldDef::text("City", 30),
        FieldDef::text("PhoneNo", 30),
        FieldDef::lookup("CustomerNo", 20, super::customer::NAME),
        FieldDef::text("ContactBusinessRelation", 30),
        FieldDef::text("Type", 30),
        FieldDef::modified_at("SystemModifiedAt"),
        FieldDef::row_version("RowVersionNumber"),
    ],
};

const NAME_IDX: usize = 2;
const EMAIL: usize = 3;
const CITY: usize = 5;
const PHONE: usize = 6;
const CUSTOMER_NO: usize = 7;
const RELATION: usize = 8;
const TYPE: usize = 9;

#[derive(Debug, Default)]
pub struct ContactGenerator;

fn relation_for(customer_no: &Value) -> Value {
    let linked = customer_no.as_str().is_some_and(|s| !s.is_empty());
    Value::interned(if linked { "Customer" } else { "None" })
}

impl ContactGenerator {
    /// Name, e-mail, city and phone, consistent with the contact's type.
    fn set_person_fields(row: &mut [Value], rng: &mut Rng, is_person: bool) {
        let (name, email) = if is_person {
            let name = g::person_name(rng);
            let employer = g::domain_of(&g::company_name(rng));
            let email = g::email(rng, Some(&name), &employer);
            (name, email)
        } else {
            let name = g::company_name(rng);
            let email = g::email(rng, None, &g::domain_of(&name));
            (name, email)
        };
        let (city, _, _, area) = *g::city(rng);
        row[NAME_IDX] = Value::text(name);
        row[EMAIL] = Value::text(email);
        row[CITY] = Value::interned(city);
        row[PHONE] = Value::text(g::phone(rng, area));
    }
}

impl Generator for ContactGenerator {
    fn schema(&self) -> &'static EntitySchema {
        &SCHEMA
    }

    fn key(&self, seq: u64) -> Vec<Value> {
        vec![Value::str(format!("CT{seq:06}"))]
    }

    fn new_row(&self, seq: u64, rng: &mut Rng, refs: &mut dyn RefPicker) -> Vec<Value> {
        let mut row = vec![Value::Null; SCHEMA.fields.len()];
        row[1] = self.key(seq).remove(0);
        let is_person = rng.chance(70);
        Self::set_person_fields(&mut row, rng, is_person);
        row[4] = Value::text(g::street_address(rng));
        let customer = if rng.chance(90) {
            refs.pick(super::customer::NAME, rng)
        } else {
            None
        };
        row[CUSTOMER_NO] = customer.map_or_else(|| Value::interned(""), Value::Str);
        row[RELATION] = relation_for(&row[CUSTOMER_NO]);
        row[TYPE] = Value::interned(if is_person { "Person" } else { "Company" });
        row
    }

    fn update(&self, row: &mut [Value], rng: &mut Rng, _refs: &mut dyn RefPicker) {
        let old: Vec<Value> = row.to_vec();
        let is_person = row[TYPE].as_str() == Some("Person");
        for attempt in 0u32.. {
            Self::set_person_fields(row, rng, is_person);
            if attempt > 3 {
                let name = format!("{} {attempt}", row[NAME_IDX].as_str().unwrap_or_default());
                row[NAME_IDX] = Value::text(name);
            }
            if [NAME_IDX, EMAIL, CITY, PHONE]
                .iter()
                .all(|&i| row[i] != old[i])
            {
                break;
            }
        }
    }

    fn reference_cleared(&self, row: &mut [Value], field: usize) {
        if field == CUSTOMER_NO {
            row[RELATION] = relation_for(&row[CUSTOMER_NO]);
        }
    }
}
