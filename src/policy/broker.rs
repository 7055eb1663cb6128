//! Tier-3 confirmation broker (docs/tools.md), with the Python implementation's weaknesses fixed:
//!
//! - The binding covers the full identity of the call: tool, principal, policy probe and the
//!   canonical raw arguments. A token armed for one target, credential or caller
//!   cannot be consumed by another.
//! - A flood of plans cannot evict an armed token: the store cap evicts only
//!   unarmed plans (soonest-expiring first), and each principal may hold at most
//!   [`MAX_UNARMED_PER_PRINCIPAL`] unarmed plans (its own oldest go first).
//! - Tokens are held only as SHA-256 digests; for logs use [`token_digest`] (12 hex chars).
//!
//! Pure except for the clock and the random token: both are injectable for tests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// Most plans (armed or not) held at once.
pub const MAX_ENTRIES: usize = 256;
/// Most unarmed plans one principal may hold at once.
pub const MAX_UNARMED_PER_PRINCIPAL: usize = 32;

/// The identity of one call: what a confirmation is bound to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperationKey {
    /// SHA-256 over the tool, principal, probe and canonical arguments (NUL-separated).
    hash: [u8; 32],
    /// Who asked (for the per-principal cap).
    principal: String,
}

impl OperationKey {
    /// Bind `tool`, `principal`, the policy `probe` and the canonical JSON of the raw
    /// (unredacted) arguments. Any difference in any part is a different operation.
    pub fn new(
        tool: &str,
        principal: &str,
        probe: &str,
        canonical_args_json: &str,
    ) -> OperationKey {
        let mut h = Sha256::new();
        for part in [tool, principal, probe, canonical_args_json] {
            // Length-prefix each part so no two different tuples share a preimage.
            h.update((part.len() as u64).to_be_bytes());
            h.update(part.as_bytes());
            h.update([0u8]);
        }
        OperationKey {
            hash: h.finalize().into(),
            principal: principal.to_string(),
        }
    }
}

/// The first 12 hex characters of the token's SHA-256 — the only form that may be logged or
/// audited (`token_sha256`). `""` for an empty token.
pub fn token_digest(token: &str) -> String {
    if token.is_empty() {
        return String::new();
    }
    let mut hex = hex::encode(Sha256::digest(token.as_bytes()));
    hex.truncate(12);
    hex
}

/// A source of monotonic time (injectable for tests).
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> Instant;
}

/// The real monotonic clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

#[derive(Debug)]
struct Entry {
    op: [u8; 32],
    principal: String,
    expires: Instant,
    armed: bool,
    /// Plan order, to evict a principal's oldest plan first.
    seq: u64,
}

#[derive(Debug, Default)]
struct Store {
    /// Keyed by the SHA-256 of the token: the token itself is never held.
    entries: HashMap<[u8; 32], Entry>,
    seq: u64,
}

/// The confirmation broker: plan → arm → consume, each plan valid for `ttl`.
pub struct Broker {
    ttl: Duration,
    clock: Arc<dyn Clock>,
    store: Mutex<Store>,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker")
            .field("ttl", &self.ttl)
            .field("pending", &self.pending())
            .finish()
    }
}

fn key_of(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Broker {
    /// A broker on the real clock.
    pub fn new(ttl: Duration) -> Broker {
        Broker::with_clock(ttl, Arc::new(SystemClock))
    }

    /// A broker on `clock` (tests advance a manual clock).
    pub fn with_clock(ttl: Duration, clock: Arc<dyn Clock>) -> Broker {
        Broker {
            ttl,
            clock,
            store: Mutex::new(Store::default()),
        }
    }

    /// The plans' lifetime.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    fn lock(&self) -> MutexGuard<'_, Store> {
        // A panic elsewhere while holding the lock leaves a consistent map: recover it.
        self.store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn sweep(store: &mut Store, now: Instant) {
        store.entries.retain(|_, e| e.expires > now);
    }

    /// Issue a new unarmed token for `op`: 16 random bytes, URL-safe base64 without padding
    /// (22 characters). Earlier plans for the same operation are left to expire.
    pub fn plan(&self, op: &OperationKey) -> String {
        let mut bytes = [0u8; 16];
        rand::fill(&mut bytes);
        let token = URL_SAFE_NO_PAD.encode(bytes);
        let now = self.clock.now();
        let mut store = self.lock();
        Self::sweep(&mut store, now);
        // Per-principal cap on unarmed plans: drop this principal's oldest.
        let mut mine: Vec<([u8; 32], u64)> = store
            .entries
            .iter()
            .filter(|(_, e)| !e.armed && e.principal == op.principal)
            .map(|(k, e)| (*k, e.seq))
            .collect();
        if mine.len() >= MAX_UNARMED_PER_PRINCIPAL {
            mine.sort_by_key(|(_, seq)| *seq);
            let excess = mine.len() + 1 - MAX_UNARMED_PER_PRINCIPAL;
            for (k, _) in mine.into_iter().take(excess) {
                store.entries.remove(&k);
            }
        }
        // Global cap: evict unarmed plans, soonest-expiring (then oldest) first. Armed
        // tokens are never evicted; if nothing can go, the new plan is not stored (arming
        // it fails and the caller plans again).
        if store.entries.len() >= MAX_ENTRIES {
            let mut unarmed: Vec<([u8; 32], Instant, u64)> = store
                .entries
                .iter()
                .filter(|(_, e)| !e.armed)
                .map(|(k, e)| (*k, e.expires, e.seq))
                .collect();
            unarmed.sort_by_key(|(_, exp, seq)| (*exp, *seq));
            let excess = store.entries.len() + 1 - MAX_ENTRIES;
            for (k, _, _) in unarmed.into_iter().take(excess) {
                store.entries.remove(&k);
            }
            if store.entries.len() >= MAX_ENTRIES {
                return token;
            }
        }
        store.seq += 1;
        let seq = store.seq;
        store.entries.insert(
            key_of(&token),
            Entry {
                op: op.hash,
                principal: op.principal.clone(),
                expires: now + self.ttl,
                armed: false,
                seq,
            },
        );
        token
    }

    /// Arm a known, unexpired token planned for `principal` (idempotent). False for unknown or
    /// expired tokens and for another principal's: a token is bound to the client it was
    /// issued to, so a leaked token cannot be armed by anyone else.
    pub fn arm(&self, token: &str, principal: &str) -> bool {
        let now = self.clock.now();
        let mut store = self.lock();
        Self::sweep(&mut store, now);
        match store.entries.get_mut(&key_of(token)) {
            Some(e) if e.principal == principal => {
                e.armed = true;
                true
            }
            _ => false,
        }
    }

    /// Consume an armed, unexpired token bound to exactly `op`. An unarmed plan does not count.
    pub fn consume(&self, op: &OperationKey) -> bool {
        let now = self.clock.now();
        let mut store = self.lock();
        Self::sweep(&mut store, now);
        let found = store
            .entries
            .iter()
            .find(|(_, e)| e.armed && e.op == op.hash && e.principal == op.principal)
            .map(|(k, _)| *k);
        match found {
            Some(k) => {
                store.entries.remove(&k);
                true
            }
            None => false,
        }
    }

    /// Live plans, armed or not (shown in `server_info`).
    pub fn pending(&self) -> usize {
        let now = self.clock.now();
        let mut store = self.lock();
        Self::sweep(&mut store, now);
        store.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A clock the test moves by hand.
    struct ManualClock(Mutex<Instant>);

    impl ManualClock {
        fn advance(&self, by: Duration) {
            let mut t = self.0.lock().unwrap_or_else(|p| p.into_inner());
            *t += by;
        }
    }

    impl Clock for ManualClock {
        fn now(&self) -> Instant {
            *self.0.lock().unwrap_or_else(|p| p.into_inner())
        }
    }

    fn broker(ttl_secs: u64) -> (Broker, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock(Mutex::new(Instant::now())));
        (
            Broker::with_clock(Duration::from_secs(ttl_secs), clock.clone()),
            clock,
        )
    }

    fn op(probe: &str) -> OperationKey {
        OperationKey::new("shell_exec", "stdio", probe, r#"{"command":"rm -rf /x"}"#)
    }

    #[test]
    fn plan_arm_consume_once() {
        let (b, _) = broker(60);
        let key = op("rm -rf /x");
        let token = b.plan(&key);
        assert_eq!(token.len(), 22);
        assert!(
            token
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert!(!b.consume(&key), "an unarmed plan does not count");
        assert!(b.arm(&token, "stdio"));
        assert!(b.arm(&token, "stdio"), "arming is idempotent");
        assert!(b.consume(&key));
        assert!(!b.consume(&key), "a token is consumed once");
        assert_eq!(b.pending(), 0);
    }

    #[test]
    fn binding_covers_the_whole_identity() {
        let (b, _) = broker(60);
        let key = op("rm -rf /x");
        assert!(b.arm(&b.plan(&key), "stdio"));
        let other_principal = OperationKey::new(
            "shell_exec",
            "bearer:ci",
            "rm -rf /x",
            r#"{"command":"rm -rf /x"}"#,
        );
        let other_args = OperationKey::new(
            "shell_exec",
            "stdio",
            "rm -rf /x",
            r#"{"command":"rm -rf /x","cwd":"/"}"#,
        );
        let other_tool = OperationKey::new(
            "ssh_exec",
            "stdio",
            "rm -rf /x",
            r#"{"command":"rm -rf /x"}"#,
        );
        // No ambiguity from moving bytes between parts.
        let shifted = OperationKey::new(
            "shell_exec",
            "stdio",
            "rm -rf /x{",
            r#""command":"rm -rf /x"}"#,
        );
        for k in [&other_principal, &other_args, &other_tool, &shifted] {
            assert!(!b.consume(k));
        }
        assert!(b.consume(&key));
    }

    #[test]
    fn expiry() {
        let (b, clock) = broker(10);
        let key = op("x");
        let token = b.plan(&key);
        clock.advance(Duration::from_secs(11));
        assert!(!b.arm(&token, "stdio"));
        let token = b.plan(&key);
        assert!(b.arm(&token, "stdio"));
        clock.advance(Duration::from_secs(11));
        assert!(!b.consume(&key));
        assert_eq!(b.pending(), 0);
        assert!(!b.arm("", "stdio"));
    }

    #[test]
    fn a_flood_of_plans_cannot_evict_an_armed_token() {
        let (b, clock) = broker(60);
        let key = op("rm -rf /important");
        let token = b.plan(&key);
        assert!(b.arm(&token, "stdio"));
        // Many principals flood the store with plans expiring later than the armed one.
        for i in 0..(MAX_ENTRIES * 4) {
            clock.advance(Duration::from_millis(1));
            let flood = OperationKey::new(
                "shell_exec",
                &format!("p{}", i % 40),
                &format!("x{i}"),
                "{}",
            );
            b.plan(&flood);
        }
        assert!(b.pending() <= MAX_ENTRIES);
        assert!(b.consume(&key));
    }

    #[test]
    fn unarmed_plans_are_capped_per_principal() {
        let (b, clock) = broker(60);
        let mut tokens = Vec::new();
        for i in 0..(MAX_UNARMED_PER_PRINCIPAL + 5) {
            clock.advance(Duration::from_millis(1));
            tokens.push(b.plan(&op(&format!("x{i}"))));
        }
        assert_eq!(b.pending(), MAX_UNARMED_PER_PRINCIPAL);
        // The oldest went first; the newest survive.
        assert!(!b.arm(&tokens[0], "stdio"));
        assert!(b.arm(
            tokens.last().map(String::as_str).unwrap_or_default(),
            "stdio"
        ));
        // Another principal is unaffected.
        let other = OperationKey::new("shell_exec", "bearer:ops", "y", "{}");
        assert!(b.arm(&b.plan(&other), "bearer:ops"));
    }

    #[test]
    fn a_token_is_armed_only_by_its_principal() {
        let (b, _) = broker(60);
        let key = op("rm -rf /x");
        let token = b.plan(&key);
        assert!(!b.arm(&token, "bearer:other"));
        assert!(!b.consume(&key));
        assert!(b.arm(&token, "stdio"));
        assert!(b.consume(&key));
    }

    #[test]
    fn digest_is_twelve_hex() {
        assert_eq!(token_digest(""), "");
        let d = token_digest("abc");
        assert_eq!(d, "ba7816bf8f01");
    }

    #[test]
    fn survives_a_poisoned_lock() {
        let (b, _) = broker(60);
        let b = Arc::new(b);
        let b2 = b.clone();
        let _ = std::thread::spawn(move || {
            let _guard = b2.store.lock();
            panic!("poison the lock");
        })
        .join();
        let key = op("x");
        assert!(b.arm(&b.plan(&key), "stdio"));
        assert!(b.consume(&key));
    }
}
