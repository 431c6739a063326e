//! Who signed in, for `ferry auth status`. Read from the ID token's claims (or, failing that, from a
//! JWT access token). Display only: nothing trusts these claims for a decision, so they are not
//! verified.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

/// `preferred_username`, `upn`, `email`, `unique_name` or `sub`, the first present.
pub fn account(tokens: &[Option<&SecretString>]) -> Option<String> {
    tokens.iter().flatten().find_map(|t| from_jwt(t))
}

fn from_jwt(token: &SecretString) -> Option<String> {
    let payload = token.expose_secret().split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    ["preferred_username", "upn", "email", "unique_name", "sub"]
        .iter()
        .find_map(|k| claims.get(*k).and_then(Value::as_str))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_preferred_username_and_ignores_opaque_tokens() {
        let claims =
            URL_SAFE_NO_PAD.encode(r#"{"preferred_username":"ada@contoso.com","sub":"x"}"#);
        let jwt = SecretString::from(format!("e30.{claims}.sig"));
        let opaque = SecretString::from("opaque-token");
        assert_eq!(
            account(&[Some(&opaque), Some(&jwt)]).as_deref(),
            Some("ada@contoso.com")
        );
        assert_eq!(account(&[Some(&opaque), None]), None);
    }
}
