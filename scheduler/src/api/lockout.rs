//! Failed sign-ins to the API, counted per client address: after `MAX_FAILURES` wrong or missing
//! tokens within `WINDOW`, the address is answered 429 with `Retry-After` until its window ends,
//! without its token being looked at, so a token cannot be guessed at the speed of the network.
//!
//! Memory is bounded: at most `MAX_TRACKED` addresses are remembered; when full, windows that ended
//! are dropped first, then the oldest. IPv6 clients are counted per /64, the block one host usually
//! holds, so a host cannot start afresh by changing its low bits. Behind a reverse proxy every client
//! has the proxy's address: the limit then holds for all of them together.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed per address within one window.
pub const MAX_FAILURES: u32 = 10;
/// How long failures are counted, from an address's first failure.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Addresses remembered at most.
const MAX_TRACKED: usize = 4_096;

/// One address's failures in its current window.
#[derive(Debug, Clone, Copy)]
struct Failures {
    since: Instant,
    count: u32,
}

/// The failure counts of the API's clients.
#[derive(Debug, Default)]
pub struct Lockout {
    by_client: Mutex<HashMap<IpAddr, Failures>>,
}

/// The key an address is counted under: itself, or its /64 for IPv6.
fn client_key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(bits.into())
            }
        },
    }
}

impl Lockout {
    /// How long `address` must wait when it is locked out now, `None` when it may try.
    pub fn locked(&self, address: IpAddr) -> Option<Duration> {
        self.locked_at(address, Instant::now())
    }

    /// Counts a failed attempt of `address`.
    pub fn fail(&self, address: IpAddr) {
        self.fail_at(address, Instant::now());
    }

    fn locked_at(&self, address: IpAddr, now: Instant) -> Option<Duration> {
        let by_client = self.by_client.lock().expect("lockout lock");
        let failures = by_client.get(&client_key(address))?;
        let ends = failures.since + WINDOW;
        (failures.count >= MAX_FAILURES && now < ends).then(|| ends - now)
    }

    fn fail_at(&self, address: IpAddr, now: Instant) {
        let key = client_key(address);
        let mut by_client = self.by_client.lock().expect("lockout lock");
        if !by_client.contains_key(&key) && by_client.len() >= MAX_TRACKED {
            by_client.retain(|_, f| now < f.since + WINDOW);
            if by_client.len() >= MAX_TRACKED
                && let Some(oldest) = by_client
                    .iter()
                    .min_by_key(|(_, f)| f.since)
                    .map(|(k, _)| *k)
            {
                by_client.remove(&oldest);
            }
        }
        let failures = by_client.entry(key).or_insert(Failures {
            since: now,
            count: 0,
        });
        if now >= failures.since + WINDOW {
            *failures = Failures {
                since: now,
                count: 0,
            };
        }
        failures.count += 1;
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.by_client.lock().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_locked_after_the_limit_until_its_window_ends() {
        let lockout = Lockout::default();
        let start = Instant::now();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..MAX_FAILURES - 1 {
            lockout.fail_at(a, start);
        }
        assert_eq!(lockout.locked_at(a, start), None);
        lockout.fail_at(a, start);
        let wait = lockout
            .locked_at(a, start + Duration::from_secs(10))
            .unwrap();
        assert_eq!(wait, WINDOW - Duration::from_secs(10));
        assert_eq!(lockout.locked_at(b, start), None, "others are not");
        assert_eq!(
            lockout.locked_at(a, start + WINDOW),
            None,
            "the window ends"
        );
        lockout.fail_at(a, start + WINDOW);
        assert_eq!(lockout.locked_at(a, start + WINDOW), None, "counting anew");
    }

    #[test]
    fn ipv6_hosts_count_per_64_and_memory_is_bounded() {
        let lockout = Lockout::default();
        let now = Instant::now();
        for n in 0..MAX_FAILURES {
            lockout.fail_at(format!("2001:db8::{n:x}").parse().unwrap(), now);
        }
        assert!(
            lockout
                .locked_at("2001:db8::ffff".parse().unwrap(), now)
                .is_some()
        );
        for n in 0..(MAX_TRACKED as u32 + 100) {
            lockout.fail_at(IpAddr::V4(n.into()), now);
        }
        assert!(lockout.tracked() <= MAX_TRACKED);
    }
}
