//! The TLS default for PostgreSQL. A URL without `sslmode` would connect with libpq's `prefer`: TLS
//! when the server offers it, with no certificate check, and plain text when it does not — so anyone
//! on the path can read the database password and every synced row. For a host that is not loopback
//! Ferry asks for `sslmode=verify-full` instead (encrypted, certificate and host name checked); the
//! operator opts out by writing `sslmode` into the URL. Loopback and Unix sockets stay as they are:
//! nothing travels over a network.

use std::net::IpAddr;
use std::path::Path;

/// What `database.url` becomes for connecting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secured {
    /// The URL to connect with.
    pub url: String,
    /// The host `sslmode=verify-full` was added for, when it was (for the error that says how to opt
    /// out); `None` when the URL is used as written.
    pub verified_host: Option<String>,
}

/// `url`, with `sslmode=verify-full` added when it is a PostgreSQL URL to a host that is not loopback
/// and neither the URL nor `PGSSLMODE` says how to use TLS. A CA file (`ca_file`, which is
/// `database.tls_ca_file`) is written into the URL as `sslrootcert`, so every session Ferry opens
/// (the pool's and the migration's) trusts it; a URL that names a CA this way and no mode gets
/// `verify-full` on any host, loopback too: a CA is given to be checked against.
pub fn secure(url: &str, ca_file: Option<&Path>) -> Secured {
    secure_with(url, ca_file, |name| std::env::var(name).ok())
}

fn secure_with(url: &str, ca_file: Option<&Path>, env: impl Fn(&str) -> Option<String>) -> Secured {
    let as_written = Secured {
        url: url.to_string(),
        verified_host: None,
    };
    let Some(mut parsed) = postgres_url(url) else {
        return as_written;
    };
    let params = query(&parsed);
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let mode_named =
        param("sslmode").is_some() || param("ssl-mode").is_some() || env("PGSSLMODE").is_some();
    let url_ca = root_cert(&params);
    if let (Some(ca), None) = (ca_file, &url_ca) {
        parsed
            .query_pairs_mut()
            .append_pair("sslrootcert", &ca.to_string_lossy());
    }
    if ca_file.is_some() || url_ca.is_some() {
        if !mode_named {
            parsed
                .query_pairs_mut()
                .append_pair("sslmode", "verify-full");
        }
        return Secured {
            url: parsed.to_string(),
            verified_host: None,
        };
    }
    if mode_named {
        return as_written;
    }
    // Where the connection really goes: `hostaddr` wins, then `host`, then the URL's host, then
    // PGHOST (sqlx's order); none at all is sqlx's local default.
    let url_host = parsed.host_str().filter(|h| !h.is_empty()).map(|h| {
        percent_encoding::percent_decode_str(h)
            .decode_utf8_lossy()
            .into_owned()
    });
    let host = param("host").or(url_host).or_else(|| env("PGHOST"));
    let target = param("hostaddr").or_else(|| host.clone());
    let Some(target) = target else {
        return as_written;
    };
    if is_local(&target) {
        return as_written;
    }
    parsed
        .query_pairs_mut()
        .append_pair("sslmode", "verify-full");
    Secured {
        url: parsed.to_string(),
        verified_host: host.or(Some(target)),
    }
}

/// `url` parsed, when it is a PostgreSQL URL.
fn postgres_url(url: &str) -> Option<url::Url> {
    url::Url::parse(url)
        .ok()
        .filter(|u| matches!(u.scheme(), "postgres" | "postgresql"))
}

fn query(url: &url::Url) -> Vec<(String, String)> {
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The CA file a URL names (`sslrootcert`, or sqlx's spellings of it).
fn root_cert(params: &[(String, String)]) -> Option<String> {
    params
        .iter()
        .find(|(k, _)| matches!(k.as_str(), "sslrootcert" | "ssl-root-cert" | "ssl-ca"))
        .map(|(_, v)| v.clone())
}

/// What a PostgreSQL connection checks the server's certificate against, for an error that says so:
/// the CA file `database.tls_ca_file` or the URL names, or the public roots.
pub fn trusted(url: &str, ca_file: Option<&Path>) -> String {
    let url_ca = postgres_url(url).and_then(|u| root_cert(&query(&u)));
    match (ca_file, url_ca) {
        (Some(ca), _) => format!("the CA in {} (database.tls_ca_file)", ca.display()),
        (None, Some(ca)) => format!("the CA in {ca} (sslrootcert in database.url)"),
        (None, None) => {
            "the public root CAs Ferry ships (a private CA needs database.tls_ca_file)".to_string()
        }
    }
}

/// Settings that contradict `database.tls_ca_file` (`ca_file`): one CA, given once, for a PostgreSQL
/// URL whose mode checks certificates.
pub fn problems(url: &str, ca_file: Option<&Path>) -> Vec<String> {
    if ca_file.is_none() {
        return Vec::new();
    }
    let Some(parsed) = postgres_url(url) else {
        return vec![
            "database.tls_ca_file is set, but database.url is not a PostgreSQL URL".into(),
        ];
    };
    let params = query(&parsed);
    let mut problems = Vec::new();
    if root_cert(&params).is_some() {
        problems.push(
            "database.tls_ca_file is set and database.url names a CA too (sslrootcert); keep one"
                .into(),
        );
    }
    let mode = params
        .iter()
        .find(|(k, _)| k == "sslmode" || k == "ssl-mode")
        .map(|(_, v)| v.to_ascii_lowercase());
    if let Some(mode) = mode.filter(|m| !matches!(m.as_str(), "verify-full" | "verify-ca")) {
        problems.push(format!(
            "database.tls_ca_file is set, but database.url's sslmode={mode} does not check the \
             server's certificate; write sslmode=verify-full (or leave sslmode out: Ferry then \
             uses verify-full)"
        ));
    }
    problems
}

/// Loopback (`localhost`, `*.localhost`, 127.0.0.0/8, `::1`) or a Unix socket directory.
fn is_local(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.starts_with('/') {
        return true;
    }
    let lower = host.to_ascii_lowercase();
    if lower == "localhost" || lower.ends_with(".localhost") {
        return true;
    }
    host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secured(url: &str) -> Secured {
        secure_with(url, None, |_| None)
    }

    #[test]
    fn a_remote_host_without_sslmode_gets_verify_full() {
        for url in [
            "postgres://ferry:pw@db.example.com:5432/ferry",
            "postgresql://ferry@10.0.0.5/ferry?application_name=ferry",
            "postgres://ferry@[2001:db8::5]/ferry",
            "postgres://ferry@localhost/ferry?host=db.internal",
        ] {
            let s = secured(url);
            assert!(s.url.ends_with("sslmode=verify-full"), "{url} → {}", s.url);
            assert!(s.verified_host.is_some(), "{url}");
            assert!(s.url.starts_with(&url[..10]));
        }
        let s = secured("postgres://ferry:pw@db.example.com/ferry");
        assert_eq!(s.verified_host.as_deref(), Some("db.example.com"));
        let connect: sea_orm::sqlx::postgres::PgConnectOptions = s.url.parse().unwrap();
        assert!(
            matches!(
                connect.get_ssl_mode(),
                sea_orm::sqlx::postgres::PgSslMode::VerifyFull
            ),
            "sqlx reads the mode Ferry added"
        );
    }

    #[test]
    fn loopback_sockets_an_explicit_mode_and_other_engines_stay_as_written() {
        for url in [
            "postgres://ferry@127.0.0.1:5432/ferry",
            "postgres://ferry@localhost/ferry",
            "postgres://ferry@[::1]/ferry",
            "postgres:///ferry",
            "postgres://ferry@%2Fvar%2Frun%2Fpostgresql/ferry",
            "postgres://ferry@/ferry?host=/var/run/postgresql",
            "postgres://ferry@db.example.com/ferry?sslmode=disable",
            "postgres://ferry@db.example.com/ferry?sslmode=require",
            "postgres://ferry@db.example.com/ferry?hostaddr=127.0.0.1",
            "sqlite:ferry.db",
        ] {
            assert_eq!(secured(url).url, url);
            assert_eq!(secured(url).verified_host, None, "{url}");
        }
        let by_env = secure_with("postgres://ferry@db.example.com/ferry", None, |name| {
            (name == "PGSSLMODE").then(|| "require".to_string())
        });
        assert_eq!(by_env.verified_host, None, "PGSSLMODE is a choice too");
    }

    #[test]
    fn a_ca_file_goes_into_the_url_and_asks_for_verify_full_on_any_host() {
        let ca = Path::new("/etc/ferry/db ca.pem");
        for url in [
            "postgres://ferry:pw@127.0.0.1:5432/ferry",
            "postgres://ferry:pw@db.example.com/ferry",
        ] {
            let s = secure_with(url, Some(ca), |_| None);
            assert_eq!(s.verified_host, None, "the CA's error, not the default's");
            let connect: sea_orm::sqlx::postgres::PgConnectOptions = s.url.parse().unwrap();
            assert!(matches!(
                connect.get_ssl_mode(),
                sea_orm::sqlx::postgres::PgSslMode::VerifyFull
            ));
            assert!(
                s.url.contains("sslrootcert=%2Fetc%2Fferry%2Fdb+ca.pem"),
                "{}",
                s.url
            );
        }
        let named = secure_with(
            "postgres://ferry@127.0.0.1/ferry?sslrootcert=/ca.pem",
            None,
            |_| None,
        );
        assert!(named.url.ends_with("sslmode=verify-full"), "{}", named.url);
        let verify_ca = secure_with(
            "postgres://ferry@127.0.0.1/ferry?sslmode=verify-ca",
            Some(ca),
            |_| None,
        );
        assert!(
            verify_ca
                .url
                .ends_with("sslmode=verify-ca&sslrootcert=%2Fetc%2Fferry%2Fdb+ca.pem"),
            "{}",
            verify_ca.url
        );
    }

    #[test]
    fn a_ca_file_with_a_mode_that_checks_nothing_or_a_second_ca_is_refused() {
        let ca = Some(Path::new("/ca.pem"));
        assert!(problems("postgres://h/db?sslmode=verify-full", ca).is_empty());
        assert!(problems("postgres://h/db", ca).is_empty());
        assert!(problems("postgres://h/db?sslmode=require", None).is_empty());
        let require = problems("postgres://h/db?sslmode=require", ca).join("; ");
        assert!(require.contains("sslmode=require"), "{require}");
        let twice = problems("postgres://h/db?sslrootcert=/other.pem", ca).join("; ");
        assert!(twice.contains("keep one"), "{twice}");
        assert_eq!(problems("sqlite:ferry.db", ca).len(), 1);
    }
}
