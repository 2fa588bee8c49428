//! Channel-associated signalling in TS16 (G.704 §5.1.3.2): multiframe layout and
//! a receiver that aligns to it and debounces the ABCD bits.

use super::{Abcd, VOICE_CHANNELS};

/// Builds TS16 of a CAS multiframe (16 frames): frame 0 carries the multiframe
/// alignment 0000 plus spare bits (and the remote multiframe alarm bit), frames
/// 1–15 carry channel n in the high nibble and channel n+15 in the low nibble.
pub fn cas_multiframe(abcd: &[Abcd; VOICE_CHANNELS as usize], remote_alarm: bool) -> [u8; 16] {
    let mut ts16 = [0u8; 16];
    ts16[0] = 0b0000_1011 | if remote_alarm { 0b0000_0100 } else { 0 };
    for n in 1..16 {
        ts16[n] = (abcd[n - 1].0 << 4) | abcd[n + 14].0;
    }
    ts16
}

/// Receives TS16 one byte per frame: finds the multiframe alignment, extracts and
/// debounces ABCD bits (a change must repeat in two consecutive multiframes).
#[derive(Debug, Clone)]
pub struct CasReceiver {
    /// Frame number within the multiframe once aligned.
    frame: Option<u8>,
    misses: u8,
    pending: [u8; VOICE_CHANNELS as usize],
    current: [Option<Abcd>; VOICE_CHANNELS as usize],
}

impl Default for CasReceiver {
    fn default() -> Self {
        Self::new()
    }
}

impl CasReceiver {
    /// A receiver hunting for multiframe alignment.
    pub fn new() -> Self {
        Self {
            frame: None,
            misses: 0,
            pending: [0; VOICE_CHANNELS as usize],
            current: [None; VOICE_CHANNELS as usize],
        }
    }

    /// Multiframe alignment held.
    pub fn in_sync(&self) -> bool {
        self.frame.is_some()
    }

    /// Current bits of `channel` (1-based).
    pub fn abcd(&self, channel: u8) -> Option<Abcd> {
        self.current
            .get(usize::from(channel).checked_sub(1)?)
            .copied()
            .flatten()
    }

    /// Feeds one TS16 byte; `on_change` gets (channel, bits) for each validated change.
    pub fn push(&mut self, byte: u8, mut on_change: impl FnMut(u8, Abcd)) {
        let Some(f) = self.frame else {
            if byte >> 4 == 0 {
                self.frame = Some(1);
                self.misses = 0;
            }
            return;
        };
        if f == 0 {
            if byte >> 4 == 0 {
                self.misses = 0;
            } else {
                // G.704: alignment is lost after two consecutive bad MFAS words.
                self.misses += 1;
                if self.misses >= 2 {
                    self.frame = None;
                    return;
                }
            }
        } else {
            for (ch, nibble) in [(f, byte >> 4), (f + 15, byte & 0x0F)] {
                let i = usize::from(ch - 1);
                if nibble == self.pending[i]
                    && let Ok(bits) = Abcd::new(nibble)
                    && self.current[i] != Some(bits)
                {
                    self.current[i] = Some(bits);
                    on_change(ch, bits);
                }
                self.pending[i] = nibble;
            }
        }
        self.frame = Some((f + 1) % 16);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn all(bits: u8) -> [Abcd; 30] {
        [Abcd::new(bits).unwrap(); 30]
    }

    #[test]
    fn multiframe_layout_follows_g704() {
        let mut abcd = all(0b1001);
        abcd[0] = Abcd::new(0b0001).unwrap(); // channel 1
        abcd[15] = Abcd::new(0b1101).unwrap(); // channel 16
        let mf = cas_multiframe(&abcd, false);
        assert_eq!(mf[0] >> 4, 0, "MFAS");
        assert_eq!(mf[1], 0b0001_1101);
        assert_eq!(mf[15], 0b1001_1001);
        assert_eq!(cas_multiframe(&abcd, true)[0] & 0b0100, 0b0100);
    }

    #[test]
    fn receiver_aligns_debounces_and_reports_changes() {
        let mut rx = CasReceiver::new();
        let mut seen = Vec::new();
        // China R2 idle 1000 on every channel... (unused C/D bits 11 in China: 1011)
        let idle = cas_multiframe(&all(0b1011), false);
        for _ in 0..3 {
            for b in idle {
                rx.push(b, |c, a| seen.push((c, a.bits())));
            }
        }
        assert!(rx.in_sync());
        assert_eq!(seen.len(), 30);
        assert_eq!(rx.abcd(17), Some(Abcd::new(0b1011).unwrap()));
        seen.clear();
        // Seize channel 17 (0000 in R2 is written 0011 with China's C/D bits).
        let mut abcd = all(0b1011);
        abcd[16] = Abcd::new(0b0011).unwrap();
        let seize = cas_multiframe(&abcd, false);
        // One multiframe of the new bits is a glitch; two are a change.
        for b in seize {
            rx.push(b, |c, a| seen.push((c, a.bits())));
        }
        for b in idle {
            rx.push(b, |c, a| seen.push((c, a.bits())));
        }
        assert!(seen.is_empty());
        for _ in 0..2 {
            for b in seize {
                rx.push(b, |c, a| seen.push((c, a.bits())));
            }
        }
        assert_eq!(seen, [(17, 0b0011)]);
        // Losing the MFAS twice drops alignment.
        let mut rx2 = rx.clone();
        for b in [0xFFu8; 40] {
            rx2.push(b, |_, _| {});
        }
        assert!(!rx2.in_sync());
        assert_eq!(rx.abcd(0), None);
    }

    proptest! {
        #[test]
        fn any_bits_round_trip(bits in proptest::collection::vec(1u8..16, 30)) {
            let abcd: [Abcd; 30] = std::array::from_fn(|i| Abcd::new(bits[i]).unwrap());
            let mf = cas_multiframe(&abcd, false);
            let mut rx = CasReceiver::new();
            for _ in 0..3 {
                for b in mf {
                    rx.push(b, |_, _| {});
                }
            }
            for ch in 1..=30u8 {
                prop_assert_eq!(rx.abcd(ch), Some(abcd[usize::from(ch - 1)]));
            }
        }

        #[test]
        fn arbitrary_ts16_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut rx = CasReceiver::new();
            for b in bytes {
                rx.push(b, |c, _| assert!((1..=30).contains(&c)));
            }
        }
    }
}
