//! The Resco extension's other pages (RescoCustomer and RescoContact live one level up, older and
//! pinned by Ferry's tests). Property casing follows the real pages: PascalCase with
//! `RowVersionNumber` on ServiceOrder; camelCase with `rowVersionNumber` on the others.

pub mod item;
pub mod resource;
pub mod service_item_line;
pub mod service_line_item;
pub mod service_order;
pub mod unit_of_measure;

use super::schema::EnumDef;

pub static SERVICE_DOCUMENT_TYPE: EnumDef = EnumDef {
    name: "serviceDocumentType",
    members: &["Quote", "Order", "Invoice", "Credit Memo"],
};

pub static SERVICE_PRIORITY: EnumDef = EnumDef {
    name: "servicePriority",
    members: &["Low", "Medium", "High"],
};

/// Service orders' numbers; lines reference orders by (documentType, documentNo).
pub fn order_no(seq: u64) -> String {
    format!("SO{seq:06}")
}
