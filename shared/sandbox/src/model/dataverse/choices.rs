//! Choice (option set) labels: the values travel as `Edm.Int32`; the labels come only through
//! `Prefer: odata.include-annotations="OData.Community.Display.V1.FormattedValue"` ("Query data
//! using the Web API", formatted values).

/// `account.industrycode` (a subset of Dataverse's default options).
pub const INDUSTRY: &[(i64, &str)] = &[
    (1, "Accounting"),
    (2, "Agriculture and Non-petrol Natural Resource Extraction"),
    (3, "Broadcasting Printing and Publishing"),
    (4, "Brokers"),
    (5, "Building Supply Retail"),
    (6, "Business Services"),
    (7, "Consulting"),
    (8, "Consumer Services"),
    (9, "Design, Direction and Creative Management"),
    (10, "Distributors, Dispatchers and Processors"),
    (11, "Doctor's Offices and Clinics"),
    (12, "Durable Manufacturing"),
];

/// `statecode` of accounts and contacts.
pub const STATE: &[(i64, &str)] = &[(0, "Active"), (1, "Inactive")];

/// The options of a choice column, by column name.
pub fn options(column: &str) -> Option<&'static [(i64, &'static str)]> {
    match column {
        "industrycode" => Some(INDUSTRY),
        "statecode" => Some(STATE),
        _ => None,
    }
}

/// The label of `value` in `column`.
pub fn label(column: &str, value: i64) -> Option<&'static str> {
    options(column)?
        .iter()
        .find(|(v, _)| *v == value)
        .map(|(_, l)| *l)
}
