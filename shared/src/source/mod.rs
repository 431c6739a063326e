//! Connectors: how Ferry reads an external system. Business Central for now (DESIGN §6).

mod business_central;

pub use business_central::BusinessCentral;
