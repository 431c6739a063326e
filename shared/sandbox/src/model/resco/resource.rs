//! RescoResource: BC's Resource table (technicians and machines), keyed by `no`.

use super::super::generate::{self as g, Generator, RefPicker, amount, put};
use super::super::rng::Rng;
use super::super::schema::{Api, EdmType, EntitySchema, EnumDef, FieldDef};
use super::super::value::Value;
use super::unit_of_measure;

pub const NAME: &str = "RescoResource";

pub static RESOURCE_TYPE: EnumDef = EnumDef {
    name: "resourceType",
    members: &["Person", "Machine"],
};

pub static SCHEMA: EntitySchema = EntitySchema {
    name: NAME,
    type_name: NAME,
    api: Api::Resco,
    key: &["no"],
    fields: &[
        FieldDef::system_id("id"),
        FieldDef::text("no", 20),
        FieldDef::text("name", 100),
        FieldDef::enumeration("type", &RESOURCE_TYPE),
        FieldDef::lookup("baseUnitOfMeasure", 10, unit_of_measure::NAME),
        FieldDef::text("resourceGroupNo", 20),
        FieldDef::decimal("directUnitCost"),
        FieldDef::decimal("unitCost"),
        FieldDef::decimal("unitPrice"),
        FieldDef::text("email", 80),
        FieldDef::scalar("blocked", EdmType::Boolean),
        FieldDef::modified_at("systemModifiedAt"),
        FieldDef::row_version("rowVersionNumber"),
    ],
};

const MACHINES: &[&str] = &[
    "Forklift",
    "Lift Platform",
    "Van",
    "Generator",
    "Compressor",
];

pub fn number(seq: u64) -> String {
    format!("R{seq:04}")
}

#[derive(Debug, Default)]
pub struct ResourceGenerator;

fn set_rates(row: &mut [Value], rng: &mut Rng) {
    let cost = rng.range(2_500, 12_000) as f64 / 100.0;
    put(&SCHEMA, row, "directUnitCost", amount(cost, 2));
    put(&SCHEMA, row, "unitCost", amount(cost * 1.1, 2));
    put(&SCHEMA, row, "unitPrice", amount(cost * 1.6, 2));
}

impl Generator for ResourceGenerator {
    fn schema(&self) -> &'static EntitySchema {
        &SCHEMA
    }

    fn key(&self, seq: u64) -> Vec<Value> {
        vec![Value::str(number(seq))]
    }

    fn new_row(&self, seq: u64, rng: &mut Rng, _refs: &mut dyn RefPicker) -> Vec<Value> {
        let mut row = vec![Value::Null; SCHEMA.fields.len()];
        let person = rng.chance(80);
        let (name, email, unit, group) = if person {
            let name = g::person_name(rng);
            let email = format!("{}@cronus.com", name.to_ascii_lowercase().replace(' ', "."));
            (
                name,
                email,
                "HOUR",
                *rng.pick(&["TECH", "INSTALL", "SUPPORT"]),
            )
        } else {
            let name = format!("{} {}", rng.pick(MACHINES), rng.range(1, 99));
            (name, String::new(), "DAY", "EQUIPMENT")
        };
        put(&SCHEMA, &mut row, "no", Value::str(number(seq)));
        put(&SCHEMA, &mut row, "name", Value::text(name));
        put(
            &SCHEMA,
            &mut row,
            "type",
            Value::interned(if person { "Person" } else { "Machine" }),
        );
        put(
            &SCHEMA,
            &mut row,
            "baseUnitOfMeasure",
            Value::interned(unit),
        );
        put(&SCHEMA, &mut row, "resourceGroupNo", Value::interned(group));
        set_rates(&mut row, rng);
        put(&SCHEMA, &mut row, "email", Value::text(email));
        put(&SCHEMA, &mut row, "blocked", Value::Bool(rng.chance(2)));
        row
    }

    fn update(&self, row: &mut [Value], rng: &mut Rng, _refs: &mut dyn RefPicker) {
        set_rates(row, rng);
    }
}
