//! Reconnection backoff.

use rand::Rng;
use std::time::Duration;

/// Exponential backoff with "equal jitter": each delay is drawn from the upper half
/// of the current exponential step, so a thousand gateways that lost the same
/// coordinator do not reconnect in lock step, yet none waits longer than the cap.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    cap: Duration,
    attempt: u32,
}

impl Backoff {
    pub fn new(initial: Duration, cap: Duration) -> Self {
        Self {
            initial,
            cap,
            attempt: 0,
        }
    }

    /// The gateway default: 200 ms doubling up to 10 s.
    pub fn gateway_default() -> Self {
        Self::new(Duration::from_millis(200), Duration::from_secs(10))
    }

    /// The delay before the next attempt.
    pub fn next_delay(&mut self, rng: &mut impl Rng) -> Duration {
        let factor = 1u32 << self.attempt.min(16);
        let step = self.initial.saturating_mul(factor).min(self.cap);
        self.attempt = self.attempt.saturating_add(1);
        let half = step / 2;
        half + half.mul_f64(rng.random::<f64>())
    }

    /// Called once a session is established, so the next outage starts fast again.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn grows_jittered_and_capped() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut b = Backoff::gateway_default();
        let delays: Vec<Duration> = (0..20).map(|_| b.next_delay(&mut rng)).collect();
        assert!(delays[0] >= Duration::from_millis(100) && delays[0] <= Duration::from_millis(200));
        assert!(
            delays[3] >= Duration::from_millis(800) && delays[3] <= Duration::from_millis(1600)
        );
        for d in &delays {
            assert!(*d <= Duration::from_secs(10));
        }
        assert!(delays[19] >= Duration::from_secs(5));
        let distinct: std::collections::HashSet<_> = delays[10..].iter().collect();
        assert!(
            distinct.len() > 5,
            "jitter must spread capped delays: {delays:?}"
        );
        b.reset();
        assert!(b.next_delay(&mut rng) <= Duration::from_millis(200));
    }
}
