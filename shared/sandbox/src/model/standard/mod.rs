//! BC's standard API v2.0 (`/api/v2.0/companies({id})/…`): entities keyed by a GUID `id`, with
//! `number`, `displayName` and `lastModifiedDateTime`, and no row version property (the version
//! behind their ETags is hidden).
//!
//! Keys are GUIDs derived from the row's sequence number (`generate::seq_guid`), so a sales order
//! can point at a customer by sequence number and get its id, number and name consistently.

pub mod contact;
pub mod customer;
pub mod item;
pub mod sales_order;
pub mod sales_order_line;

use super::rng::Rng;

/// Distinguishes the GUIDs of different entities (the high bits of `seq_guid`).
pub mod tag {
    pub const CUSTOMER: u32 = 0x5c05_7000;
    pub const CONTACT: u32 = 0x5c0a_7ac7;
    pub const ITEM: u32 = 0x5117_e000;
    pub const SALES_ORDER: u32 = 0x5a1e_0000;
    pub const SALES_ORDER_LINE: u32 = 0x5a1e_1000;
}

/// A stream that depends only on (seed, entity, seq): lets another entity recompute a
/// referenced row's name without reading it.
pub fn row_rng(seed: u64, entity: &str, seq: u64) -> Rng {
    Rng::derive(seed ^ seq.wrapping_mul(0x9e37_79b9_7f4a_7c15), entity)
}
