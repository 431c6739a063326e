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
        key: String,
    },
}

/// `Name(args)` → (`Name`, `args`); a segment without parentheses → (`segment`, None).
fn split_call(segment: &str) -> Option<(&str, Option<&str>)> {
    match segment.find('(') {
        None => Some((segment, None)),
        Some(i) => {
            let args = segment[i + 1..].strip_suffix(')')?;
            Some((&segment[..i], Some(args)))
        }
    }
}

/// A key predicate: `'C000001'` (with `''` escapes) or `No='C000001'`.
fn key_literal(args: &str) -> Option<String> {
    let args = args.split_once('=').map_or(args, |(_, v)| v).trim();
    let inner = args.strip_prefix('\'')?.strip_suffix('\'')?;
    Some(inner.replace("''", "'"))
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
                key: "O'C".into()
            })
        );
        assert_eq!(parse_target("customers"), None);
        assert_eq!(
            parse_target(&format!("companies({id})/RescoCustomer('x')/extra")),
            None
        );
    }
}
