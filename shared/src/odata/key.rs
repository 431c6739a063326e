//! A record's address: the key predicate of OData v4's URL conventions (`('C001')`,
//! `(documentType='Order',no='SO-1')`, a GUID bare), percent-encoded for a path segment.

use serde_json::Value as Json;

/// `(value)` for a key of one property, `(name=value,…)` for a composite one. Strings are quoted with
/// `'` doubled; GUIDs (`is_guid`) and numbers are bare.
pub fn predicate(pairs: &[(String, Json)], is_guid: &impl Fn(&str) -> bool) -> String {
    let literal = |name: &str, value: &Json| match value {
        Json::String(s) if is_guid(name) => s.clone(),
        Json::String(s) => format!("'{}'", s.replace('\'', "''")),
        other => other.to_string(),
    };
    let inner = match pairs {
        [(name, value)] => literal(name, value),
        _ => pairs
            .iter()
            .map(|(name, value)| format!("{name}={}", literal(name, value)))
            .collect::<Vec<_>>()
            .join(","),
    };
    format!("({})", encode(&inner))
}

/// Percent-encodes what a path segment cannot carry as it is (RFC 3986 `pchar`), keeping the
/// characters a key predicate is made of.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        let keep = byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&byte);
        if keep {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_quoted_bare_or_named_as_odata_wants() {
        let none = |_: &str| false;
        assert_eq!(
            predicate(&[("No".into(), "C001".into())], &none),
            "('C001')"
        );
        assert_eq!(
            predicate(&[("No".into(), "O'Neil & Co/1 2".into())], &none),
            "('O''Neil%20&%20Co%2F1%202')"
        );
        let guid = |f: &str| f == "accountid";
        assert_eq!(
            predicate(
                &[(
                    "accountid".into(),
                    "5b1f0c1e-0000-0000-0000-000000000001".into()
                )],
                &guid
            ),
            "(5b1f0c1e-0000-0000-0000-000000000001)"
        );
        assert_eq!(
            predicate(
                &[
                    ("documentType".into(), "Order".into()),
                    ("lineNo".into(), 10000.into())
                ],
                &none
            ),
            "(documentType='Order',lineNo=10000)"
        );
    }
}
