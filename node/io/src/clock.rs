//! The real clock, for drivers to hand to the cores.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use tandem_node::clock::{Clock, SharedClock};

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl SystemClock {
    /// The system clock as a core takes it.
    pub fn shared() -> SharedClock {
        Arc::new(SystemClock)
    }
}

impl Clock for SystemClock {
    /// 0 if the clock is before 1970.
    fn now_us(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_wall_clock() {
        let clock = SystemClock::shared();
        let (a, b) = (clock.now_us(), clock.now_us());
        // After 2020-01-01 and not running backwards between two reads.
        assert!(a > 1_577_836_800_000_000);
        assert!(b >= a);
    }
}
