//! The TLS default for PostgreSQL. A URL without `sslmode` would connect with libpq's `prefer`: TLS
//! when the server offers it, with no certificate check, and plain text when it does not — so anyone
//! on the path can read the database password and every synced row. For a host that is not loopback
//! Ferry asks for `sslmode=verify-full` instead (encrypted, certificate and host name checked); the
//! operator opts out by writing `sslmode` into the URL. Loopback and Unix sockets stay as they are:
//! nothing travels over a network.

use std::net::IpAddr;

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
/// and neither the URL nor `PGSSLMODE` says how to use TLS.
pub fn secure(url: &str) -> Secured {
    secure_with(url, |name| std::env::var(name).ok())
}

fn secure_with(url: &str, env: impl Fn(&str) -> Option<String>) -> Secured {
    let as_written = Secured {
        url: url.to_string(),
        verified_host: None,
    };
    let Ok(mut parsed) = url::Url::parse(url) else {
        return as_written;
    };
    if !matches!(parsed.scheme(), "postgres" | "postgresql") {
        return as_written;
    }
    let params: Vec<(String, String)> = parsed
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    if param("sslmode").is_some() || param("ssl-mode").is_some() || env("PGSSLMODE").is_some() {
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
        secure_with(url, |_| None)
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
        let by_env = secure_with("postgres://ferry@db.example.com/ferry", |name| {
            (name == "PGSSLMODE").then(|| "require".to_string())
        });
        assert_eq!(by_env.verified_host, None, "PGSSLMODE is a choice too");
    }
}
