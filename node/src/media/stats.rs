//! Per-leg receive statistics: what supervisors see on the wallboard and what feeds
//! the far encoder's FEC level; and their sum over a node's legs
//! ([`MediaTotals`]), which gateways report to the coordinator so operators see
//! jitter-buffer loss on its Prometheus `/metrics`.

use serde::{Deserialize, Serialize};

/// Counters and gauges for one receiving leg. Counters only grow; gauges are the
/// latest value. Cheap to copy so the audio thread can publish snapshots.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LegStats {
    /// Datagrams accepted into the jitter buffer (duplicates and late ones excluded).
    pub received: u64,
    /// Datagrams that arrived twice.
    pub duplicates: u64,
    /// Datagrams that arrived after their frame was already played or concealed.
    pub late: u64,
    /// Datagrams refused as malformed or for another leg.
    pub malformed: u64,
    /// Sequence numbers expected so far (highest − first + 1, unwrapped).
    pub expected: u64,
    /// Frames rebuilt from the next packet's in-band FEC.
    pub fec_recovered: u64,
    /// Frames filled by packet-loss concealment.
    pub concealed: u64,
    /// Frames discarded to shorten the delay (drift or a past jitter spike).
    pub dropped: u64,
    /// Times playout was re-timed (start of a talkspurt after DTX, or a clock jump).
    pub resyncs: u64,
    /// RFC 3550 interarrival jitter, milliseconds.
    pub jitter_ms: f64,
    /// Delay the buffer aims for beyond one frame, milliseconds.
    pub target_delay_ms: f64,
    /// Audio buffered at the last playout, milliseconds.
    pub current_delay_ms: f64,
}

impl LegStats {
    /// Packets never received, from sequence numbers (RFC 3550 cumulative loss).
    pub fn lost(&self) -> u64 {
        self.expected.saturating_sub(self.received + self.late)
    }

    /// Loss between `earlier` and now, in percent: what the far encoder should
    /// be told so it spends FEC bits only when the path loses packets.
    pub fn loss_percent_since(&self, earlier: &LegStats) -> u8 {
        let expected = self.expected.saturating_sub(earlier.expected);
        if expected == 0 {
            return 0;
        }
        let lost = self.lost().saturating_sub(earlier.lost());
        ((lost * 100).div_ceil(expected)).min(100) as u8
    }
}

/// Receive counters of every leg a node played, summed since the node started:
/// what a gateway reports in [`crate::proto::Message::MediaStats`]. Every field is
/// a counter that only grows while the node runs (a restart starts again from
/// zero, which Prometheus counters allow), so an operator's rates and ratios over
/// any window come out right however many calls started or ended in it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaTotals {
    /// Datagrams accepted into jitter buffers.
    pub received: u64,
    /// Sequence numbers expected ([`LegStats::expected`] summed).
    pub expected: u64,
    /// Packets never received ([`LegStats::lost`] summed). Held at its highest
    /// value by the reporter: a packet counted lost that shows up later
    /// (reordering) leaves it counted, because a counter must never go down.
    pub lost: u64,
    /// Datagrams that arrived after their frame was played or concealed.
    pub late: u64,
    /// Datagrams that arrived twice.
    pub duplicates: u64,
    /// Frames rebuilt from in-band FEC.
    pub fec_recovered: u64,
    /// Frames filled by packet-loss concealment.
    pub concealed: u64,
    /// Frames discarded to shorten the delay.
    pub dropped: u64,
    /// Legs that ended (their counters are in the totals for good).
    pub legs_ended: u64,
}

/// Why a [`MediaTotals`] report cannot be true; the receiver logs it and keeps
/// the previous report.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaTotalsError {
    /// More packets lost than were ever expected.
    #[error("{lost} packets lost of {expected} expected")]
    LostAboveExpected { lost: u64, expected: u64 },
    /// A counter went down within one session (a restart opens a new session).
    #[error("counter {counter} went down from {was} to {now} within a session")]
    Decreased {
        counter: &'static str,
        was: u64,
        now: u64,
    },
}

impl MediaTotals {
    /// Adds the counters of one leg (ended or still playing).
    pub fn add_leg(&mut self, leg: &LegStats) {
        self.received += leg.received;
        self.expected += leg.expected;
        self.lost += leg.lost();
        self.late += leg.late;
        self.duplicates += leg.duplicates;
        self.fec_recovered += leg.fec_recovered;
        self.concealed += leg.concealed;
        self.dropped += leg.dropped;
    }

    /// Adds the final counters of a leg that ended.
    pub fn end_leg(&mut self, leg: &LegStats) {
        self.add_leg(leg);
        self.legs_ended += 1;
    }

    /// The counters by name, in a fixed order, for [`MediaTotals::check`].
    fn counters(&self) -> [(&'static str, u64); 9] {
        [
            ("received", self.received),
            ("expected", self.expected),
            ("lost", self.lost),
            ("late", self.late),
            ("duplicates", self.duplicates),
            ("fec_recovered", self.fec_recovered),
            ("concealed", self.concealed),
            ("dropped", self.dropped),
            ("legs_ended", self.legs_ended),
        ]
    }

    /// Each counter at the higher of the two values: what a reporter publishes
    /// after `earlier` so that no counter it reports ever goes down.
    pub fn at_least(&self, earlier: &MediaTotals) -> MediaTotals {
        MediaTotals {
            received: self.received.max(earlier.received),
            expected: self.expected.max(earlier.expected),
            lost: self.lost.max(earlier.lost),
            late: self.late.max(earlier.late),
            duplicates: self.duplicates.max(earlier.duplicates),
            fec_recovered: self.fec_recovered.max(earlier.fec_recovered),
            concealed: self.concealed.max(earlier.concealed),
            dropped: self.dropped.max(earlier.dropped),
            legs_ended: self.legs_ended.max(earlier.legs_ended),
        }
    }

    /// Checks a received report on its own, and against the previous report of
    /// the same session when there is one.
    pub fn check(&self, earlier: Option<&MediaTotals>) -> Result<(), MediaTotalsError> {
        if self.lost > self.expected {
            return Err(MediaTotalsError::LostAboveExpected {
                lost: self.lost,
                expected: self.expected,
            });
        }
        let Some(earlier) = earlier else {
            return Ok(());
        };
        for ((counter, now), (_, was)) in self.counters().into_iter().zip(earlier.counters()) {
            if now < was {
                return Err(MediaTotalsError::Decreased { counter, was, now });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_percent_uses_the_interval_only() {
        let a = LegStats {
            expected: 100,
            received: 90,
            ..LegStats::default()
        };
        let b = LegStats {
            expected: 200,
            received: 185,
            late: 1,
            ..LegStats::default()
        };
        assert_eq!(a.lost(), 10);
        assert_eq!(b.lost(), 14);
        assert_eq!(b.loss_percent_since(&a), 4);
        assert_eq!(b.loss_percent_since(&b), 0);
    }

    fn leg(expected: u64, received: u64, late: u64, concealed: u64) -> LegStats {
        LegStats {
            expected,
            received,
            late,
            concealed,
            ..LegStats::default()
        }
    }

    #[test]
    fn totals_sum_ended_and_live_legs_once() {
        let mut ended = MediaTotals::default();
        ended.end_leg(&leg(100, 90, 2, 8));
        ended.end_leg(&leg(50, 50, 0, 0));
        assert_eq!(ended.legs_ended, 2);
        assert_eq!((ended.expected, ended.received, ended.lost), (150, 140, 8));
        // A report adds the legs still playing to the ended ones, without
        // keeping them: the next report adds their newer counters instead.
        let mut report = ended;
        report.add_leg(&leg(10, 9, 0, 1));
        assert_eq!(
            (report.expected, report.lost, report.legs_ended),
            (160, 9, 2)
        );
        assert_eq!(ended.expected, 150, "live legs are not folded in");
        // That live leg ends: counted once, with its final counters.
        ended.end_leg(&leg(20, 18, 0, 2));
        assert_eq!((ended.expected, ended.lost, ended.legs_ended), (170, 10, 3));
        assert_eq!(ended.concealed, 10);
    }

    #[test]
    fn reported_counters_never_go_down() {
        // Packet 3 is missing when packet 4 arrives, then arrives (reordered).
        let before = {
            let mut t = MediaTotals::default();
            t.add_leg(&leg(4, 3, 0, 0));
            t
        };
        let mut after = MediaTotals::default();
        after.add_leg(&leg(4, 4, 0, 0));
        assert_eq!((before.lost, after.lost), (1, 0));
        assert!(after.check(Some(&before)).is_err());
        let published = after.at_least(&before);
        assert_eq!(published.lost, 1);
        assert_eq!(published.received, 4);
        assert_eq!(published.check(Some(&before)), Ok(()));
    }

    #[test]
    fn absurd_reports_are_named() {
        let t = MediaTotals {
            expected: 5,
            lost: 6,
            ..MediaTotals::default()
        };
        assert_eq!(
            t.check(None),
            Err(MediaTotalsError::LostAboveExpected {
                lost: 6,
                expected: 5
            })
        );
        let earlier = MediaTotals {
            expected: 10,
            received: 10,
            ..MediaTotals::default()
        };
        let later = MediaTotals {
            expected: 12,
            received: 9,
            ..MediaTotals::default()
        };
        assert_eq!(
            later.check(Some(&earlier)),
            Err(MediaTotalsError::Decreased {
                counter: "received",
                was: 10,
                now: 9
            })
        );
        assert_eq!(later.check(None), Ok(()));
    }
}
