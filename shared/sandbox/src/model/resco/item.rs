//! RescoItem: BC's Item table (a realistic subset of its fields), keyed by `no`.

use super::super::generate::{Generator, RefPicker, amount, date, one_of, put};
use super::super::rng::Rng;
use super::super::schema::{Api, EdmType, EntitySchema, EnumDef, FieldDef};
use super::super::value::Value;
use super::unit_of_measure;

pub const NAME: &str = "RescoItem";

pub static ITEM_TYPE: EnumDef = EnumDef {
    name: "itemType",
    members: &["Inventory", "Service", "Non-Inventory"],
};

pub static COSTING_METHOD: EnumDef = EnumDef {
    name: "costingMethod",
    members: &["FIFO", "LIFO", "Specific", "Average", "Standard"],
};

pub static SCHEMA: EntitySchema = EntitySchema {
    name: NAME,
    type_name: NAME,
    api: Api::Resco,
    key: &["no"],
    fields: &[
        FieldDef::system_id("id"),
        FieldDef::text("no", 20),
        FieldDef::text("description", 100),
        FieldDef::text("description2", 50),
        FieldDef::enumeration("type", &ITEM_TYPE),
        FieldDef::lookup("baseUnitOfMeasure", 10, unit_of_measure::NAME),
        FieldDef::text("itemCategoryCode", 20),
        FieldDef::text("inventoryPostingGroup", 20),
        FieldDef::text("genProdPostingGroup", 20),
        FieldDef::text("vendorNo", 20),
        FieldDef::text("vendorItemNo", 50),
        FieldDef::decimal("unitPrice"),
        FieldDef::decimal("unitCost"),
        FieldDef::decimal("standardCost"),
        FieldDef::decimal("lastDirectCost"),
        FieldDef::decimal("profitPercent"),
        FieldDef::decimal("inventory"),
        FieldDef::decimal("qtyOnPurchOrder"),
        FieldDef::decimal("qtyOnSalesOrder"),
        FieldDef::decimal("netWeight"),
        FieldDef::decimal("grossWeight"),
        FieldDef::scalar("blocked", EdmType::Boolean),
        FieldDef::enumeration("costingMethod", &COSTING_METHOD),
        FieldDef::text("gtin", 14),
        FieldDef::scalar("lastDateModified", EdmType::Date),
        FieldDef::modified_at("systemModifiedAt"),
        FieldDef::row_version("rowVersionNumber"),
    ],
};

/// (category code, nouns sold in it)
const CATEGORIES: &[(&str, &[&str])] = &[
    (
        "FURNITURE",
        &["Desk", "Chair", "Bookcase", "Cabinet", "Table"],
    ),
    ("PARTS", &["Bearing", "Gasket", "Valve", "Filter", "Pump"]),
    (
        "ELECTRIC",
        &["Cable", "Switch", "Breaker", "Sensor", "Relay"],
    ),
    ("TOOLS", &["Drill", "Wrench", "Saw", "Grinder", "Hammer"]),
    (
        "SUPPLIES",
        &["Paper", "Toner", "Lubricant", "Cleaner", "Tape"],
    ),
];

const ADJECTIVES: &[&str] = &[
    "Heavy-duty",
    "Compact",
    "Standard",
    "Premium",
    "Industrial",
    "Ergonomic",
    "Stainless",
    "Portable",
    "Deluxe",
    "Basic",
];

/// The number of an existing item for a line's reference, or blank while there are no items.
pub fn pick(refs: &mut dyn RefPicker, rng: &mut Rng) -> Value {
    refs.pick(NAME, rng)
        .map_or_else(|| Value::interned(""), Value::Str)
}

pub fn number(seq: u64) -> String {
    format!("{}", 1000 + seq)
}

#[derive(Debug, Default)]
pub struct ItemGenerator;

impl ItemGenerator {
    fn set_prices(row: &mut [Value], rng: &mut Rng) {
        let cost = (rng.range(50, 250_000) as f64) / 100.0;
        let margin = (rng.range(10, 80) as f64) / 100.0;
        let price = cost * (1.0 + margin);
        put(&SCHEMA, row, "unitCost", amount(cost, 2));
        put(&SCHEMA, row, "standardCost", amount(cost, 2));
        put(&SCHEMA, row, "lastDirectCost", amount(cost * 0.97, 2));
        put(&SCHEMA, row, "unitPrice", amount(price, 2));
        put(
            &SCHEMA,
            row,
            "profitPercent",
            amount(margin / (1.0 + margin) * 100.0, 5),
        );
        put(&SCHEMA, row, "inventory", amount(rng.below(500) as f64, 0));
    }
}

impl Generator for ItemGenerator {
    fn schema(&self) -> &'static EntitySchema {
        &SCHEMA
    }

    fn key(&self, seq: u64) -> Vec<Value> {
        vec![Value::str(number(seq))]
    }

    fn new_row(&self, seq: u64, rng: &mut Rng, _refs: &mut dyn RefPicker) -> Vec<Value> {
        let mut row = vec![Value::Null; SCHEMA.fields.len()];
        let (category, nouns) = rng.pick(CATEGORIES);
        let noun = rng.pick(nouns);
        let kind = if rng.chance(85) {
            "Inventory"
        } else {
            "Non-Inventory"
        };
        let p = |row: &mut Vec<Value>, name: &str, v: Value| put(&SCHEMA, row, name, v);
        p(&mut row, "no", Value::str(number(seq)));
        p(
            &mut row,
            "description",
            Value::text(format!("{} {noun}", rng.pick(ADJECTIVES))),
        );
        p(
            &mut row,
            "description2",
            Value::text(if rng.chance(30) {
                format!("Model {}", rng.range(100, 999))
            } else {
                String::new()
            }),
        );
        p(&mut row, "type", Value::interned(kind));
        let uom = one_of(rng, &["PCS", "PCS", "PCS", "BOX", "SET", "PACK", "KG"]);
        p(&mut row, "baseUnitOfMeasure", uom);
        p(&mut row, "itemCategoryCode", Value::interned(category));
        p(
            &mut row,
            "inventoryPostingGroup",
            Value::interned(if kind == "Inventory" { "RESALE" } else { "" }),
        );
        p(&mut row, "genProdPostingGroup", Value::interned("RETAIL"));
        p(
            &mut row,
            "vendorNo",
            Value::text(format!("V{:05}", rng.range(1, 300))),
        );
        p(
            &mut row,
            "vendorItemNo",
            Value::text(format!("{}-{}", &category[..3], rng.range(10_000, 99_999))),
        );
        Self::set_prices(&mut row, rng);
        p(&mut row, "qtyOnPurchOrder", amount(rng.below(50) as f64, 0));
        p(&mut row, "qtyOnSalesOrder", amount(rng.below(50) as f64, 0));
        let net = (rng.range(5, 50_000) as f64) / 100.0;
        p(&mut row, "netWeight", amount(net, 2));
        p(&mut row, "grossWeight", amount(net * 1.1, 2));
        p(&mut row, "blocked", Value::Bool(rng.chance(3)));
        p(
            &mut row,
            "costingMethod",
            one_of(rng, &["FIFO", "FIFO", "Average", "Standard"]),
        );
        p(
            &mut row,
            "gtin",
            Value::text(format!("0{:013}", rng.below(10_000_000_000_000))),
        );
        p(&mut row, "lastDateModified", date(rng));
        row
    }

    fn update(&self, row: &mut [Value], rng: &mut Rng, _refs: &mut dyn RefPicker) {
        Self::set_prices(row, rng);
        put(&SCHEMA, row, "lastDateModified", date(rng));
    }
}
