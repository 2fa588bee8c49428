//! Login throttling. A login attempt is counted as a failure *before* its
//! password is verified, under one lock (so any number of parallel guesses
//! check at most the limit), and the count is given back when the password was
//! right. Password verifications (argon2: about 19 MiB and tens of
//! milliseconds each) run a bounded number at a time.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};

/// Distinct names and addresses remembered at most: beyond this, attempts for a
/// new key are refused until the window forgets old ones, so a flood of made-up
/// names cannot grow memory without bound.
const MAX_KEYS: usize = 65_536;

/// What is being limited: attempts for one account, or from one address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    User(String),
    Address(IpAddr),
}

/// Failed (and in-flight) logins per user and per client address within a
/// sliding window. The per-user limit holds wherever the guesses come from;
/// the per-address limit is looser, so that the people behind one office
/// address do not lock each other out.
pub struct LoginLimiter {
    per_user: usize,
    per_address: usize,
    window: u64,
    attempts: HashMap<Key, VecDeque<u64>>,
}

/// An attempt counted against its user and address; [`LoginLimiter::release`]
/// gives it back when the password was right. Dropped unreleased it stays a
/// failure (a client that hangs up mid-check still spent a guess).
#[must_use]
pub struct Reservation {
    keys: [Key; 2],
    at: u64,
}

impl LoginLimiter {
    pub fn new(per_user: usize, per_address: usize, window_secs: u64) -> Self {
        LoginLimiter {
            per_user: per_user.max(1),
            per_address: per_address.max(1),
            window: window_secs.max(1),
            attempts: HashMap::new(),
        }
    }

    fn prune(&mut self, now: u64) {
        let window = self.window;
        self.attempts.retain(|_, times| {
            while times.front().is_some_and(|t| now >= t + window) {
                times.pop_front();
            }
            !times.is_empty()
        });
    }

    fn limit(&self, key: &Key) -> usize {
        match key {
            Key::User(_) => self.per_user,
            Key::Address(_) => self.per_address,
        }
    }

    /// Counts an attempt for `user` from `address`, or says in how many
    /// seconds one will be allowed.
    pub fn reserve(&mut self, user: &str, address: IpAddr, now: u64) -> Result<Reservation, u64> {
        self.prune(now);
        let keys = [Key::User(user.to_owned()), Key::Address(address)];
        let wait = keys
            .iter()
            .filter_map(|k| {
                let times = self.attempts.get(k)?;
                let max = self.limit(k);
                let oldest = times.len().checked_sub(max).and_then(|i| times.get(i))?;
                Some((oldest + self.window).saturating_sub(now).max(1))
            })
            .max();
        if let Some(secs) = wait {
            return Err(secs);
        }
        let new_keys = keys
            .iter()
            .filter(|k| !self.attempts.contains_key(k))
            .count();
        if self.attempts.len() + new_keys > MAX_KEYS {
            return Err(self.window);
        }
        for k in &keys {
            self.attempts.entry(k.clone()).or_default().push_back(now);
        }
        Ok(Reservation { keys, at: now })
    }

    /// Gives back an attempt whose password was right.
    pub fn release(&mut self, reservation: Reservation) {
        for k in &reservation.keys {
            if let Some(times) = self.attempts.get_mut(k) {
                if let Some(i) = times.iter().rposition(|t| *t == reservation.at) {
                    times.remove(i);
                }
                if times.is_empty() {
                    self.attempts.remove(k);
                }
            }
        }
    }
}

/// Login outcomes for `/metrics`.
#[derive(Default)]
pub struct LoginCounters {
    /// Passwords checked (argon2 runs, including the dummy for unknown names).
    pub verified: AtomicU64,
    /// Wrong user name or password.
    pub failed: AtomicU64,
    /// Refused by the limiter without checking (429).
    pub throttled: AtomicU64,
    /// Refused because too many checks were running (503).
    pub busy: AtomicU64,
}

impl LoginCounters {
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// `(result label, count)` pairs.
    pub fn samples(&self) -> [(&'static str, u64); 4] {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        [
            ("verified", get(&self.verified)),
            ("failed", get(&self.failed)),
            ("throttled", get(&self.throttled)),
            ("busy", get(&self.busy)),
        ]
    }
}

/// `text` safe to put in a log line: control characters (newlines, escape
/// sequences) and quotes escaped, so a user name cannot forge a line.
pub fn loggable(text: &str) -> String {
    text.escape_debug().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    #[test]
    fn attempts_count_before_the_check_and_a_right_password_gives_its_back() {
        let mut l = LoginLimiter::new(5, 20, 60);
        let held: Vec<_> = (0..5).map(|_| l.reserve("a", A, 100).unwrap()).collect();
        assert_eq!(l.reserve("a", A, 100).err(), Some(60), "in flight counts");
        assert_eq!(l.reserve("a", B, 130).err(), Some(30), "from anywhere");
        assert!(
            l.reserve("b", A, 100).is_ok(),
            "other users are not blocked"
        );
        let mut held = held.into_iter();
        l.release(held.next().unwrap());
        assert!(l.reserve("a", A, 101).is_ok(), "a success frees its slot");
        assert_eq!(l.reserve("a", A, 159).err(), Some(1));
        assert!(l.reserve("a", A, 161).is_ok(), "the window passed");
    }

    #[test]
    fn an_address_has_a_looser_limit_of_its_own() {
        let mut l = LoginLimiter::new(2, 4, 60);
        for user in ["u1", "u2", "u3", "u4"] {
            let _failed = l.reserve(user, A, 0).unwrap();
        }
        assert_eq!(l.reserve("u5", A, 10).err(), Some(50));
        assert!(l.reserve("u5", B, 10).is_ok());
    }

    #[test]
    fn log_text_cannot_break_the_line() {
        let forged = "ann\n2026-12-04T18:00:00Z  INFO login user=admin\u{1b}[2K";
        let safe = loggable(forged);
        assert!(!safe.chars().any(char::is_control), "{safe}");
        assert!(safe.contains("\\n") && safe.contains("\\u{1b}"), "{safe}");
    }
}
