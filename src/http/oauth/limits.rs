//! Rate limits of the OAuth endpoints, per client address: passphrase guesses on the consent
//! page (exponential back-off) and registrations (a fixed window). Both tables are bounded;
//! the entry seen longest ago goes first.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Addresses remembered at most.
const MAX_ADDRESSES: usize = 4096;

/// Wrong passphrases allowed before the back-off starts.
pub(crate) const FREE_GUESSES: u32 = 5;

/// First lock-out; it doubles with every further failure, up to [`MAX_LOCKOUT`].
const FIRST_LOCKOUT: Duration = Duration::from_secs(60);
const MAX_LOCKOUT: Duration = Duration::from_secs(3600);

/// Registrations per address per [`WINDOW`].
pub(crate) const REGISTRATIONS_PER_WINDOW: u32 = 10;
const WINDOW: Duration = Duration::from_secs(600);

fn evict<T>(map: &mut HashMap<IpAddr, T>, seen: impl Fn(&T) -> Instant) {
    if map.len() >= MAX_ADDRESSES
        && let Some(oldest) = map.iter().min_by_key(|(_, v)| seen(v)).map(|(k, _)| *k)
    {
        map.remove(&oldest);
    }
}

#[derive(Clone, Copy, Debug)]
struct Failures {
    count: u32,
    until: Option<Instant>,
    seen: Instant,
}

/// Failed passphrase attempts by address.
#[derive(Debug, Default)]
pub(crate) struct Backoff {
    by_addr: HashMap<IpAddr, Failures>,
}

impl Backoff {
    /// `Some(wait)` while `addr` is locked out.
    pub(crate) fn locked(&self, addr: IpAddr, now: Instant) -> Option<Duration> {
        let until = self.by_addr.get(&addr)?.until?;
        (until > now).then(|| until - now)
    }

    /// Count a failure; past [`FREE_GUESSES`] the address is locked out for a doubling time.
    pub(crate) fn fail(&mut self, addr: IpAddr, now: Instant) {
        evict(&mut self.by_addr, |f| f.seen);
        let f = self.by_addr.entry(addr).or_insert(Failures {
            count: 0,
            until: None,
            seen: now,
        });
        f.count += 1;
        f.seen = now;
        if f.count >= FREE_GUESSES {
            let doublings = (f.count - FREE_GUESSES).min(6);
            let wait = (FIRST_LOCKOUT * 2u32.pow(doublings)).min(MAX_LOCKOUT);
            f.until = Some(now + wait);
        }
    }

    /// A right passphrase clears the address's record.
    pub(crate) fn succeed(&mut self, addr: IpAddr) {
        self.by_addr.remove(&addr);
    }
}

/// Registrations by address in the current window.
#[derive(Debug, Default)]
pub(crate) struct Window {
    by_addr: HashMap<IpAddr, (Instant, u32)>,
}

impl Window {
    /// Count one request; `false` when the address is over its allowance.
    pub(crate) fn admit(&mut self, addr: IpAddr, now: Instant) -> bool {
        evict(&mut self.by_addr, |v| v.0);
        let e = self.by_addr.entry(addr).or_insert((now, 0));
        if now.duration_since(e.0) >= WINDOW {
            *e = (now, 0);
        }
        e.1 += 1;
        e.1 <= REGISTRATIONS_PER_WINDOW
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guesses_back_off_and_success_clears() {
        let a: IpAddr = "127.0.0.1".parse().expect("ip");
        let t = Instant::now();
        let mut b = Backoff::default();
        for _ in 0..FREE_GUESSES - 1 {
            b.fail(a, t);
            assert_eq!(b.locked(a, t), None);
        }
        b.fail(a, t);
        assert_eq!(b.locked(a, t), Some(FIRST_LOCKOUT));
        b.fail(a, t);
        assert_eq!(b.locked(a, t), Some(FIRST_LOCKOUT * 2));
        assert_eq!(b.locked(a, t + FIRST_LOCKOUT * 3), None);
        b.succeed(a);
        assert_eq!(b.locked(a, t), None);
    }

    #[test]
    fn registrations_per_window() {
        let a: IpAddr = "10.0.0.1".parse().expect("ip");
        let t = Instant::now();
        let mut w = Window::default();
        for _ in 0..REGISTRATIONS_PER_WINDOW {
            assert!(w.admit(a, t));
        }
        assert!(!w.admit(a, t));
        assert!(w.admit(a, t + WINDOW));
    }
}
