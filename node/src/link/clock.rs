//! Round-trip and clock-offset estimation from heartbeats.
//!
//! CDR timestamps from gateways are only comparable across sites if each gateway's
//! clock offset to the coordinator is known; the estimate uses the NTP on-wire
//! method and trusts the sample with the smallest round trip, whose offset error is
//! bounded by half that round trip.

use crate::proto::HeartbeatAck;
use std::collections::VecDeque;

/// What a session knows about its link at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct LinkHealth {
    /// Last measured round trip, microseconds.
    pub rtt_us: u64,
    /// Smoothed round trip (RFC 6298 style, gain 1/8), microseconds.
    pub srtt_us: u64,
    /// Peer clock minus our clock, microseconds, from the best recent sample.
    pub offset_us: i64,
    /// Samples taken since the session started.
    pub samples: u64,
}

/// Keeps the recent heartbeat samples of one session.
#[derive(Debug, Clone, Default)]
pub struct ClockSync {
    window: VecDeque<(u64, i64)>,
    health: LinkHealth,
}

const WINDOW: usize = 8;

impl ClockSync {
    pub fn new() -> Self {
        Self::default()
    }

    /// Folds in an acknowledgement received at `received_us` (our clock).
    /// Returns `None` for a sample whose times are inconsistent (clock stepped).
    pub fn record(&mut self, ack: &HeartbeatAck, received_us: u64) -> Option<LinkHealth> {
        let total = received_us.checked_sub(ack.request_sent_us)?;
        let held = ack.sent_us.checked_sub(ack.received_us)?;
        let rtt = total.checked_sub(held)?;
        let there = i128::from(ack.received_us) - i128::from(ack.request_sent_us);
        let back = i128::from(ack.sent_us) - i128::from(received_us);
        let offset = i64::try_from((there + back) / 2).ok()?;
        if self.window.len() == WINDOW {
            self.window.pop_front();
        }
        self.window.push_back((rtt, offset));
        let best = self
            .window
            .iter()
            .min_by_key(|(rtt, _)| *rtt)
            .map(|&(_, o)| o);
        let h = &mut self.health;
        h.srtt_us = if h.samples == 0 {
            rtt
        } else {
            (h.srtt_us * 7 + rtt) / 8
        };
        h.rtt_us = rtt;
        h.offset_us = best.unwrap_or(offset);
        h.samples += 1;
        Some(*h)
    }

    pub fn health(&self) -> LinkHealth {
        self.health
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ack(t1: u64, delay_there: u64, hold: u64, offset: i64) -> HeartbeatAck {
        let t2 = (t1 + delay_there) as i64 + offset;
        HeartbeatAck {
            seq: 0,
            request_sent_us: t1,
            received_us: t2 as u64,
            sent_us: (t2 as u64) + hold,
        }
    }

    #[test]
    fn splits_rtt_from_offset() {
        let mut c = ClockSync::new();
        // Peer clock 5 s ahead, 1 ms each way, 200 µs processing.
        let a = ack(1_000_000, 1_000, 200, 5_000_000);
        let h = c.record(&a, 1_000_000 + 1_000 + 200 + 1_000).unwrap();
        assert_eq!(h.rtt_us, 2_000);
        assert_eq!(h.offset_us, 5_000_000);
    }

    #[test]
    fn trusts_the_fastest_sample_for_offset() {
        let mut c = ClockSync::new();
        // Asymmetric slow sample: 9 ms there, 1 ms back gives a 4 ms offset error.
        let slow = ack(0, 9_000, 0, -300);
        c.record(&slow, 10_000).unwrap();
        let fast = ack(100_000, 500, 0, -300);
        let h = c.record(&fast, 101_000).unwrap();
        assert_eq!(h.offset_us, -300);
        assert_eq!(h.rtt_us, 1_000);
        assert_eq!(h.samples, 2);
    }

    #[test]
    fn refuses_inconsistent_samples() {
        let mut c = ClockSync::new();
        let a = ack(1_000, 10, 0, 0);
        assert!(c.record(&a, 500).is_none());
    }
}
