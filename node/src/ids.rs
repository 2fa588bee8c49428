//! Where new ids come from.
//!
//! Call ids are chosen by the call's anchor: unique across the network without
//! asking anyone, so a branch cut off from the WAN can still number its calls.
//! A core takes an [`IdSource`] from its driver; [`TimeOrderedIds`] is the
//! production scheme, drawing its random bits from a [`SeededRng`] so a
//! simulation numbers calls the same way on every replay.

use crate::random::SeededRng;
use crate::routing::CallId;
use rand::Rng;

/// Hands out new call ids.
pub trait IdSource: Send {
    /// A fresh call id for a call starting at `now_ms` (Unix milliseconds).
    fn call_id(&mut self, now_ms: u64) -> CallId;
}

/// `unix_ms << 16 | 16 random bits`: ordered by time, and two anchors starting
/// a call in the same millisecond collide with probability 1/65536 only.
#[derive(Debug, Clone)]
pub struct TimeOrderedIds {
    rng: SeededRng,
}

impl TimeOrderedIds {
    pub fn new(rng: SeededRng) -> Self {
        Self { rng }
    }
}

impl IdSource for TimeOrderedIds {
    fn call_id(&mut self, now_ms: u64) -> CallId {
        let r: u16 = self.rng.random();
        CallId((now_ms << 16) | u64::from(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::seeded;

    #[test]
    fn ids_follow_time_and_replay_from_the_seed() {
        let mut ids = TimeOrderedIds::new(seeded(7));
        let (a, b) = (ids.call_id(1), ids.call_id(2));
        assert!(b.0 > a.0);
        assert_eq!(a.0 >> 16, 1);
        let mut again = TimeOrderedIds::new(seeded(7));
        assert_eq!(again.call_id(1), a);
        assert_eq!(again.call_id(2), b);
    }
}
