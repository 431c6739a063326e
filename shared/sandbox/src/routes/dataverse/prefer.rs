//! The `Prefer` header as Dataverse reads it ("Page results", "Query data using the Web API",
//! "Use change tracking …"), and the `Preference-Applied` echo of what was honoured.

use axum::http::HeaderMap;

/// The largest page Dataverse serves; `odata.maxpagesize` above it gets 5,000 ("Page results").
pub const MAX_PAGE_SIZE: usize = 5_000;

/// The preferences the Dataverse routes honour.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prefer {
    /// `odata.maxpagesize=N`, already capped at [`MAX_PAGE_SIZE`].
    pub max_page_size: Option<usize>,
    pub track_changes: bool,
    /// `odata.include-annotations="…"`: the requested annotation patterns.
    pub annotations: Vec<String>,
    pub continue_on_error: bool,
    pub return_representation: bool,
}

/// Splits a header value at commas outside double quotes (an annotation list is quoted and may
/// contain commas).
fn split_top_level(value: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in value.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                parts.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&value[start..]);
    parts
}

impl Prefer {
    pub fn parse(headers: &HeaderMap) -> Self {
        let mut prefer = Prefer::default();
        for value in headers.get_all("prefer") {
            let Ok(value) = value.to_str() else { continue };
            for pref in split_top_level(value) {
                let pref = pref.trim();
                let (name, arg) = pref.split_once('=').unwrap_or((pref, ""));
                let arg = arg.trim().trim_matches('"');
                match name.trim() {
                    "odata.maxpagesize" => {
                        prefer.max_page_size = arg
                            .parse::<usize>()
                            .ok()
                            .filter(|n| *n > 0)
                            .map(|n| n.min(MAX_PAGE_SIZE));
                    }
                    "odata.track-changes" => prefer.track_changes = true,
                    "odata.include-annotations" => {
                        prefer.annotations = arg.split(',').map(|a| a.trim().to_owned()).collect();
                    }
                    "odata.continue-on-error" => prefer.continue_on_error = true,
                    "return" => prefer.return_representation = arg == "representation",
                    _ => {}
                }
            }
        }
        prefer
    }

    /// Whether the annotation `term` (e.g. `OData.Community.Display.V1.FormattedValue`) was asked
    /// for: by name, by `*`, or by a `Namespace.*` pattern.
    pub fn wants(&self, term: &str) -> bool {
        self.annotations.iter().any(|p| {
            p == "*"
                || p == term
                || p.strip_suffix('*')
                    .is_some_and(|prefix| !prefix.is_empty() && term.starts_with(prefix))
        })
    }

    /// `Preference-Applied` for a read: the page size used, tracking, annotations.
    pub fn applied(&self, page_size_used: bool, tracking_used: bool) -> Option<String> {
        let mut parts = Vec::new();
        if let (Some(n), true) = (self.max_page_size, page_size_used) {
            parts.push(format!("odata.maxpagesize={n}"));
        }
        if tracking_used {
            parts.push("odata.track-changes".to_owned());
        }
        if !self.annotations.is_empty() {
            parts.push(format!(
                "odata.include-annotations=\"{}\"",
                self.annotations.join(",")
            ));
        }
        (!parts.is_empty()).then(|| parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_lists_and_caps() {
        let mut h = HeaderMap::new();
        h.append(
            "prefer",
            "odata.include-annotations=\"OData.Community.Display.V1.FormattedValue,Microsoft.Dynamics.CRM.*\", odata.maxpagesize=9000"
                .parse()
                .unwrap(),
        );
        h.append("prefer", "odata.track-changes".parse().unwrap());
        let p = Prefer::parse(&h);
        assert_eq!(p.max_page_size, Some(5000));
        assert!(p.track_changes);
        assert!(p.wants("OData.Community.Display.V1.FormattedValue"));
        assert!(p.wants("Microsoft.Dynamics.CRM.lookuplogicalname"));
        assert!(!p.wants("Other.Thing"));
    }
}
