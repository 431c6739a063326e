//! Master keys: where they come from and how they are named. A key's id is derived from the key
//! itself (a truncated SHA-256), so nothing has to keep ids and keys in step by hand.

use std::path::Path;

use aes_gcm::aead::OsRng;
use aes_gcm::{Aes256Gcm, KeyInit};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use sha2::{Digest, Sha256};

use super::SecretsError;
use crate::settings::SecretsSettings;

/// The environment variable holding the current key (base64 of 32 bytes).
pub const MASTER_KEY_ENV: &str = "FERRY_MASTER_KEY";
/// Older keys, comma-separated, still accepted for decryption during a rotation.
pub const PREVIOUS_KEYS_ENV: &str = "FERRY_PREVIOUS_MASTER_KEYS";

/// One AES-256 key. Its bytes live in a `SecretBox` (zeroed on drop, redacted in `Debug`).
pub struct MasterKey {
    id: String,
    bytes: SecretBox<[u8; 32]>,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl MasterKey {
    /// Decodes a base64 key; `source_name` says where it came from, for the error message.
    pub fn from_base64(text: &str, source_name: &str) -> Result<MasterKey, SecretsError> {
        let bad = |reason| SecretsError::BadKey {
            source_name: source_name.to_string(),
            reason,
        };
        let decoded = STANDARD
            .decode(text.trim())
            .map_err(|_| bad("not base64"))?;
        let bytes: [u8; 32] = decoded
            .as_slice()
            .try_into()
            .map_err(|_| bad("must decode to exactly 32 bytes"))?;
        Ok(MasterKey::from_bytes(bytes))
    }

    pub fn from_bytes(bytes: [u8; 32]) -> MasterKey {
        let digest = Sha256::new()
            .chain_update(b"ferry master key id\0")
            .chain_update(bytes)
            .finalize();
        let id = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
        MasterKey {
            id,
            bytes: SecretBox::new(Box::new(bytes)),
        }
    }

    /// A short, non-secret name for this key, recorded beside everything it seals.
    pub fn id(&self) -> &str {
        &self.id
    }

    pub(super) fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(self.bytes.expose_secret().into())
    }
}

/// A fresh random key in base64, for `ferry keys generate`.
pub fn generate_key() -> SecretString {
    let key = Aes256Gcm::generate_key(OsRng);
    SecretString::from(STANDARD.encode(key))
}

/// The current key (seals everything new) and older keys (only open what they sealed).
#[derive(Debug)]
pub struct Keyring {
    current: MasterKey,
    previous: Vec<MasterKey>,
}

impl Keyring {
    pub fn new(current: MasterKey, previous: Vec<MasterKey>) -> Keyring {
        Keyring { current, previous }
    }

    /// Settings first (`secrets.master_key`, then `secrets.key_file`), then the environment.
    /// Fails with instructions when no key is configured anywhere.
    pub fn load(settings: &SecretsSettings) -> Result<Keyring, SecretsError> {
        let mut current = None;
        let mut previous = Vec::new();
        if let Some(key) = &settings.master_key {
            current = Some(MasterKey::from_base64(
                key.expose_secret(),
                "secrets.master_key",
            )?);
        }
        if let Some(path) = &settings.key_file {
            let mut keys = read_key_file(path)?;
            if current.is_none() && !keys.is_empty() {
                current = Some(keys.remove(0));
            }
            previous.extend(keys);
        }
        if current.is_none()
            && let Ok(text) = std::env::var(MASTER_KEY_ENV)
        {
            current = Some(MasterKey::from_base64(&text, MASTER_KEY_ENV)?);
        }
        for key in &settings.previous_keys {
            previous.push(MasterKey::from_base64(
                key.expose_secret(),
                "secrets.previous_keys",
            )?);
        }
        if let Ok(text) = std::env::var(PREVIOUS_KEYS_ENV) {
            for part in text
                .split([',', ' ', '\n'])
                .filter(|p| !p.trim().is_empty())
            {
                previous.push(MasterKey::from_base64(part, PREVIOUS_KEYS_ENV)?);
            }
        }
        let current = current.ok_or(SecretsError::NoKey)?;
        previous.retain(|k| k.id != current.id);
        Ok(Keyring { current, previous })
    }

    pub fn current(&self) -> &MasterKey {
        &self.current
    }

    /// The key with this id, current or previous.
    pub fn get(&self, id: &str) -> Option<&MasterKey> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id == id)
    }
}

fn read_key_file(path: &Path) -> Result<Vec<MasterKey>, SecretsError> {
    let text = std::fs::read_to_string(path).map_err(|e| SecretsError::KeyFile {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    let name = path.display().to_string();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|line| MasterKey::from_base64(line, &name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_file_holds_the_current_key_then_older_ones() {
        let current = generate_key();
        let older = generate_key();
        let dir = std::env::temp_dir().join(format!("ferry-keyring-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("master.key");
        std::fs::write(
            &file,
            format!(
                "# current first\n{}\n\n{}\n",
                current.expose_secret(),
                older.expose_secret()
            ),
        )
        .unwrap();
        let settings = SecretsSettings {
            key_file: Some(file.clone()),
            ..SecretsSettings::default()
        };
        let ring = Keyring::load(&settings).unwrap();
        let expected = MasterKey::from_base64(current.expose_secret(), "t").unwrap();
        let old = MasterKey::from_base64(older.expose_secret(), "t").unwrap();
        assert_eq!(ring.current().id(), expected.id());
        assert!(ring.get(old.id()).is_some());
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn a_bad_key_names_where_it_came_from_but_not_its_value() {
        let settings = SecretsSettings {
            master_key: Some("c2hvcnQ=".into()),
            ..SecretsSettings::default()
        };
        let err = Keyring::load(&settings).unwrap_err().to_string();
        assert!(err.contains("secrets.master_key"), "{err}");
        assert!(!err.contains("c2hvcnQ="), "{err}");
    }
}
