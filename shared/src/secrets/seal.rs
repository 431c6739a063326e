//! Sealing one value: `v2.<key id>.<binding>.<base64(nonce ‖ ciphertext ‖ tag)>`. A fresh 96-bit random
//! nonce per value; the associated data binds the ciphertext to its row (connection and purpose), so a
//! sealed value copied into another row fails to open instead of signing in somewhere else, and to the
//! connection's endpoints ([`Binding`]), so a secret is never opened for endpoints it was not stored
//! for. The binding is also written out in the value, only so a mismatch can be told from damage.
//!
//! Values of format `v1` (before secrets were bound) are not opened at all: nothing proves which
//! endpoints they were meant for, so the owner signs in again (README, "Secrets").

use aes_gcm::aead::{Aead, AeadCore, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};

use super::SecretsError;
use super::binding::Binding;
use super::keyring::{Keyring, MasterKey};

const VERSION: &str = "v2";
/// Sealed before secrets were bound to their connection's endpoints; refused.
const UNBOUND_VERSION: &str = "v1";
const NONCE_LEN: usize = 12;

/// What one sealed value belongs to: its row (connection and purpose) and its connection's endpoints.
#[derive(Debug, Clone, Copy)]
pub struct Label<'a> {
    pub connection: &'a str,
    /// `client_secret`, `refresh_token` or `access_token`.
    pub what: &'a str,
    pub binding: &'a Binding,
}

impl Label<'_> {
    fn aad(&self) -> String {
        format!(
            "ferry:{}:{}:{}",
            self.connection,
            self.what,
            self.binding.hex()
        )
    }

    /// The command that stores this value again.
    fn again(&self) -> String {
        match self.what {
            "client_secret" => format!("ferry connection set-secret {}", self.connection),
            _ => format!("ferry auth login {}", self.connection),
        }
    }

    fn what(&self) -> &'static str {
        match self.what {
            "client_secret" => "client secret",
            _ => "sign-in",
        }
    }
}

/// Encrypts `secret` under `key`, bound to `label`.
pub fn seal(key: &MasterKey, label: Label<'_>, secret: &SecretString) -> String {
    let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
    let aad = label.aad();
    let sealed = key
        .cipher()
        .encrypt(
            &nonce,
            Payload {
                msg: secret.expose_secret().as_bytes(),
                aad: aad.as_bytes(),
            },
        )
        .expect("AES-GCM encryption of an in-memory buffer cannot fail");
    let mut bytes = nonce.to_vec();
    bytes.extend_from_slice(&sealed);
    format!(
        "{VERSION}.{}.{}.{}",
        key.id(),
        label.binding.hex(),
        URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// The binding a sealed value states, `None` for an unbound (`v1`) or malformed one. Only
/// [`open`] proves it: `ferry keys rotate` opens with it, so a rotation keeps each value's binding.
pub fn stated_binding(sealed: &str) -> Option<Binding> {
    let mut parts = sealed.splitn(4, '.');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(VERSION), Some(_), Some(binding)) => Binding::from_hex(binding),
        _ => None,
    }
}

/// Decrypts a value sealed by [`seal`] with the same `label`, using whichever key it names. A value
/// sealed for other endpoints, or before values were bound, is refused before any decryption.
pub fn open(
    keyring: &Keyring,
    label: Label<'_>,
    sealed: &str,
) -> Result<SecretString, SecretsError> {
    let sign_in_again = |unbound: bool| SecretsError::SignInAgain {
        connection: label.connection.to_string(),
        what: label.what(),
        again: label.again(),
        unbound,
    };
    if sealed.starts_with(&format!("{UNBOUND_VERSION}.")) {
        return Err(sign_in_again(true));
    }
    let mut parts = sealed.splitn(4, '.');
    let (Some(VERSION), Some(id), Some(binding), Some(body)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(SecretsError::Malformed);
    };
    if binding != label.binding.hex() {
        return Err(sign_in_again(false));
    }
    let key = keyring.get(id).ok_or_else(|| SecretsError::UnknownKey {
        key_id: id.to_string(),
    })?;
    let bytes = URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|_| SecretsError::Malformed)?;
    if bytes.len() < NONCE_LEN {
        return Err(SecretsError::Malformed);
    }
    let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| SecretsError::Malformed)?;
    let aad = label.aad();
    let plain = key
        .cipher()
        .decrypt(
            &Nonce::from(nonce),
            Payload {
                msg: ciphertext,
                aad: aad.as_bytes(),
            },
        )
        .map_err(|_| SecretsError::Tampered)?;
    let text = String::from_utf8(plain).map_err(|_| SecretsError::Malformed)?;
    Ok(SecretString::from(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> MasterKey {
        MasterKey::from_bytes([byte; 32])
    }

    fn binding(endpoint: &str) -> Binding {
        Binding::of(&[("token endpoint", endpoint.to_string())])
    }

    fn label<'a>(connection: &'a str, what: &'a str, binding: &'a Binding) -> Label<'a> {
        Label {
            connection,
            what,
            binding,
        }
    }

    #[test]
    fn round_trips_and_names_its_key() {
        let ring = Keyring::new(key(1), vec![]);
        let b = binding("https://idp/token");
        let secret = SecretString::from("refresh-token-value");
        let sealed = seal(ring.current(), label("bc", "refresh_token", &b), &secret);
        assert!(!sealed.contains("refresh-token-value"));
        assert_eq!(sealed.split('.').nth(1), Some(ring.current().id()));
        assert_eq!(stated_binding(&sealed), Some(b));
        let opened = open(&ring, label("bc", "refresh_token", &b), &sealed).unwrap();
        assert_eq!(opened.expose_secret(), "refresh-token-value");
    }

    #[test]
    fn nonces_differ_so_equal_secrets_do_not_look_equal() {
        let k = key(1);
        let b = binding("t");
        let secret = SecretString::from("same");
        assert_ne!(
            seal(&k, label("c", "client_secret", &b), &secret),
            seal(&k, label("c", "client_secret", &b), &secret)
        );
    }

    #[test]
    fn wrong_context_or_flipped_bit_is_rejected() {
        let ring = Keyring::new(key(1), vec![]);
        let b = binding("t");
        let sealed = seal(
            ring.current(),
            label("bc", "client_secret", &b),
            &SecretString::from("s"),
        );
        assert!(matches!(
            open(&ring, label("other", "client_secret", &b), &sealed),
            Err(SecretsError::Tampered)
        ));
        let mut bytes = sealed.into_bytes();
        let last = bytes.len() - 2;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(bytes).unwrap();
        assert!(matches!(
            open(&ring, label("bc", "client_secret", &b), &flipped),
            Err(SecretsError::Tampered | SecretsError::Malformed)
        ));
    }

    #[test]
    fn other_endpoints_are_refused_and_a_rewritten_binding_does_not_open() {
        let ring = Keyring::new(key(1), vec![]);
        let stored_for = binding("https://login.microsoftonline.com/t/oauth2/v2.0/token");
        let changed = binding("https://evil.example/token");
        let sealed = seal(
            ring.current(),
            label("bc", "client_secret", &stored_for),
            &SecretString::from("s"),
        );
        let err = open(&ring, label("bc", "client_secret", &changed), &sealed).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("sign in again"), "{message}");
        assert!(
            message.contains("ferry connection set-secret bc"),
            "{message}"
        );
        // Someone who also rewrites the stated binding gets past the comparison, not the tag.
        let rewritten = sealed.replace(&stored_for.hex(), &changed.hex());
        assert!(matches!(
            open(&ring, label("bc", "client_secret", &changed), &rewritten),
            Err(SecretsError::Tampered)
        ));
    }

    #[test]
    fn unbound_values_of_format_v1_are_refused_with_sign_in_again() {
        let ring = Keyring::new(key(1), vec![]);
        let b = binding("t");
        let legacy = format!("v1.{}.AAAA", ring.current().id());
        let err = open(&ring, label("bc", "refresh_token", &b), &legacy).unwrap_err();
        assert!(
            matches!(err, SecretsError::SignInAgain { unbound: true, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("ferry auth login bc"), "{err}");
        assert_eq!(stated_binding(&legacy), None);
    }

    #[test]
    fn previous_keys_open_and_unknown_keys_are_named() {
        let old = key(1);
        let b = binding("t");
        let sealed = seal(
            &old,
            label("c", "client_secret", &b),
            &SecretString::from("s"),
        );
        let rotated = Keyring::new(key(2), vec![key(1)]);
        assert_eq!(
            open(&rotated, label("c", "client_secret", &b), &sealed)
                .unwrap()
                .expose_secret(),
            "s"
        );
        let without_old = Keyring::new(key(2), vec![]);
        let err = open(&without_old, label("c", "client_secret", &b), &sealed).unwrap_err();
        assert!(err.to_string().contains(old.id()), "{err}");
    }

    #[test]
    fn keys_must_be_32_bytes_of_base64_and_debug_hides_them() {
        assert!(MasterKey::from_base64("not base64!", "test").is_err());
        let short = base64::engine::general_purpose::STANDARD.encode([0u8; 16]);
        let err = MasterKey::from_base64(&short, "FERRY_MASTER_KEY").unwrap_err();
        assert!(err.to_string().contains("32 bytes"), "{err}");
        let generated = super::super::generate_key();
        let k = MasterKey::from_base64(generated.expose_secret(), "test").unwrap();
        let debug = format!("{k:?}");
        assert!(!debug.contains(generated.expose_secret()), "{debug}");
        assert!(debug.contains(k.id()));
    }

    #[test]
    fn missing_key_says_how_to_make_one() {
        let err = SecretsError::NoKey.to_string();
        assert!(err.contains("openssl rand -base64 32"), "{err}");
    }
}
