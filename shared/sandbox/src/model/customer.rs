//! RescoCustomer: the Resco API page over BC's Customer table, keyed by `No`.

use super::generate::{self as g, Generator, RefPicker};
use super::rng::Rng;
use super::schema::{Api, EntitySchema, FieldDef};
use super::value::Value;

pub const NAME: &str = "RescoCustomer";

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
        FieldDef::text("Address2", 50),
        FieldDef::text("CountryRegionCode", 10),
        FieldDef::text("City", 30),
        FieldDef::text("State", 30),
        FieldDef::text("PostCode", 20),
        FieldDef::text("PhoneNo", 30),
        FieldDef::text("HomePage", 80),
        // Sic: the real page misspells it.
        FieldDef::lookup("PrimaryContacNo", 20, super::contact::NAME),
        FieldDef::modified_at("SystemModifiedAt"),
        FieldDef::row_version("RowVersionNumber"),
    ],
};

const NAME_IDX: usize = 2;
const EMAIL: usize = 3;
const CITY: usize = 7;
const STATE: usize = 8;
const POST_CODE: usize = 9;
const PHONE: usize = 10;
const HOME_PAGE: usize = 11;

#[derive(Debug, Default)]
pub struct CustomerGenerator;

impl CustomerGenerator {
    fn set_location(row: &mut [Value], rng: &mut Rng) {
        let (city, state, zip, area) = *g::city(rng);
        row[CITY] = Value::interned(city);
        row[STATE] = Value::interned(state);
        row[POST_CODE] = Value::text(g::post_code(rng, zip));
        row[PHONE] = Value::text(g::phone(rng, area));
    }
}

impl Generator for CustomerGenerator {
    fn schema(&self) -> &'static EntitySchema {
        &SCHEMA
    }

    fn key(&self, seq: u64) -> Vec<Value> {
        vec![Value::str(format!("C{seq:06}"))]
    }

    fn new_row(&self, seq: u64, rng: &mut Rng, refs: &mut dyn RefPicker) -> Vec<Value> {
        let name = g::company_name(rng);
        let domain = g::domain_of(&name);
        let mut row = vec![Value::Null; SCHEMA.fields.len()];
        row[1] = self.key(seq).remove(0);
        row[EMAIL] = Value::text(if rng.chance(90) {
            g::email(rng, None, &domain)
        } else {
            String::new()
        });
        row[NAME_IDX] = Value::text(name);
        row[4] = Value::text(g::street_address(rng));
        row[5] = Value::text(g::address2(rng));
        row[6] = Value::interned("US");
        Self::set_location(&mut row, rng);
        row[HOME_PAGE] = Value::text(if rng.chance(70) {
            format!("www.{domain}")
        } else {
            String::new()
        });
        let contact = if rng.chance(60) {
            refs.pick(super::contact::NAME, rng)
        } else {
            None
        };
        row[12] = contact.map_or_else(|| Value::interned(""), Value::Str);
        row
    }

    fn update(&self, row: &mut [Value], rng: &mut Rng, _refs: &mut dyn RefPicker) {
        let old: Vec<Value> = row.to_vec();
        // Re-draw until every changed field really differs; a counter suffix breaks rare ties.
        for attempt in 0u32.. {
            let mut name = g::company_name(rng);
            if attempt > 3 {
                name = format!("{name} {attempt}");
            }
            row[NAME_IDX] = Value::str(name.as_str());
            row[EMAIL] = Value::text(g::email(rng, None, &g::domain_of(&name)));
            Self::set_location(row, rng);
            if [NAME_IDX, EMAIL, CITY, PHONE]
                .iter()
                .all(|&i| row[i] != old[i])
            {
                break;
            }
        }
    }
}
