//! The ODataV4 route's pages (`/ODataV4/Company('{name}')/{page}`): web-service-published pages
//! showing the same rows as the Resco pages, under BC's page field names. A page is a view: its
//! schema lists the base table's fields in the same order (renamed or hidden), so the base rows
//! serve it as they are and writes through either route are seen by both.

use super::customer;
use super::resco::item;
use super::schema::{Api, EdmType, EntitySchema, FieldDef};

/// One published page.
#[derive(Debug)]
pub struct Page {
    /// The entity the rows come from.
    pub base: &'static str,
    pub schema: &'static EntitySchema,
}

/// `Company` on ODataV4: keyed by name; positions follow `company::SCHEMA`.
pub static COMPANY: EntitySchema = EntitySchema {
    name: "Company",
    type_name: "Company",
    api: Api::Resco,
    key: &["Name"],
    fields: &[
        FieldDef::system_id("Id"),
        FieldDef::text("systemVersion", 250).hide(),
        FieldDef::scalar("timestamp", EdmType::Int64),
        FieldDef::text("Name", 30),
        FieldDef::text("Display_Name", 250),
        FieldDef::text("Business_Profile_Id", 250),
    ],
};

/// Page 21-style customer details over RescoCustomer's rows (positions follow its schema).
pub static CUSTOMERS: EntitySchema = EntitySchema {
    name: "Customer_Details_WS",
    type_name: "Customer_Details_WS",
    api: Api::Resco,
    key: &["No"],
    fields: &[
        FieldDef::system_id("SystemId").hide(),
        FieldDef::text("No", 20),
        FieldDef::text("Name", 100),
        FieldDef::text("E_Mail", 80),
        FieldDef::text("Address", 100),
        FieldDef::text("Address_2", 50),
        FieldDef::text("Country_Region_Code", 10),
        FieldDef::text("City", 30),
        FieldDef::text("County", 30),
        FieldDef::text("Post_Code", 20),
        FieldDef::text("Phone_No", 30),
        FieldDef::text("Home_Page", 80),
        FieldDef::text("Primary_Contact_No", 20),
        FieldDef::modified_at("SystemModifiedAt"),
        FieldDef::row_version("RowVersionNumber").hide(),
    ],
};

/// Page 30-style item card over RescoItem's rows.
pub static ITEMS: EntitySchema = EntitySchema {
    name: "Item_Card",
    type_name: "Item_Card",
    api: Api::Resco,
    key: &["No"],
    fields: &[
        FieldDef::system_id("SystemId").hide(),
        FieldDef::text("No", 20),
        FieldDef::text("Description", 100),
        FieldDef::text("Description_2", 50),
        FieldDef::enumeration("Type", &item::ITEM_TYPE).plain(),
        FieldDef::text("Base_Unit_of_Measure", 10),
        FieldDef::text("Item_Category_Code", 20),
        FieldDef::text("Inventory_Posting_Group", 20),
        FieldDef::text("Gen_Prod_Posting_Group", 20),
        FieldDef::text("Vendor_No", 20),
        FieldDef::text("Vendor_Item_No", 50),
        FieldDef::decimal("Unit_Price"),
        FieldDef::decimal("Unit_Cost"),
        FieldDef::decimal("Standard_Cost"),
        FieldDef::decimal("Last_Direct_Cost"),
        FieldDef::decimal("Profit_Percent"),
        FieldDef::decimal("Inventory"),
        FieldDef::decimal("Qty_on_Purch_Order"),
        FieldDef::decimal("Qty_on_Sales_Order"),
        FieldDef::decimal("Net_Weight"),
        FieldDef::decimal("Gross_Weight"),
        FieldDef::scalar("Blocked", EdmType::Boolean),
        FieldDef::enumeration("Costing_Method", &item::COSTING_METHOD).plain(),
        FieldDef::text("GTIN", 14),
        FieldDef::scalar("Last_Date_Modified", EdmType::Date),
        FieldDef::modified_at("SystemModifiedAt"),
        FieldDef::row_version("rowVersionNumber").hide(),
    ],
};

pub static PAGES: &[Page] = &[
    Page {
        base: customer::NAME,
        schema: &CUSTOMERS,
    },
    Page {
        base: item::NAME,
        schema: &ITEMS,
    },
];

pub fn page(name: &str) -> Option<&'static Page> {
    PAGES.iter().find(|p| p.schema.name == name)
}

/// Checked by a unit test: a view must line up with its base schema.
pub fn lines_up(view: &EntitySchema, base: &EntitySchema) -> bool {
    view.fields.len() == base.fields.len()
        && view
            .fields
            .iter()
            .zip(base.fields)
            .all(|(v, b)| v.edm == b.edm && v.role == b.role)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::company;

    #[test]
    fn pages_line_up_with_their_tables() {
        assert!(lines_up(&COMPANY, &company::SCHEMA));
        assert!(lines_up(&CUSTOMERS, &customer::SCHEMA));
        assert!(lines_up(&ITEMS, &item::SCHEMA));
    }
}
