//! Where a callback may go. A trigger's `callback_url` is chosen by whoever calls the API, and Ferry
//! POSTs to it from inside the operator's network: a loopback, link-local or private address would let
//! that caller reach services the network keeps from it (SSRF). Such a target is refused unless
//! `api.allow_private_callbacks` says the operator wants it (a workflow engine on the same host).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use url::{Host, Url};

/// How long resolving a callback host may take before the trigger is refused.
const RESOLVE_WITHIN: Duration = Duration::from_secs(5);

/// Why `url` may not receive callbacks, or `None` when it may. Every address the host resolves to is
/// checked, so a name cannot hide a private address behind a public one.
pub async fn refusal(url: &Url, allow_private: bool) -> Option<String> {
    if !matches!(url.scheme(), "http" | "https") {
        return Some("callback_url must be an http(s) URL".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Some("callback_url must not carry a user name or password".into());
    }
    if allow_private {
        return None;
    }
    let addresses: Vec<IpAddr> = match url.host() {
        Some(Host::Ipv4(ip)) => vec![IpAddr::V4(ip)],
        Some(Host::Ipv6(ip)) => vec![IpAddr::V6(ip)],
        // RFC 6761 §6.3: `localhost` and its subdomains are loopback, whatever a resolver says.
        Some(Host::Domain(name))
            if name.eq_ignore_ascii_case("localhost")
                || name.to_ascii_lowercase().ends_with(".localhost") =>
        {
            vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]
        }
        Some(Host::Domain(name)) => {
            let port = url.port_or_known_default().unwrap_or(443);
            match tokio::time::timeout(RESOLVE_WITHIN, tokio::net::lookup_host((name, port))).await
            {
                Ok(Ok(found)) => found.map(|a| a.ip()).collect(),
                _ => return Some(format!("callback_url's host {name:?} does not resolve")),
            }
        }
        None => return Some("callback_url has no host".into()),
    };
    addresses.iter().find(|ip| is_private(ip)).map(|ip| {
        format!(
            "callback_url points at {ip}, a loopback, link-local or private address; set \
             api.allow_private_callbacks = true if callbacks to your own network are meant"
        )
    })
}

/// Loopback, private (RFC 1918, unique local), link-local, shared (RFC 6598), unspecified or
/// broadcast: addresses that lead into the network Ferry runs in rather than out of it.
fn is_private(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_private_v4(ip),
        IpAddr::V6(ip) => match ip.to_ipv4_mapped() {
            Some(v4) => is_private_v4(&v4),
            None => is_private_v6(ip),
        },
    }
}

fn is_private_v4(ip: &Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || (a == 100 && (64..128).contains(&b))
}

fn is_private_v6(ip: &Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    ip.is_loopback() || ip.is_unspecified() || first & 0xfe00 == 0xfc00 || first & 0xffc0 == 0xfe80
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_into_the_network_are_private() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_private(&ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            assert!(!is_private(&ip.parse().unwrap()), "{ip}");
        }
    }

    #[tokio::test]
    async fn a_private_target_is_refused_unless_allowed() {
        let url = Url::parse("http://127.0.0.1:9/hook").unwrap();
        let refused = refusal(&url, false).await.unwrap();
        assert!(refused.contains("allow_private_callbacks"), "{refused}");
        assert_eq!(refusal(&url, true).await, None);
        for name in ["localhost", "LocalHost", "hooks.localhost"] {
            let url = Url::parse(&format!("http://{name}:9/hook")).unwrap();
            let refused = refusal(&url, false).await.unwrap();
            assert!(refused.contains("127.0.0.1"), "{name}: {refused}");
        }
        let public = Url::parse("https://93.184.216.34/hook").unwrap();
        assert_eq!(refusal(&public, false).await, None);
        let secret = Url::parse("https://user:pw@93.184.216.34/hook").unwrap();
        assert!(refusal(&secret, true).await.unwrap().contains("user name"));
    }
}
