//! The one way Ferry opens Redis. apalis' storage, the wake-up subscription and `clear` all connect
//! through `client`, so `rediss://` (TLS), `queue.tls_ca_file` and `queue.password` hold for every
//! connection, and every failure to connect is told one way (`refused`): where and why, never the
//! password.

use ::redis::aio::ConnectionManager;
use ::redis::{Client, ConnectionAddr, IntoConnectionInfo, RedisError, TlsCertificates};
use secrecy::ExposeSecret;

use super::QueueError;
use crate::settings::QueueSettings;

/// A client for `queue.url`, with `queue.password` and, for `rediss://`, the certificate check
/// against `queue.tls_ca_file` (or the public roots when none is given). Connects nothing yet.
pub(crate) fn client(settings: &QueueSettings) -> Result<Client, QueueError> {
    let at = crate::reach::address(&settings.url);
    let invalid = |cause: String| QueueError::Connect(format!("{at}: {cause}"));
    let mut info = settings
        .url
        .as_str()
        .into_connection_info()
        .map_err(|e| invalid(e.to_string()))?;
    if let Some(password) = &settings.password {
        let redis = info
            .redis_settings()
            .clone()
            .set_password(password.expose_secret());
        info = info.set_redis_settings(redis);
    }
    let tls = matches!(info.addr(), ConnectionAddr::TcpTls { .. });
    match (&settings.tls_ca_file, tls) {
        (Some(path), true) => {
            let root_cert = crate::ca_file::read(path, "queue.tls_ca_file")
                .map_err(|e| invalid(e.to_string()))?;
            let certificates = TlsCertificates {
                client_tls: None,
                root_cert: Some(root_cert),
            };
            Client::build_with_tls(info, certificates).map_err(|e| invalid(e.to_string()))
        }
        (Some(_), false) => Err(invalid(
            "queue.tls_ca_file is set, but queue.url does not start with rediss:// (TLS)".into(),
        )),
        (None, _) => Client::open(info).map_err(|e| invalid(e.to_string())),
    }
}

/// A connection manager (apalis' connection: it reconnects by itself) for `settings`. A first plain
/// connection (and a PING) is tried before it, because the manager retries every failure for
/// seconds: a certificate Ferry does not trust or a refused password will not get better, and is
/// said at once.
pub(crate) async fn connection_manager(
    settings: &QueueSettings,
) -> Result<ConnectionManager, QueueError> {
    let client = client(settings)?;
    let probe = async {
        let mut connection = client.get_multiplexed_async_connection().await?;
        // A server that wants a password still accepts the connection; its first command says NOAUTH.
        ::redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
    };
    if let Err(e) = probe.await
        && (is_certificate_failure(&e) || is_refused_password(&e))
    {
        return Err(refused(settings, &e));
    }
    client
        .get_connection_manager()
        .await
        .map_err(|e| refused(settings, &e))
}

/// The error for a connection Redis refused or that failed: where, why, and for a certificate or a
/// password what to set.
pub(crate) fn refused(settings: &QueueSettings, e: &RedisError) -> QueueError {
    let at = crate::reach::address(&settings.url);
    let cause = e.to_string();
    let hint = if is_certificate_failure(e) {
        let trusted = match &settings.tls_ca_file {
            Some(path) => format!("the CA in {} (queue.tls_ca_file)", path.display()),
            None => "the public root CAs Ferry ships".to_string(),
        };
        format!(
            ". The server's TLS certificate is not trusted: Ferry checked it against {trusted}, \
             for the host name in queue.url; name the CA that signed it in queue.tls_ca_file (PEM)"
        )
    } else if is_refused_password(e) {
        ". Redis refused the password: give the one it requires as queue.password \
         (FERRY__QUEUE__PASSWORD)"
            .to_string()
    } else {
        String::new()
    };
    QueueError::Connect(format!("{at}: {cause}{hint}"))
}

/// Whether the TLS handshake failed on the server's certificate (an unknown CA, another host name).
fn is_certificate_failure(e: &RedisError) -> bool {
    crate::ca_file::is_certificate_failure(&e.to_string())
}

/// Whether Redis turned the connection away for its password (none given, or a wrong one).
fn is_refused_password(e: &RedisError) -> bool {
    matches!(e.kind(), ::redis::ErrorKind::AuthenticationFailed)
        || matches!(e.code(), Some("NOAUTH" | "WRONGPASS"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(url: &str, password: Option<&str>, ca: Option<&str>) -> QueueSettings {
        QueueSettings {
            url: url.into(),
            prefix: "ferry".into(),
            password: password.map(|p| p.to_string().into()),
            tls_ca_file: ca.map(Into::into),
        }
    }

    #[test]
    fn the_password_setting_reaches_the_client_and_no_error_shows_it() {
        let client = client(&settings(
            "rediss://redis.example.com:6380",
            Some("s3cret"),
            None,
        ))
        .unwrap();
        let info = client.get_connection_info();
        assert_eq!(info.redis_settings().password(), Some("s3cret"));
        assert!(matches!(info.addr(), ConnectionAddr::TcpTls { .. }));
        assert!(!format!("{info:?}").contains("s3cret"));

        let missing_ca = client_error(&settings(
            "rediss://:s3cret@redis.example.com",
            None,
            Some("/nonexistent/ca.pem"),
        ));
        assert!(
            missing_ca.contains("queue.tls_ca_file")
                && missing_ca.contains("redis.example.com:6379"),
            "{missing_ca}"
        );
        assert!(!missing_ca.contains("s3cret"), "{missing_ca}");
    }

    fn client_error(settings: &QueueSettings) -> String {
        client(settings).unwrap_err().to_string()
    }
}
