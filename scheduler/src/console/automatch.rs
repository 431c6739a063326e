//! Auto-matching an entity's fields to target columns, for the integration editor: pure, so the same
//! source and table always give the same suggestion.

use ferry_shared::odata::catalog::CatalogProperty;

/// One source field and what the editor suggests for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    pub from: String,
    pub edm_type: String,
    /// The column it maps to.
    pub to: String,
    /// Mapped unless the table exists and has no column for it.
    pub include: bool,
    /// The existing column's type, when the table exists and has it.
    pub column_type: Option<String>,
    /// The existing column of that name cannot take the field's values.
    pub type_differs: bool,
}

/// `RowVersionNumber` → `row_version_number`, `PrimaryContacNo` → `primary_contac_no`,
/// `_parentaccountid_value` → `parentaccountid_value`, `No` → `no`.
pub fn column_name(field: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = field.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let after_lower =
                i > 0 && (chars[i - 1].is_ascii_lowercase() || chars[i - 1].is_ascii_digit());
            let before_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            let after_upper = i > 0 && chars[i - 1].is_ascii_uppercase();
            if after_lower || (after_upper && before_lower) {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_').to_string()
}

/// A name reduced to what matching compares: lower case, letters and digits only.
fn squashed(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// A suggestion per property. With an existing table (`columns`: name and type), each field maps to
/// the column of the same name (ignoring case and underscores) when `fits` says that column can take
/// its values, and is left out when there is none or it cannot; with a new table, every field maps to
/// its `column_name`.
pub fn suggest(
    properties: &[CatalogProperty],
    columns: Option<&[(String, String)]>,
    fits: impl Fn(&CatalogProperty, &str) -> bool,
) -> Vec<Suggestion> {
    properties
        .iter()
        .map(|p| match columns {
            None => Suggestion {
                from: p.name.clone(),
                edm_type: p.edm_type.clone(),
                to: column_name(&p.name),
                include: true,
                column_type: None,
                type_differs: false,
            },
            Some(columns) => {
                let wanted = squashed(&p.name);
                let found = columns.iter().find(|(c, _)| squashed(c) == wanted);
                let type_differs = found.is_some_and(|(_, t)| !fits(p, t));
                Suggestion {
                    from: p.name.clone(),
                    edm_type: p.edm_type.clone(),
                    to: found
                        .map(|(c, _)| c.clone())
                        .unwrap_or_else(|| column_name(&p.name)),
                    include: found.is_some() && !type_differs,
                    column_type: found.map(|(_, t)| t.clone()),
                    type_differs,
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn property(name: &str) -> CatalogProperty {
        CatalogProperty {
            name: name.into(),
            edm_type: "Edm.String".into(),
            nullable: true,
            max_length: None,
            precision: None,
            scale: None,
            enum_members: None,
        }
    }

    #[test]
    fn column_names_are_snake_case() {
        assert_eq!(column_name("RowVersionNumber"), "row_version_number");
        assert_eq!(column_name("No"), "no");
        assert_eq!(column_name("PostCode"), "post_code");
        assert_eq!(column_name("SystemID"), "system_id");
        assert_eq!(column_name("Address2"), "address2");
        assert_eq!(
            column_name("_parentaccountid_value"),
            "parentaccountid_value"
        );
        assert_eq!(column_name("emailaddress1"), "emailaddress1");
    }

    #[test]
    fn an_existing_table_maps_only_the_fields_it_has_a_fitting_column_for() {
        let mut balance = property("Balance");
        balance.edm_type = "Edm.Decimal".into();
        let properties = [
            property("No"),
            property("PostCode"),
            property("Fax"),
            balance,
        ];
        let columns = [
            ("no".to_string(), "text".to_string()),
            ("post_code".to_string(), "varchar(20)".to_string()),
            ("balance".to_string(), "boolean".to_string()),
        ];
        let fits = |p: &CatalogProperty, t: &str| !(p.edm_type == "Edm.Decimal" && t == "boolean");
        let s = suggest(&properties, Some(&columns), fits);
        assert_eq!((s[0].to.as_str(), s[0].include), ("no", true));
        assert_eq!((s[1].to.as_str(), s[1].include), ("post_code", true));
        assert_eq!(s[1].column_type.as_deref(), Some("varchar(20)"));
        assert_eq!((s[2].to.as_str(), s[2].include), ("fax", false));
        assert_eq!(
            (s[3].to.as_str(), s[3].include, s[3].type_differs),
            ("balance", false, true)
        );
        let new = suggest(&properties, None, fits);
        assert!(new.iter().all(|s| s.include));
    }
}
