//! A private CA the operator names for a managed Redis or PostgreSQL (`queue.tls_ca_file`,
//! `database.tls_ca_file`). It is read and checked before connecting, so a wrong path, or a key given
//! where the certificate belongs, is named with its setting instead of surfacing as a TLS failure.
//! A CA certificate is public: its path and contents may be shown; nothing here touches a secret.

use std::path::{Path, PathBuf};

/// The first line of a PEM certificate.
const PEM_CERTIFICATE: &str = "-----BEGIN CERTIFICATE-----";

/// Why a CA file cannot be used. Names the setting and the path, and what to fix.
#[derive(Debug, thiserror::Error)]
pub enum CaFileError {
    #[error("cannot read {setting} = {}: {cause}", path.display())]
    Unreadable {
        setting: &'static str,
        path: PathBuf,
        cause: String,
    },
    #[error(
        "{setting} = {} holds no PEM certificate (a line `{PEM_CERTIFICATE}`); name the CA \
         certificate that signed the server's certificate, not a key or a DER file",
        path.display()
    )]
    NotPem {
        setting: &'static str,
        path: PathBuf,
    },
}

/// The PEM text of the CA file `path`, which `setting` names, once it is known to hold a certificate.
pub fn read(path: &Path, setting: &'static str) -> Result<Vec<u8>, CaFileError> {
    let pem = std::fs::read(path).map_err(|e| CaFileError::Unreadable {
        setting,
        path: path.to_path_buf(),
        cause: e.to_string(),
    })?;
    if !String::from_utf8_lossy(&pem).contains(PEM_CERTIFICATE) {
        return Err(CaFileError::NotPem {
            setting,
            path: path.to_path_buf(),
        });
    }
    Ok(pem)
}

/// Whether an error's text says a TLS certificate check failed (rustls: "invalid peer certificate:
/// UnknownIssuer", "… NotValidForName"), as opposed to a refused connection or a wrong password.
pub fn is_certificate_failure(text: &str) -> bool {
    text.to_ascii_lowercase().contains("certificate")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_or_one_without_a_certificate_names_the_setting() {
        let dir = std::env::temp_dir().join(format!("ferry-ca-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = read(&dir.join("nope.pem"), "queue.tls_ca_file")
            .unwrap_err()
            .to_string();
        assert!(
            missing.contains("queue.tls_ca_file") && missing.contains("nope.pem"),
            "{missing}"
        );
        let key = dir.join("key.pem");
        std::fs::write(&key, "-----BEGIN PRIVATE KEY-----\nabc\n").unwrap();
        let not_pem = read(&key, "database.tls_ca_file").unwrap_err().to_string();
        assert!(
            not_pem.contains("database.tls_ca_file") && not_pem.contains("no PEM certificate"),
            "{not_pem}"
        );
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, format!("{PEM_CERTIFICATE}\nabc\n")).unwrap();
        assert!(read(&ca, "queue.tls_ca_file").is_ok());
        std::fs::remove_dir_all(&dir).ok();
    }
}
