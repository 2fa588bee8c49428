//! The gateway's jitter-buffer totals: every receiving leg's counters summed
//! ([`MediaTotals`]) for [`crate::Gateway::stats`] and the coordinator's
//! `/metrics` (the uplink reports them).
//!
//! The audio thread owns the legs, so it keeps the sum: a leg's final counters
//! are added once, when the leg ends, and about once a second the ended legs plus
//! the live ones are published into the shared slot with `try_lock`. The audio
//! thread never waits for a reader and allocates nothing for this; when a reader
//! holds the slot, the next second's totals go in instead.

use std::sync::Mutex;

use tandem_node::media::{LegStats, MediaTotals};

/// Frames (20 ms) between two publications: a second is fine-grained enough for
/// reports sent every few seconds, and keeps the work off nearly every frame.
const PUBLISH_EVERY_FRAMES: u32 = 50;

/// The audio thread's side: ended legs' counters and the last published totals.
#[derive(Debug, Default)]
pub(crate) struct MediaTally {
    ended: MediaTotals,
    published: MediaTotals,
    frames: u32,
}

impl MediaTally {
    /// A leg stopped receiving: its final counters stay in the totals for good.
    pub fn leg_ended(&mut self, leg: &LegStats) {
        self.ended.end_leg(leg);
    }

    /// Counts one frame; true when the totals are due to be published.
    pub fn due(&mut self) -> bool {
        self.frames += 1;
        if self.frames < PUBLISH_EVERY_FRAMES {
            return false;
        }
        self.frames = 0;
        true
    }

    /// Publishes the ended legs plus the `live` ones into `slot`, never below
    /// what was published before (see [`MediaTotals::lost`]); skipped when a
    /// reader holds the slot.
    pub fn publish<'a>(
        &mut self,
        live: impl IntoIterator<Item = &'a LegStats>,
        slot: &Mutex<MediaTotals>,
    ) {
        let mut totals = self.ended;
        for leg in live {
            totals.add_leg(leg);
        }
        self.published = totals.at_least(&self.published);
        match slot.try_lock() {
            Ok(mut s) => *s = self.published,
            // Plain data: a panicked holder cannot leave it inconsistent.
            Err(std::sync::TryLockError::Poisoned(p)) => *p.into_inner() = self.published,
            Err(std::sync::TryLockError::WouldBlock) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leg(expected: u64, received: u64) -> LegStats {
        LegStats {
            expected,
            received,
            concealed: expected - received,
            ..LegStats::default()
        }
    }

    fn read(slot: &Mutex<MediaTotals>) -> MediaTotals {
        *slot.lock().unwrap()
    }

    #[test]
    fn ended_and_live_legs_are_each_counted_once() {
        let slot = Mutex::new(MediaTotals::default());
        let mut tally = MediaTally::default();
        let (a, b) = (leg(100, 95), leg(40, 40));
        tally.publish([&a, &b], &slot);
        assert_eq!((read(&slot).expected, read(&slot).lost), (140, 5));
        assert_eq!(read(&slot).legs_ended, 0);
        // Leg a ends with more packets; it is not live any more.
        let a = leg(150, 140);
        tally.leg_ended(&a);
        tally.publish([&b], &slot);
        let t = read(&slot);
        assert_eq!((t.expected, t.received, t.lost), (190, 180, 10));
        assert_eq!((t.legs_ended, t.concealed), (1, 10));
        // Publishing again with nothing new changes nothing.
        tally.publish([&b], &slot);
        assert_eq!(read(&slot), t);
        // b ends too: counted once, with its final counters.
        let b = leg(60, 59);
        tally.leg_ended(&b);
        tally.publish([], &slot);
        let t = read(&slot);
        assert_eq!((t.expected, t.lost, t.legs_ended), (210, 11, 2));
    }

    #[test]
    fn a_busy_slot_gets_the_next_totals() {
        let slot = Mutex::new(MediaTotals::default());
        let mut tally = MediaTally::default();
        tally.leg_ended(&leg(10, 9));
        {
            let _reader = slot.lock().unwrap();
            tally.publish([], &slot);
        }
        assert_eq!(read(&slot), MediaTotals::default(), "skipped, not waited");
        tally.leg_ended(&leg(10, 10));
        tally.publish([], &slot);
        let t = read(&slot);
        assert_eq!((t.expected, t.lost, t.legs_ended), (20, 1, 2));
    }

    #[test]
    fn publication_is_due_once_a_second() {
        let mut tally = MediaTally::default();
        let due: Vec<bool> = (0..2 * PUBLISH_EVERY_FRAMES).map(|_| tally.due()).collect();
        assert_eq!(due.iter().filter(|d| **d).count(), 2);
        assert!(due[PUBLISH_EVERY_FRAMES as usize - 1]);
    }
}
