//! The `Prefer` header (RFC 7240) of a read: the page size every request asks for, and the
//! preferences a query adds, rendered into one header in one place. Servers read one comma-separated
//! list; a second `Prefer` header is one some proxies drop or merge badly.

/// The annotation that carries a value's display text: a Dataverse choice's label (and the text of a
/// lookup, money, date or number), as `{field}@OData.Community.Display.V1.FormattedValue`.
pub const FORMATTED_VALUE: &str = "OData.Community.Display.V1.FormattedValue";

/// A preference a query asks of the service beyond the page size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Preference {
    /// Rows carry [`FORMATTED_VALUE`] annotations beside their values (a field with `label = true`
    /// reads them). Dataverse sends them only when asked, and only for non-null values.
    FormattedValues,
    /// Change tracking (`odata.track-changes`): the last page of the read carries an
    /// `@odata.deltaLink` to what changes after it. Asked on the first request, its next links and
    /// the delta link's own pages (Dataverse needs it on the first; asking again does no harm).
    TrackChanges,
}

impl Preference {
    /// The preference as it goes into the header.
    fn token(self) -> &'static str {
        match self {
            Preference::FormattedValues => {
                "odata.include-annotations=\"OData.Community.Display.V1.FormattedValue\""
            }
            Preference::TrackChanges => "odata.track-changes",
        }
    }
}

/// `odata.maxpagesize=N`, then each of `preferences` once, comma-separated.
pub fn header(page_size: u32, preferences: &[Preference]) -> String {
    let mut header = format!("odata.maxpagesize={page_size}");
    for (i, preference) in preferences.iter().enumerate() {
        if !preferences[..i].contains(preference) {
            header.push_str(", ");
            header.push_str(preference.token());
        }
    }
    header
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_size_comes_first_and_each_preference_once() {
        assert_eq!(header(500, &[]), "odata.maxpagesize=500");
        assert_eq!(
            header(
                500,
                &[Preference::FormattedValues, Preference::FormattedValues]
            ),
            "odata.maxpagesize=500, \
             odata.include-annotations=\"OData.Community.Display.V1.FormattedValue\""
        );
        assert!(
            Preference::FormattedValues
                .token()
                .contains(FORMATTED_VALUE)
        );
    }
}
