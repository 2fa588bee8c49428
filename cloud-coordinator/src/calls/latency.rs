//! How long call control takes to decide: the time of one step of the core (a
//! gateway report, an agent command or a timer), measured under its lock, as a
//! Prometheus-style cumulative histogram. Lock-free to record.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets, in microseconds.
pub const BUCKETS_US: [u64; 8] = [10, 50, 100, 250, 500, 1_000, 5_000, 25_000];

/// The recorder.
#[derive(Debug, Default)]
pub struct LatencyHistogram {
    /// Per bucket (not cumulative); the last slot counts what exceeds every bound.
    counts: [AtomicU64; BUCKETS_US.len() + 1],
    sum_us: AtomicU64,
}

/// A reading of the histogram.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LatencySnapshot {
    /// (upper bound µs, decisions at or below it), cumulative, in bound order.
    pub buckets: Vec<(u64, u64)>,
    /// Every decision.
    pub count: u64,
    /// Their total time, µs.
    pub sum_us: u64,
}

impl LatencyHistogram {
    /// Records one decision.
    pub fn record(&self, took: Duration) {
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let slot = BUCKETS_US
            .iter()
            .position(|b| us <= *b)
            .unwrap_or(BUCKETS_US.len());
        self.counts[slot].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    /// The cumulative reading.
    pub fn snapshot(&self) -> LatencySnapshot {
        let mut running = 0;
        let buckets = BUCKETS_US
            .iter()
            .zip(&self.counts)
            .map(|(bound, n)| {
                running += n.load(Ordering::Relaxed);
                (*bound, running)
            })
            .collect();
        let count = running + self.counts[BUCKETS_US.len()].load(Ordering::Relaxed);
        LatencySnapshot {
            buckets,
            count,
            sum_us: self.sum_us.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_the_overflow_counts() {
        let h = LatencyHistogram::default();
        for us in [5, 10, 11, 400, 30_000] {
            h.record(Duration::from_micros(us));
        }
        let s = h.snapshot();
        assert_eq!(s.count, 5);
        assert_eq!(s.sum_us, 5 + 10 + 11 + 400 + 30_000);
        assert_eq!(s.buckets[0], (10, 2));
        assert_eq!(s.buckets[1], (50, 3));
        assert_eq!(s.buckets[4], (500, 4));
        assert_eq!(s.buckets.last(), Some(&(25_000, 4)));
    }
}
