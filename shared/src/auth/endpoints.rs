//! Where a connection signs in: Microsoft's layout (`{authority}/{tenant}/oauth2/v2.0/…`) unless the
//! definition names the endpoints itself, so any RFC 6749 / RFC 8628 provider works.

use crate::definitions::AuthDef;

/// Microsoft's identity platform, the default authority.
pub const MICROSOFT_AUTHORITY: &str = "https://login.microsoftonline.com";

fn microsoft(auth: &AuthDef, endpoint: &str) -> Option<String> {
    let tenant = auth.tenant.as_deref()?;
    let authority = auth.authority.as_deref().unwrap_or(MICROSOFT_AUTHORITY);
    Some(format!(
        "{}/{tenant}/oauth2/v2.0/{endpoint}",
        authority.trim_end_matches('/')
    ))
}

/// The token endpoint: `token_url` when set, else Microsoft's layout under the authority.
pub fn token_url(auth: &AuthDef) -> Option<String> {
    auth.token_url.clone().or_else(|| microsoft(auth, "token"))
}

/// The device authorization endpoint: `device_authorization_url` when set, else Microsoft's layout.
pub fn device_authorization_url(auth: &AuthDef) -> Option<String> {
    auth.device_authorization_url
        .clone()
        .or_else(|| microsoft(auth, "devicecode"))
}

/// The scope to ask for. Microsoft issues a refresh token only for `offline_access`, so it is added
/// for device-code sign-in on Microsoft's layout; other providers get exactly what the definition says.
pub fn device_scope(auth: &AuthDef) -> Option<String> {
    let scope = auth.scope.clone()?;
    let microsoft_layout = auth.device_authorization_url.is_none();
    if microsoft_layout && !scope.split_whitespace().any(|s| s == "offline_access") {
        return Some(format!("{scope} offline_access"));
    }
    Some(scope)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definitions::AuthFlow;

    fn auth() -> AuthDef {
        AuthDef {
            flow: AuthFlow::DeviceCode,
            authority: Some("http://127.0.0.1:9/".into()),
            tenant: Some("t1".into()),
            token_url: None,
            device_authorization_url: None,
            client_id: Some("c".into()),
            client_secret_env: None,
            scope: Some("api://x/.default".into()),
        }
    }

    #[test]
    fn microsoft_layout_by_default() {
        let a = auth();
        assert_eq!(
            token_url(&a).unwrap(),
            "http://127.0.0.1:9/t1/oauth2/v2.0/token"
        );
        assert_eq!(
            device_authorization_url(&a).unwrap(),
            "http://127.0.0.1:9/t1/oauth2/v2.0/devicecode"
        );
        assert_eq!(device_scope(&a).unwrap(), "api://x/.default offline_access");
        let mut default_authority = auth();
        default_authority.authority = None;
        assert!(
            token_url(&default_authority)
                .unwrap()
                .starts_with("https://login.microsoftonline.com/t1/")
        );
    }

    #[test]
    fn explicit_endpoints_win_and_scope_is_kept() {
        let mut a = auth();
        a.token_url = Some("https://idp.example/token".into());
        a.device_authorization_url = Some("https://idp.example/device".into());
        assert_eq!(token_url(&a).unwrap(), "https://idp.example/token");
        assert_eq!(
            device_authorization_url(&a).unwrap(),
            "https://idp.example/device"
        );
        assert_eq!(device_scope(&a).unwrap(), "api://x/.default");
    }
}
