//! Dataverse's `account` and `contact` tables ("Query data using the Web API"): GUID keys,
//! nullable columns, choices as `Edm.Int32`, Money as exact decimals, lookups read as
//! `_{name}_value`, and `versionnumber` from the store's single row-version counter (as SQL
//! rowversion is one counter per database).
//!
//! They live in the same `Store` as BC's entities (so `/_sandbox/mutate`, `/_sandbox/rows`, schema
//! drift and the version counter are shared code) but only the Dataverse routes serve them
//! (`Api::Dataverse`).

pub mod account;
pub mod choices;
pub mod columns;
pub mod contact;
pub mod order;

use super::schema::EntitySchema;

/// Distinguishes the GUIDs of the two tables (`generate::seq_guid`'s high bits).
mod tag {
    pub const ACCOUNT: u32 = 0xacc0_0a7d;
    pub const CONTACT: u32 = 0xc0a7_ac7d;
}

/// The fixed `transactioncurrencyid` of every money column (the organization's base currency,
/// US Dollar): Dataverse returns `_transactioncurrencyid_value` beside money.
pub const USD: uuid::Uuid = uuid::Uuid::from_u128(0x7b6b_0d4f_61a1_ef11_a70e_000d_3a5b_1c2d);

/// Entity set name → table (logical name), as `$metadata`'s EntityContainer declares them.
pub const ENTITY_SETS: &[(&str, &EntitySchema)] = &[
    ("accounts", &account::SCHEMA),
    ("contacts", &contact::SCHEMA),
];

/// The entity set of a logical name (`account` → `accounts`).
pub fn entity_set_of(logical: &str) -> Option<&'static str> {
    ENTITY_SETS
        .iter()
        .find(|(_, s)| s.name == logical)
        .map(|(set, _)| *set)
}

/// The logical name of an entity set (`accounts` → `account`).
pub fn logical_of(entity_set: &str) -> Option<&'static str> {
    ENTITY_SETS
        .iter()
        .find(|(set, _)| *set == entity_set)
        .map(|(_, s)| s.name)
}
