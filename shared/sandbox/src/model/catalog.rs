//! Every entity the sandbox serves and how many rows each gets: the one place an entity is
//! registered.

use std::sync::Arc;

use super::dataverse;
use super::generate::Generator;
use super::resco::{
    item, resource, service_item_line, service_line_item, service_order, unit_of_measure,
};
use super::standard;
use super::{contact, customer};
use crate::config::SandboxConfig;

/// Default sizes of the entities whose size is not a `SandboxConfig` field of its own: small, so
/// a test sandbox starts in milliseconds, but big enough to page through.
pub const DEFAULT_SIZES: &[(&str, usize)] = &[
    (unit_of_measure::NAME, 12),
    (item::NAME, 500),
    (resource::NAME, 50),
    (service_order::NAME, 200),
    (service_item_line::NAME, 400),
    (service_line_item::NAME, 800),
    (standard::customer::NAME, 200),
    (standard::contact::NAME, 200),
    (standard::item::NAME, 200),
    (standard::sales_order::NAME, 100),
    (standard::sales_order_line::NAME, 300),
];

/// The size of `entity` under `config` (`sizes` overrides the defaults).
pub fn size(config: &SandboxConfig, entity: &str) -> usize {
    match entity {
        customer::NAME => config.customers,
        contact::NAME => config.contacts,
        dataverse::account::NAME => config.accounts,
        dataverse::contact::NAME => config.dv_contacts,
        _ => config.sizes.get(entity).copied().unwrap_or_else(|| {
            DEFAULT_SIZES
                .iter()
                .find(|(n, _)| *n == entity)
                .map_or(0, |(_, s)| *s)
        }),
    }
}

/// Generators with their row counts, in generation order. Customers and contacts come first and
/// every entity draws from its own seeded stream, so adding an entity never changes the others.
pub fn entities(config: &SandboxConfig) -> Vec<(Arc<dyn Generator>, u64)> {
    let n = |entity: &str| size(config, entity) as u64;
    let orders = n(service_order::NAME).max(1);
    let seed = config.seed;
    let per_order = |lines: u64| lines.div_ceil(orders).max(1);
    let generators: Vec<Arc<dyn Generator>> = vec![
        Arc::new(customer::CustomerGenerator),
        Arc::new(contact::ContactGenerator),
        Arc::new(unit_of_measure::UnitOfMeasureGenerator),
        Arc::new(item::ItemGenerator),
        Arc::new(resource::ResourceGenerator),
        Arc::new(service_order::ServiceOrderGenerator),
        Arc::new(service_item_line::ServiceItemLineGenerator {
            per_order: per_order(n(service_item_line::NAME)),
        }),
        Arc::new(service_line_item::ServiceLineItemGenerator {
            per_order: per_order(n(service_line_item::NAME)),
        }),
        Arc::new(standard::customer::CustomerGenerator { seed }),
        Arc::new(standard::contact::ContactGenerator { seed }),
        Arc::new(standard::item::ItemGenerator { seed }),
        Arc::new(standard::sales_order::SalesOrderGenerator { seed }),
        Arc::new(standard::sales_order_line::SalesOrderLineGenerator {
            seed,
            per_order: n(standard::sales_order_line::NAME)
                .div_ceil(n(standard::sales_order::NAME).max(1))
                .max(1),
        }),
        // Dataverse last: adding it left every BC entity's data and row versions as they were.
        Arc::new(dataverse::account::AccountGenerator),
        Arc::new(dataverse::contact::ContactGenerator),
    ];
    generators
        .into_iter()
        .map(|g| {
            let count = n(g.schema().name);
            (g, count)
        })
        .collect()
}
