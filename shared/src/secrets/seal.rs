//! Sealing one value: `v1.<key id>.<base64(nonce ‖ ciphertext ‖ tag)>`. A fresh 96-bit random nonce
//! per value; the associated data binds the ciphertext to its row (connection and purpose), so a sealed
//! value copied into another row fails to open instead of signing in somewhere else.

use aes_gcm::aead::{Aead, AeadCore, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};

use super::SecretsError;
use super::keyring::{Keyring, MasterKey};

const VERSION: &str = "v1";
const NONCE_LEN: usize = 12;

/// Encrypts `secret` under `key`, bound to `context`.
pub fn seal(key: &MasterKey, context: &str, secret: &SecretString) -> String {
    let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
    let sealed = key
        .cipher()
        .encrypt(
            &nonce,
            Payload {
                msg: secret.expose_secret().as_bytes(),
                aad: context.as_bytes(),
            },
        )
        .expect("AES-GCM encryption of an in-memory buffer cannot fail");
    let mut bytes = nonce.to_vec();
    bytes.extend_from_slice(&sealed);
    format!("{VERSION}.{}.{}", key.id(), URL_SAFE_NO_PAD.encode(bytes))
}

/// Decrypts a value sealed by [`seal`] with the same `context`, using whichever key it names.
pub fn open(keyring: &Keyring, context: &str, sealed: &str) -> Result<SecretString, SecretsError> {
    let mut parts = sealed.splitn(3, '.');
    let (Some(VERSION), Some(id), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(SecretsError::Malformed);
    };
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
    let plain = key
        .cipher()
        .decrypt(
            &Nonce::from(nonce),
            Payload {
                msg: ciphertext,
                aad: context.as_bytes(),
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

    #[test]
    fn round_trips_and_names_its_key() {
        let ring = Keyring::new(key(1), vec![]);
        let secret = SecretString::from("refresh-token-value");
        let sealed = seal(ring.current(), "bc:refresh_token", &secret);
        assert!(!sealed.contains("refresh-token-value"));
        assert_eq!(sealed.split('.').nth(1), Some(ring.current().id()));
        let opened = open(&ring, "bc:refresh_token", &sealed).unwrap();
        assert_eq!(opened.expose_secret(), "refresh-token-value");
    }

    #[test]
    fn nonces_differ_so_equal_secrets_do_not_look_equal() {
        let k = key(1);
        let secret = SecretString::from("same");
        assert_ne!(seal(&k, "c", &secret), seal(&k, "c", &secret));
    }

    #[test]
    fn wrong_context_or_flipped_bit_is_rejected() {
        let ring = Keyring::new(key(1), vec![]);
        let sealed = seal(ring.current(), "bc:client_secret", &SecretString::from("s"));
        assert!(matches!(
            open(&ring, "other:client_secret", &sealed),
            Err(SecretsError::Tampered)
        ));
        let mut bytes = sealed.into_bytes();
        let last = bytes.len() - 2;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(bytes).unwrap();
        assert!(matches!(
            open(&ring, "bc:client_secret", &flipped),
            Err(SecretsError::Tampered | SecretsError::Malformed)
        ));
    }

    #[test]
    fn previous_keys_open_and_unknown_keys_are_named() {
        let old = key(1);
        let sealed = seal(&old, "c", &SecretString::from("s"));
        let rotated = Keyring::new(key(2), vec![key(1)]);
        assert_eq!(open(&rotated, "c", &sealed).unwrap().expose_secret(), "s");
        let without_old = Keyring::new(key(2), vec![]);
        let err = open(&without_old, "c", &sealed).unwrap_err();
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
