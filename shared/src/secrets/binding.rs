//! What a sealed secret is bound to besides its row: a digest of the connection settings that decide
//! where the secret, and the tokens it buys, are sent (`auth::binding` lists them). The digest goes
//! into the AES-GCM associated data, so a secret opens only for the endpoints it was stored for:
//! whoever changes a connection's token endpoint in the database gets a refusal, not the secret.

use sha2::{Digest, Sha256};

/// The digest of a connection's security-relevant settings. Not secret: it says nothing that the
/// stored definition does not, and it is kept in the sealed value so a mismatch can be named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding([u8; 32]);

impl Binding {
    /// The binding of `settings`, each a name and its value; names and values are length-prefixed so
    /// no two different lists share a digest.
    pub fn of(settings: &[(&str, String)]) -> Binding {
        let mut hash = Sha256::new();
        for (name, value) in settings {
            for part in [name.as_bytes(), value.as_bytes()] {
                hash.update((part.len() as u64).to_be_bytes());
                hash.update(part);
            }
        }
        Binding(hash.finalize().into())
    }

    /// Lower-case hex, as it appears in a sealed value.
    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Reads [`Binding::hex`] back; `None` for anything else.
    pub fn from_hex(text: &str) -> Option<Binding> {
        if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(Binding(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_value_or_a_shifted_boundary_changes_the_binding() {
        let a = Binding::of(&[("token", "https://idp/t".into()), ("scope", "s".into())]);
        let b = Binding::of(&[("token", "https://evil/t".into()), ("scope", "s".into())]);
        let shifted = Binding::of(&[("token", "https://idp/ts".into()), ("scope", "".into())]);
        assert_ne!(a, b);
        assert_ne!(a, shifted);
        assert_eq!(Binding::from_hex(&a.hex()), Some(a));
        assert_eq!(Binding::from_hex("zz"), None);
    }
}
