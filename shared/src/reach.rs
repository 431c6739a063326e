//! What an error about an unreachable dependency (the database, the queue) says: where Ferry tried to
//! go, as host and port (never the URL's user-info, which may hold a password), and why, once.

use std::time::Duration;

use url::Url;

/// `host:port` of a service URL (`postgres://…`, `redis://…`), with the scheme's default port when the
/// URL names none; the file of a `sqlite:` URL. Never the user name or password.
pub fn address(url: &str) -> String {
    if let Some(file) = url.strip_prefix("sqlite:") {
        let file = file.trim_start_matches("//");
        return file.split('?').next().unwrap_or_default().to_string();
    }
    let Ok(parsed) = Url::parse(url) else {
        return "(a URL that does not parse)".to_string();
    };
    let host = parsed.host_str().unwrap_or("localhost");
    match parsed.port().or_else(|| default_port(parsed.scheme())) {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "postgres" | "postgresql" => Some(5432),
        "redis" | "rediss" => Some(6379),
        _ => None,
    }
}

/// Why a TCP connection to `address` fails, if it does: a pool that gave up waiting says only that it
/// timed out, not that nothing listens there.
pub async fn why_unreachable(address: &str) -> Option<String> {
    let attempt = tokio::net::TcpStream::connect(address);
    match tokio::time::timeout(Duration::from_secs(3), attempt).await {
        Ok(Ok(_)) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some("no answer within 3 s".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::address;

    #[test]
    fn the_address_names_host_and_port_and_never_the_password() {
        assert_eq!(
            address("postgres://ferry:s3cret@db.internal/ferry"),
            "db.internal:5432"
        );
        assert_eq!(address("redis://:pw@127.0.0.1:6999/0"), "127.0.0.1:6999");
        assert_eq!(
            address("sqlite:///var/lib/ferry/ferry.db?mode=rwc"),
            "/var/lib/ferry/ferry.db"
        );
        assert_eq!(address("sqlite://ferry.db"), "ferry.db");
        assert!(!address("postgres://u:s3cret@[::1").contains("s3cret"));
    }
}
