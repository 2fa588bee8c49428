//! Seeds from the OS, for drivers to hand to the cores.

use rand::TryRngCore;
use rand::rngs::OsRng;
use tandem_node::clock::Clock;
use tandem_node::random::{SeededRng, seeded};

use crate::clock::SystemClock;

/// A seed from the OS generator; should the OS refuse, the clock's microseconds
/// (these seeds spread timing and ids, they guard no secret).
pub fn os_seed() -> u64 {
    OsRng
        .try_next_u64()
        .unwrap_or_else(|_| SystemClock.now_us())
}

/// A core's generator seeded from the OS.
pub fn os_seeded() -> SeededRng {
    seeded(os_seed())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_differ_between_draws() {
        let seeds: std::collections::BTreeSet<u64> = (0..8).map(|_| os_seed()).collect();
        assert!(seeds.len() > 1);
    }
}
