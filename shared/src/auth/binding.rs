//! The one list of a connection's settings that a stored secret is bound to (invariant 6): those
//! that decide where the secret goes (the token and device endpoints, as the worker would call them,
//! and the authority they derive from), where the tokens it buys go (the service's origin), and what
//! they are for (kind, tenant, client id, scope). A secret stored for one list opens for no other, so
//! a definition changed in the database cannot point a stored secret at a new host.

use super::endpoints::{MICROSOFT_AUTHORITY, device_authorization_url, token_url};
use crate::definitions::ConnectionDef;
use crate::secrets::Binding;

/// Each bound setting's name (as an operator knows it) and value, in a fixed order.
fn bound_settings(connection: &ConnectionDef) -> Vec<(&'static str, String)> {
    let auth = &connection.auth;
    let kind = serde_json::to_value(connection.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let or_empty = |value: Option<&str>| value.unwrap_or_default().to_string();
    vec![
        ("kind", kind),
        ("url", origin(&connection.url)),
        (
            "auth.authority",
            origin(auth.authority.as_deref().unwrap_or(MICROSOFT_AUTHORITY)),
        ),
        ("auth.token_url", or_empty(token_url(auth).as_deref())),
        (
            "auth.device_authorization_url",
            or_empty(device_authorization_url(auth).as_deref()),
        ),
        ("auth.tenant", or_empty(auth.tenant.as_deref())),
        ("auth.client_id", or_empty(auth.client_id.as_deref())),
        ("auth.scope", or_empty(auth.scope.as_deref())),
    ]
}

/// A URL's origin (scheme, host, port); the text itself when it is no URL, so it still binds.
fn origin(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(parsed) if parsed.origin().is_tuple() => parsed.origin().ascii_serialization(),
        _ => url.to_string(),
    }
}

/// What a secret stored for `connection` is bound to.
pub fn binding(connection: &ConnectionDef) -> Binding {
    Binding::of(&bound_settings(connection))
}

/// The bound settings that differ between `before` and `after`, by name: empty when a secret stored
/// for `before` still opens for `after`.
pub fn rebinding_changes(before: &ConnectionDef, after: &ConnectionDef) -> Vec<&'static str> {
    bound_settings(before)
        .into_iter()
        .zip(bound_settings(after))
        .filter(|(b, a)| b.1 != a.1)
        .map(|(b, _)| b.0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definitions::{AuthDef, AuthFlow, ConnectionKind};

    fn connection() -> ConnectionDef {
        ConnectionDef {
            name: "bc".into(),
            kind: ConnectionKind::BusinessCentral,
            url: "https://api.businesscentral.dynamics.com/v2.0/t/production/api/v2.0".into(),
            company: Some("CRONUS".into()),
            auth: AuthDef {
                flow: AuthFlow::ClientCredentials,
                authority: None,
                tenant: Some("t".into()),
                token_url: None,
                device_authorization_url: None,
                client_id: Some("ferry".into()),
                client_secret_env: None,
                scope: Some("https://api.businesscentral.dynamics.com/.default".into()),
            },
            timeout_secs: None,
            connect_timeout_secs: None,
            allow_http: false,
            budget: None,
        }
    }

    #[test]
    fn endpoints_and_identity_bind_the_rest_does_not() {
        let base = connection();
        let mut other_company = connection();
        other_company.company = Some("Other".into());
        other_company.url.push_str("/other/path");
        other_company.timeout_secs = Some(5);
        assert_eq!(binding(&base), binding(&other_company));
        assert!(rebinding_changes(&base, &other_company).is_empty());

        let mut moved = connection();
        moved.auth.token_url = Some("https://evil.example/token".into());
        assert_ne!(binding(&base), binding(&moved));
        assert_eq!(rebinding_changes(&base, &moved), ["auth.token_url"]);

        let mut authority = connection();
        authority.auth.authority = Some("https://evil.example".into());
        assert_eq!(
            rebinding_changes(&base, &authority),
            [
                "auth.authority",
                "auth.token_url",
                "auth.device_authorization_url"
            ]
        );
        for change in [
            |c: &mut ConnectionDef| c.url = "https://evil.example/api".into(),
            |c: &mut ConnectionDef| c.auth.tenant = Some("u".into()),
            |c: &mut ConnectionDef| c.auth.client_id = Some("x".into()),
            |c: &mut ConnectionDef| c.auth.scope = Some("y".into()),
            |c: &mut ConnectionDef| c.kind = ConnectionKind::Odata,
        ] {
            let mut changed = connection();
            change(&mut changed);
            assert_ne!(binding(&base), binding(&changed));
        }
    }
}
