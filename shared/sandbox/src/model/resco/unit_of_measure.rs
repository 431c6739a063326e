//! RescoUnitOfMeasure: BC's Unit of Measure table, keyed by `code`.

use super::super::generate::{Generator, RefPicker, put};
use super::super::rng::Rng;
use super::super::schema::{Api, EntitySchema, FieldDef};
use super::super::value::Value;

pub const NAME: &str = "RescoUnitOfMeasure";

pub static SCHEMA: EntitySchema = EntitySchema {
    name: NAME,
    type_name: NAME,
    api: Api::Resco,
    key: &["code"],
    fields: &[
        FieldDef::system_id("id"),
        FieldDef::text("code", 10),
        FieldDef::text("description", 50),
        FieldDef::text("internationalStandardCode", 10),
        FieldDef::text("symbol", 10),
        FieldDef::modified_at("systemModifiedAt"),
        FieldDef::row_version("rowVersionNumber"),
    ],
};

/// CRONUS's units: (code, description, UN/ECE code, symbol).
const UNITS: &[(&str, &str, &str, &str)] = &[
    ("PCS", "Piece", "EA", "pcs"),
    ("BOX", "Box", "BX", "box"),
    ("HOUR", "Hour", "HUR", "h"),
    ("DAY", "Day", "DAY", "d"),
    ("KG", "Kilogram", "KGM", "kg"),
    ("L", "Liter", "LTR", "l"),
    ("M", "Meter", "MTR", "m"),
    ("SET", "Set", "SET", "set"),
    ("PACK", "Pack", "PK", "pk"),
    ("PALLET", "Pallet", "PF", "plt"),
    ("CAN", "Can", "CA", "can"),
    ("MILES", "Miles", "1A", "mi"),
];

/// Units beyond the named ones are numbered (`UOM13`, …) so any size works.
pub fn code(seq: u64) -> String {
    match UNITS.get((seq - 1) as usize) {
        Some(u) => u.0.to_owned(),
        None => format!("UOM{seq}"),
    }
}

#[derive(Debug, Default)]
pub struct UnitOfMeasureGenerator;

impl Generator for UnitOfMeasureGenerator {
    fn schema(&self) -> &'static EntitySchema {
        &SCHEMA
    }

    fn key(&self, seq: u64) -> Vec<Value> {
        vec![Value::str(code(seq))]
    }

    fn new_row(&self, seq: u64, _rng: &mut Rng, _refs: &mut dyn RefPicker) -> Vec<Value> {
        let mut row = vec![Value::Null; SCHEMA.fields.len()];
        let (description, iso, symbol) = match UNITS.get((seq - 1) as usize) {
            Some(u) => (u.1.to_owned(), u.2.to_owned(), u.3.to_owned()),
            None => (format!("Unit {seq}"), String::new(), String::new()),
        };
        put(&SCHEMA, &mut row, "code", Value::str(code(seq)));
        put(&SCHEMA, &mut row, "description", Value::text(description));
        put(
            &SCHEMA,
            &mut row,
            "internationalStandardCode",
            Value::text(iso),
        );
        put(&SCHEMA, &mut row, "symbol", Value::text(symbol));
        row
    }

    fn update(&self, row: &mut [Value], rng: &mut Rng, _refs: &mut dyn RefPicker) {
        let old = row[2].as_str().unwrap_or_default().to_owned();
        let base = old.split(" (").next().unwrap_or_default();
        let new = format!("{base} ({})", rng.range(1, 999));
        put(&SCHEMA, row, "description", Value::text(new));
    }
}
