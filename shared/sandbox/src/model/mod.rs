//! The sandbox's data: entity schemas, generators, and the in-memory store.

pub mod catalog;
pub mod company;
pub mod contact;
pub mod customer;
pub mod dataverse;
mod drift;
pub mod generate;
mod late_commit;
pub mod money;
mod mutate;
pub mod odatav4;
pub mod resco;
pub mod rng;
pub mod schema;
pub mod standard;
pub mod store;
pub mod value;
mod write;

pub use drift::{SchemaChange, SchemaChangeBody};
pub use late_commit::HeldMutation;
pub use mutate::{MutateError, MutateRequest, MutateResponse};
pub use schema::{Api, EdmType, EntitySchema, EnumDef, FieldDef, Role};
pub use store::{Row, Store, Table};
pub use value::Value;
pub use write::{IfMatch, UndoLog, WriteError};
