//! A test's own certificate authority, made with the `openssl` command line (included with `#[path]`
//! by the test binaries that need it). The CLI rather than a certificate crate: the tests already
//! start outside programs (redis-server, initdb), it adds nothing to the build, and what it makes is
//! what an operator would make for a private CA. The files live in a temp dir removed on drop.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A CA, a server certificate it signed for `localhost` and `127.0.0.1`, and a second CA that signed
/// nothing here (the "wrong CA").
#[derive(Debug)]
pub struct Certificates {
    dir: PathBuf,
    /// The CA certificate (PEM) that signed `server_cert`.
    pub ca: PathBuf,
    /// Another CA's certificate (PEM): trusting it alone, the server's certificate must fail.
    pub other_ca: PathBuf,
    /// The server's certificate (PEM), for `DNS:localhost` and `IP:127.0.0.1`.
    pub server_cert: PathBuf,
    /// The server's private key (PEM, unencrypted).
    pub server_key: PathBuf,
}

impl Certificates {
    /// Makes the CAs and the server certificate (P-256 keys, valid for two days).
    pub fn make() -> Certificates {
        let dir = std::env::temp_dir().join(format!(
            "ferry-certs-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let certificates = Certificates {
            ca: dir.join("ca.pem"),
            other_ca: dir.join("other-ca.pem"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server.key"),
            dir,
        };
        let ca_key = certificates.dir.join("ca.key");
        certificates.make_ca("Ferry test CA", &ca_key, &certificates.ca);
        let other_key = certificates.dir.join("other-ca.key");
        certificates.make_ca("Ferry other CA", &other_key, &certificates.other_ca);
        let request = certificates.dir.join("server.csr");
        openssl(&[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            path(&certificates.server_key),
            "-out",
            path(&request),
        ]);
        let extensions = certificates.dir.join("server.ext");
        std::fs::write(
            &extensions,
            "subjectAltName = DNS:localhost, IP:127.0.0.1\n\
             basicConstraints = critical, CA:FALSE\n\
             keyUsage = critical, digitalSignature\n\
             extendedKeyUsage = serverAuth\n",
        )
        .unwrap();
        let serial = format!("0x{}", uuid::Uuid::new_v4().simple());
        openssl(&[
            "x509",
            "-req",
            "-in",
            path(&request),
            "-CA",
            path(&certificates.ca),
            "-CAkey",
            path(&ca_key),
            "-set_serial",
            &serial,
            "-days",
            "2",
            "-extfile",
            path(&extensions),
            "-out",
            path(&certificates.server_cert),
        ]);
        certificates
    }

    /// A self-signed CA certificate named `name`, its key in `key`.
    fn make_ca(&self, name: &str, key: &Path, cert: &Path) {
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN={name}"),
            "-addext",
            "basicConstraints = critical, CA:TRUE",
            "-addext",
            "keyUsage = critical, keyCertSign, cRLSign",
            "-keyout",
            path(key),
            "-out",
            path(cert),
        ]);
    }
}

impl Drop for Certificates {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs `openssl` with `args` to completion; its output is shown when it fails.
fn openssl(args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .output()
        .expect("the openssl command line is installed");
    assert!(
        output.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn path(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}
