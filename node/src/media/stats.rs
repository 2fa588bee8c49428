//! Per-leg receive statistics: what supervisors see on the wallboard and what feeds
//! the far encoder's FEC level.

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
}
