//! Dataverse `account` (entity set `accounts`, key `accountid`).

use super::super::generate::{self as g, Generator, RefPicker, seq_guid};
use super::super::rng::Rng;
use super::super::schema::{Api, EdmType, EntitySchema, FieldDef};
use super::super::value::Value;
use super::{USD, choices, tag};

pub const NAME: &str = "account";

pub static SCHEMA: EntitySchema = EntitySchema {
    name: NAME,
    type_name: NAME,
    api: Api::Dataverse,
    key: &["accountid"],
    fields: &[
        FieldDef::guid("accountid"),
        FieldDef::text("name", 160).nullable(),
        FieldDef::text("accountnumber", 20).nullable(),
        FieldDef::text("emailaddress1", 100).nullable(),
        FieldDef::text("telephone1", 50).nullable(),
        FieldDef::text("address1_city", 80).nullable(),
        FieldDef::decimal("revenue").nullable(),
        FieldDef::guid("_transactioncurrencyid_value").nullable(),
        FieldDef::scalar("numberofemployees", EdmType::Int32).nullable(),
        FieldDef::scalar("industrycode", EdmType::Int32).nullable(),
        FieldDef::scalar("statecode", EdmType::Int32),
        FieldDef::created_at("createdon"),
        FieldDef::modified_at("modifiedon"),
        FieldDef::row_version("versionnumber"),
    ],
};

const NAME_IDX: usize = 1;
const EMAIL: usize = 3;
const PHONE: usize = 4;
const CITY: usize = 5;
const REVENUE: usize = 6;
const CURRENCY: usize = 7;
const EMPLOYEES: usize = 8;
const INDUSTRY: usize = 9;
const STATE: usize = 10;

/// The `accountid` of the `seq`-th account: contacts point at accounts by sequence number.
pub fn id(seq: u64) -> uuid::Uuid {
    seq_guid(tag::ACCOUNT, seq)
}

#[derive(Debug, Default)]
pub struct AccountGenerator;

/// A revenue in whole dollars and cents, or null (a column nobody filled in).
fn revenue(rng: &mut Rng) -> Value {
    if rng.chance(15) {
        return Value::Null;
    }
    Value::Money(i128::from(rng.range(1_000, 5_000_000_000)) * 100)
}

impl Generator for AccountGenerator {
    fn schema(&self) -> &'static EntitySchema {
        &SCHEMA
    }

    fn key(&self, seq: u64) -> Vec<Value> {
        vec![Value::Guid(id(seq))]
    }

    fn new_row(&self, seq: u64, rng: &mut Rng, _refs: &mut dyn RefPicker) -> Vec<Value> {
        let name = g::company_name(rng);
        let domain = g::domain_of(&name);
        let (city, _, _, area) = *g::city(rng);
        let mut row = vec![Value::Null; SCHEMA.fields.len()];
        row[0] = Value::Guid(id(seq));
        row[2] = Value::text(format!("ACC-{seq:06}"));
        if rng.chance(85) {
            row[EMAIL] = Value::text(g::email(rng, None, &domain));
        }
        row[NAME_IDX] = Value::text(name);
        row[PHONE] = Value::text(g::phone(rng, area));
        row[CITY] = Value::interned(city);
        row[REVENUE] = revenue(rng);
        row[CURRENCY] = Value::Guid(USD);
        if rng.chance(80) {
            row[EMPLOYEES] = Value::Int(rng.range(1, 20_000) as i64);
        }
        if rng.chance(70) {
            let (value, _) = rng.pick(choices::INDUSTRY);
            row[INDUSTRY] = Value::Int(*value);
        }
        row[STATE] = Value::Int(i64::from(rng.chance(10)));
        row
    }

    fn update(&self, row: &mut [Value], rng: &mut Rng, _refs: &mut dyn RefPicker) {
        let old = row[NAME_IDX].clone();
        for attempt in 0u32.. {
            let mut name = g::company_name(rng);
            if attempt > 3 {
                name = format!("{name} {attempt}");
            }
            row[NAME_IDX] = Value::text(name);
            if row[NAME_IDX] != old {
                break;
            }
        }
        let (_, _, _, area) = *g::city(rng);
        row[PHONE] = Value::text(g::phone(rng, area));
        row[REVENUE] = Value::Money(i128::from(rng.range(1_000, 5_000_000_000)) * 100);
    }
}
