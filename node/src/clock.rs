//! Where time enters a core.
//!
//! No core reads the system clock: each takes a [`Clock`] from its driver. The
//! binaries pass the real one (`tandem_node_io::clock::SystemClock`); tests and
//! the simulation pass a [`ManualClock`] that moves only when told, so a run in
//! virtual time is exact and replayable.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Wall-clock time in microseconds since the Unix epoch.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Microseconds since the Unix epoch.
    fn now_us(&self) -> u64;

    /// Milliseconds since the Unix epoch (the routing engine's unit).
    fn now_ms(&self) -> u64 {
        self.now_us() / 1_000
    }

    /// Seconds since the Unix epoch (records that keep whole seconds).
    fn now_secs(&self) -> u64 {
        self.now_us() / 1_000_000
    }
}

/// A clock shared by a core and the threads and tasks around it.
pub type SharedClock = Arc<dyn Clock>;

/// A clock that moves only when told. Shared by reference (`Arc`), so the test or
/// simulator that advances it and the core that reads it see the same time.
#[derive(Debug, Default)]
pub struct ManualClock {
    us: AtomicU64,
}

impl ManualClock {
    /// A clock standing at `us` microseconds since the epoch.
    pub fn at_us(us: u64) -> Self {
        Self {
            us: AtomicU64::new(us),
        }
    }

    /// Moves the clock to `us`; a clock never runs backwards, so an earlier
    /// time is ignored.
    pub fn set_us(&self, us: u64) {
        self.us.fetch_max(us, Ordering::Relaxed);
    }

    /// Moves the clock on by `by`.
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_micros()).unwrap_or(u64::MAX);
        let _ = self
            .us
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| {
                Some(t.saturating_add(by))
            });
    }
}

impl Clock for ManualClock {
    fn now_us(&self) -> u64 {
        self.us.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_forward_and_when_told() {
        let clock = Arc::new(ManualClock::at_us(5_000_000));
        let shared: SharedClock = clock.clone();
        assert_eq!(shared.now_secs(), 5);
        clock.advance(Duration::from_millis(1_500));
        assert_eq!(shared.now_ms(), 6_500);
        clock.set_us(1);
        assert_eq!(shared.now_us(), 6_500_000, "never backwards");
        clock.set_us(7_000_001);
        assert_eq!(shared.now_us(), 7_000_001);
    }
}
