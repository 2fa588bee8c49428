//! Where randomness enters a core.
//!
//! No core draws from a global generator: each takes a [`SeededRng`] (or a seed)
//! from its driver. The binaries seed it from the OS
//! (`tandem_node_io::random::os_seed`); tests and the simulation pass a fixed
//! seed, so the same seed replays the same run. Secrets (enrollment tokens,
//! session tokens, keys) are not drawn from here: they take the OS's
//! cryptographic generator, passed in the same way.

use rand::{Rng, SeedableRng};

/// The seeded generator every core takes (rand's `StdRng`: the same seed gives
/// the same stream within one build).
pub type SeededRng = rand::rngs::StdRng;

/// A generator seeded with `seed`.
pub fn seeded(seed: u64) -> SeededRng {
    SeededRng::seed_from_u64(seed)
}

/// A generator for a part (a line, a session) drawn from its owner's, so every
/// part has its own stream and the whole still follows one seed.
pub fn fork(parent: &mut SeededRng) -> SeededRng {
    seeded(parent.random())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_forks_differ() {
        let (mut a, mut b) = (seeded(42), seeded(42));
        let xs: Vec<u64> = (0..4).map(|_| a.random()).collect();
        let ys: Vec<u64> = (0..4).map(|_| b.random()).collect();
        assert_eq!(xs, ys);
        let mut parent = seeded(42);
        let (mut c1, mut c2) = (fork(&mut parent), fork(&mut parent));
        assert_ne!(c1.random::<u64>(), c2.random::<u64>());
        let mut again = seeded(42);
        assert_eq!(
            fork(&mut again).random::<u64>(),
            fork(&mut seeded(42)).random::<u64>()
        );
    }
}
