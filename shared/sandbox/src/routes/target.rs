//! Resource paths after the service root: `companies`, `companies({id})/RescoCustomer('C1')`, …

/// Where a request is addressed, after the service root.
#[derive(Debug, PartialEq, Eq)]
pub enum Target {
    ServiceDocument,
    Metadata,
    Companies,
    Company(String),
    Collection {
        company: String,
        entity: String,
    },
    Single {
        company: String,
        entity: String,
        key: KeyPredicate,
    },
}

/// `Name(args)` → (`Name`, `args`); a segment without parentheses → (`segment`, None).
pub(super) fn split_call(segment: &str) -> Option<(&str, Option<&str>)> {
    match segment.find('(') {
        None => Some((segment, None)),
        Some(i) => {
            let args = segment[i + 1..].strip_suffix(')')?;
            Some((&segment[..i], Some(args)))
        }
    }
}

/// A key literal as written: quoted text (unescaped) or a bare token (number, GUID).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyLiteral {
    Text(String),
    Bare(String),
}

/// `'C1'`, `No='C1'`, or `documentType='Order',documentNo='SO1',lineNo=10000`: the parts in
/// order, each optionally named.
pub type KeyPredicate = Vec<(Option<String>, KeyLiteral)>;

/// Splits on commas outside quotes.
fn split_parts(args: &str) -> Option<Vec<&str>> {
    let mut parts = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in args.char_indices() {
        match c {
            '\'' => quoted = !quoted,
            ',' if !quoted => {
                parts.push(&args[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if quoted {
        return None;
    }
    parts.push(&args[start..]);
    Some(parts)
}

pub(super) fn key_literal(args: &str) -> Option<KeyPredicate> {
    let mut out = Vec::new();
    for part in split_parts(args)? {
        let part = part.trim();
        let (name, value) = match part.find('=').filter(|i| !part[..*i].contains('\'')) {
            Some(i) => (Some(part[..i].trim().to_owned()), part[i + 1..].trim()),
            None => (None, part),
        };
        let literal = match value.strip_prefix('\'') {
            Some(rest) => KeyLiteral::Text(rest.strip_suffix('\'')?.replace("''", "'")),
            None if !value.is_empty() => KeyLiteral::Bare(value.to_owned()),
            None => return None,
        };
        out.push((name, literal));
    }
    Some(out)
}

pub fn parse_target(rest: &str) -> Option<Target> {
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() {
        return Some(Target::ServiceDocument);
    }
    if rest == "$metadata" {
        return Some(Target::Metadata);
    }
    let mut segments = rest.split('/');
    let (name, id) = split_call(segments.next()?)?;
    if name != "companies" {
        return None;
    }
    let Some(id) = id else {
        return segments.next().is_none().then_some(Target::Companies);
    };
    let company = id.trim_matches('\'').to_owned();
    let Some(entity_segment) = segments.next() else {
        return Some(Target::Company(company));
    };
    if segments.next().is_some() {
        return None;
    }
    let (entity, key) = split_call(entity_segment)?;
    let entity = entity.to_owned();
    Some(match key {
        None => Target::Collection { company, entity },
        Some(k) => Target::Single {
            company,
            entity,
            key: key_literal(k)?,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let id = "6f1b2c3d-0000-4000-8000-000000000001";
        assert_eq!(parse_target(""), Some(Target::ServiceDocument));
        assert_eq!(parse_target("$metadata"), Some(Target::Metadata));
        assert_eq!(parse_target("companies"), Some(Target::Companies));
        assert_eq!(
            parse_target(&format!("companies({id})")),
            Some(Target::Company(id.into()))
        );
        assert_eq!(
            parse_target(&format!("companies({id})/RescoCustomer")),
            Some(Target::Collection {
                company: id.into(),
                entity: "RescoCustomer".into()
            })
        );
        assert_eq!(
            parse_target(&format!("companies({id})/RescoCustomer('O''C')")),
            Some(Target::Single {
                company: id.into(),
                entity: "RescoCustomer".into(),
                key: vec![(None, KeyLiteral::Text("O'C".into()))]
            })
        );
        assert_eq!(
            parse_target(&format!(
                "companies({id})/RescoServiceLineItem(documentType='Order',documentNo='S,1',lineNo=10000)"
            )),
            Some(Target::Single {
                company: id.into(),
                entity: "RescoServiceLineItem".into(),
                key: vec![
                    (
                        Some("documentType".into()),
                        KeyLiteral::Text("Order".into())
                    ),
                    (Some("documentNo".into()), KeyLiteral::Text("S,1".into())),
                    (Some("lineNo".into()), KeyLiteral::Bare("10000".into())),
                ]
            })
        );
        assert_eq!(parse_target("customers"), None);
        assert_eq!(
            parse_target(&format!("companies({id})/RescoCustomer('x')/extra")),
            None
        );
    }
}
