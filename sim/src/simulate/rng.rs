//! The simulation's only source of randomness: one seeded generator, drawn from
//! in event order, so a seed replays exactly.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Seeded random source.
pub struct SimRng(StdRng);

impl SimRng {
    /// The generator for `seed`.
    pub fn new(seed: u64) -> SimRng {
        SimRng(StdRng::seed_from_u64(seed))
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.0.random_range(0..n) }
    }

    /// Uniform in `lo..=hi` milliseconds.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi.saturating_sub(lo) + 1)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.0.random::<f64>() < p
    }

    /// Exponentially distributed, mean `mean_ms`, at least 1 ms.
    pub fn exp(&mut self, mean_ms: f64) -> u64 {
        let u: f64 = self.0.random::<f64>();
        let x = -mean_ms * (1.0 - u).ln();
        // Bounded so one draw never spans the whole run.
        x.clamp(1.0, mean_ms * 20.0) as u64
    }
}
