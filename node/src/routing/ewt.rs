//! Estimated wait time (EWT) for announcements and callback offers.
//!
//! A caller at position `p` needs `p` agents to free up. With `N` staffed agents
//! and mean handle time `AHT`, agents free up at rate `N / AHT`, so
//!
//! `EWT = p · AHT / N`
//!
//! which is exact in expectation for an M/M/N FIFO queue with all agents busy
//! (memoryless service). `N` counts distinct agents who are logged in, not on a
//! break, in shift, and in a ring already open for the call. `AHT` is an exponentially weighted average of
//! recent handle times (talk + hold + wrap-up) in this queue, so it follows the
//! shift's real pace rather than a configured guess.

/// Weight of the newest handle time in the running average (about the last 20 calls).
const EWMA_WEIGHT: f64 = 0.05;

/// Recent average handle time of one queue.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HandleTimeEstimate {
    mean_ms: f64,
}

impl HandleTimeEstimate {
    /// Starts from the configured guess until real calls complete.
    pub fn new(initial_ms: u64) -> Self {
        HandleTimeEstimate {
            mean_ms: initial_ms as f64,
        }
    }

    /// Folds in one completed contact's handle time.
    pub fn record(&mut self, handle_ms: u64) {
        self.mean_ms += EWMA_WEIGHT * (handle_ms as f64 - self.mean_ms);
    }

    /// Current estimate in ms.
    pub fn mean_ms(&self) -> f64 {
        self.mean_ms
    }
}

/// `p · AHT / N`; `None` when nobody is staffed (the wait is unbounded).
pub fn estimated_wait_ms(position: u32, aht: &HandleTimeEstimate, staffed: usize) -> Option<u64> {
    if staffed == 0 {
        return None;
    }
    Some((f64::from(position) * aht.mean_ms() / staffed as f64).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ewt_is_position_times_aht_over_staff() {
        let aht = HandleTimeEstimate::new(120_000);
        assert_eq!(estimated_wait_ms(1, &aht, 4), Some(30_000));
        assert_eq!(estimated_wait_ms(6, &aht, 4), Some(180_000));
        assert_eq!(estimated_wait_ms(1, &aht, 0), None);
    }

    #[test]
    fn aht_follows_recent_calls() {
        let mut aht = HandleTimeEstimate::new(300_000);
        for _ in 0..200 {
            aht.record(60_000);
        }
        assert!(
            (aht.mean_ms() - 60_000.0).abs() < 100.0,
            "{}",
            aht.mean_ms()
        );
    }
}
