//! E1 frame alignment and CRC-4 (G.704 §2.3, G.706 §4): the TS0 transmitter and the
//! receiving framer, with the alarms a span reports (LOS, LOF, AIS, RAI).
//!
//! A frame is 32 octets, TS0 first. Even frames carry the frame alignment signal
//! (FAS, `x0011011`), odd frames the NFAS (`x1Annnnn`, A = remote alarm). With CRC-4,
//! bit 1 of TS0 carries, over a 16-frame multiframe, the CRC-4 bits of the previous
//! sub-multiframe (FAS frames) and the multiframe alignment `001011` plus two E
//! bits (NFAS frames). A far end without CRC-4 sends 1 there; after 400 ms without
//! CRC-4 multiframe alignment the receiver carries on without it (G.706 Annex B).

/// Octets per frame.
pub const FRAME_BYTES: usize = 32;
/// Frames per CRC-4 multiframe.
const MULTIFRAME: u16 = 16;
/// Bits 2–8 of TS0 in an alignment frame.
const FAS: u8 = 0b001_1011;
/// NFAS bit 2 (always 1) and the remote alarm bit (A, bit 3).
const NFAS_BIT2: u8 = 0x40;
const A_BIT: u8 = 0x20;
/// CRC-4 multiframe alignment signal, in bit 1 of NFAS frames 1, 3, ..., 11.
const CRC_MFAS: u8 = 0b00_1011;
/// Frames without CRC-4 multiframe alignment before assuming a non-CRC-4 far end.
const CRC4_TIMEOUT_FRAMES: u32 = 3200; // 400 ms
/// Consecutive bad FAS words that lose frame alignment (G.706 §4.1.1).
const FAS_ERRORS_TO_LOSE: u8 = 3;
/// Consecutive all-zero octets that mean loss of signal (G.775: 10–255 bits of zeros).
const LOS_OCTETS: u32 = 32;
/// Consecutive all-ones octets that mean AIS (G.775: under 3 zeros in 512 bits).
const AIS_OCTETS: u32 = 64;

/// CRC-4 (x⁴ + x + 1) over octets, most significant bit first, continuing `crc`.
pub fn crc4(mut crc: u8, bytes: &[u8]) -> u8 {
    for &b in bytes {
        for i in (0..8).rev() {
            let fb = ((crc >> 3) & 1) ^ ((b >> i) & 1);
            crc = (crc << 1) & 0x0F;
            if fb == 1 {
                crc ^= 0x03;
            }
        }
    }
    crc
}

/// CRC-4 of one frame with bit 1 of TS0 forced to 0 in alignment frames, where the
/// C bits travel.
fn frame_crc(crc: u8, frame: &[u8; FRAME_BYTES], fas_frame: bool) -> u8 {
    let ts0 = if fas_frame { frame[0] & 0x7F } else { frame[0] };
    crc4(crc4(crc, &[ts0]), &frame[1..])
}

/// Writes TS0 of each outgoing frame.
#[derive(Debug, Clone)]
pub struct Transmitter {
    crc4: bool,
    remote_alarm: bool,
    /// Frame number within the CRC-4 multiframe.
    n: u16,
    running: u8,
    /// CRC of the previous sub-multiframe, sent in this one's C bits.
    previous: u8,
}

impl Transmitter {
    /// A transmitter starting a multiframe, with or without CRC-4.
    pub fn new(crc4: bool) -> Self {
        Self {
            crc4,
            remote_alarm: false,
            n: 0,
            running: 0,
            previous: 0,
        }
    }

    /// Signals a remote alarm (RAI, the A bit) to the far end.
    pub fn set_remote_alarm(&mut self, on: bool) {
        self.remote_alarm = on;
    }

    /// Switches CRC-4 on or off.
    pub fn set_crc4(&mut self, on: bool) {
        self.crc4 = on;
    }

    /// Fills in TS0 of the next frame (the other 31 octets are the caller's).
    pub fn frame(&mut self, frame: &mut [u8; FRAME_BYTES]) {
        let n = self.n;
        let fas_frame = n.is_multiple_of(2);
        let si = if !self.crc4 {
            1
        } else if fas_frame {
            // C1..C4 in the four alignment frames of the sub-multiframe.
            let k = (n % 8) / 2;
            (self.previous >> (3 - k)) & 1
        } else if n < 12 {
            (CRC_MFAS >> (5 - n / 2)) & 1
        } else {
            1 // E bits: no CRC errors to report.
        };
        frame[0] = if fas_frame {
            (si << 7) | FAS
        } else {
            let a = if self.remote_alarm { A_BIT } else { 0 };
            (si << 7) | NFAS_BIT2 | a | 0x1F
        };
        self.running = frame_crc(self.running, frame, fas_frame);
        self.n = (n + 1) % MULTIFRAME;
        if self.n.is_multiple_of(8) {
            self.previous = self.running;
            self.running = 0;
        }
    }
}

/// What the receiver knows about the incoming signal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FramerStatus {
    pub frame_aligned: bool,
    /// CRC-4 multiframe aligned.
    pub crc4_aligned: bool,
    /// The 400 ms CRC-4 search timed out: the far end does not use CRC-4.
    pub no_crc4_far_end: bool,
    pub los: bool,
    pub ais: bool,
    pub rai: bool,
    /// Sub-multiframes whose CRC-4 did not match.
    pub crc_errors: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Align {
    Search,
    /// `pos`: octet within the frame (0 = TS0); `fas_next`: the next TS0 is a FAS.
    Aligned {
        pos: usize,
        fas_next: bool,
        bad_fas: u8,
    },
}

/// Receives an octet stream, finds frame and CRC-4 multiframe alignment, and hands
/// out aligned frames.
#[derive(Debug, Clone)]
pub struct Framer {
    align: Align,
    /// The last 65 octets, for the alignment search (FAS, NFAS, FAS 32 octets apart).
    hist: [u8; 2 * FRAME_BYTES + 1],
    hist_len: usize,
    frame: [u8; FRAME_BYTES],
    /// Bit 1 of the last six NFAS words, for the CRC-4 MFAS search.
    mfas_bits: u8,
    /// Frame number within the CRC-4 multiframe, once aligned.
    mf: Option<u16>,
    mfas_misses: u8,
    frames_since_align: u32,
    running: u8,
    /// CRC computed for the previous sub-multiframe, and the C bits received for it.
    expected: Option<u8>,
    /// The sub-multiframe in progress began before CRC-4 alignment: its CRC is partial.
    partial: bool,
    received_c: u8,
    zero_octets: u32,
    ones_octets: u32,
    status: FramerStatus,
}

impl Default for Framer {
    fn default() -> Self {
        Self::new()
    }
}

impl Framer {
    /// A framer hunting for frame alignment.
    pub fn new() -> Self {
        Self {
            align: Align::Search,
            hist: [0; 2 * FRAME_BYTES + 1],
            hist_len: 0,
            frame: [0; FRAME_BYTES],
            mfas_bits: 0,
            mf: None,
            mfas_misses: 0,
            frames_since_align: 0,
            running: 0,
            expected: None,
            partial: true,
            received_c: 0,
            zero_octets: 0,
            ones_octets: 0,
            status: FramerStatus::default(),
        }
    }

    /// What the framer knows now.
    pub fn status(&self) -> FramerStatus {
        self.status
    }

    /// Feeds received octets; `on_frame` gets each complete aligned frame.
    pub fn push(&mut self, octets: &[u8], mut on_frame: impl FnMut(&[u8; FRAME_BYTES])) {
        for &b in octets {
            self.zero_octets = if b == 0 {
                self.zero_octets.saturating_add(1)
            } else {
                0
            };
            self.ones_octets = if b == 0xFF {
                self.ones_octets.saturating_add(1)
            } else {
                0
            };
            self.status.los = self.zero_octets >= LOS_OCTETS;
            self.status.ais = self.ones_octets >= AIS_OCTETS;
            match self.align {
                Align::Search => self.search(b),
                Align::Aligned {
                    pos,
                    fas_next,
                    bad_fas,
                } => {
                    self.frame[pos] = b;
                    if pos + 1 < FRAME_BYTES {
                        self.align = Align::Aligned {
                            pos: pos + 1,
                            fas_next,
                            bad_fas,
                        };
                        continue;
                    }
                    let frame = self.frame;
                    self.align = Align::Aligned {
                        pos: 0,
                        fas_next,
                        bad_fas,
                    };
                    if self.check_frame(&frame) {
                        on_frame(&frame);
                    }
                }
            }
        }
    }

    fn search(&mut self, b: u8) {
        let len = self.hist.len();
        if self.hist_len == len {
            self.hist.copy_within(1.., 0);
            self.hist[len - 1] = b;
        } else {
            self.hist[self.hist_len] = b;
            self.hist_len += 1;
        }
        if self.hist_len == len
            && self.hist[0] & 0x7F == FAS
            && self.hist[FRAME_BYTES] & NFAS_BIT2 != 0
            && self.hist[2 * FRAME_BYTES] & 0x7F == FAS
        {
            // The octet just received is TS0 of an alignment frame.
            self.frame[0] = b;
            self.align = Align::Aligned {
                pos: 1,
                fas_next: false,
                bad_fas: 0,
            };
            self.status.frame_aligned = true;
            self.frames_since_align = 0;
            self.mf = None;
            self.mfas_bits = 0;
        }
    }

    /// Checks TS0 of a complete frame; returns whether the frame is usable.
    fn check_frame(&mut self, frame: &[u8; FRAME_BYTES]) -> bool {
        let Align::Aligned {
            fas_next, bad_fas, ..
        } = self.align
        else {
            return false;
        };
        // The search leaves `fas_next` false: the frame it found is an alignment frame.
        let this_is_fas = !fas_next;
        let ts0 = frame[0];
        let ok = if this_is_fas {
            ts0 & 0x7F == FAS
        } else {
            ts0 & NFAS_BIT2 != 0
        };
        let bad = if this_is_fas && !ok {
            bad_fas + 1
        } else if this_is_fas {
            0
        } else {
            bad_fas
        };
        if bad >= FAS_ERRORS_TO_LOSE {
            self.lose_alignment();
            return false;
        }
        self.align = Align::Aligned {
            pos: 0,
            fas_next: this_is_fas,
            bad_fas: bad,
        };
        if !this_is_fas {
            self.status.rai = ts0 & A_BIT != 0;
        }
        self.crc4_frame(frame, this_is_fas);
        true
    }

    fn lose_alignment(&mut self) {
        self.align = Align::Search;
        self.hist_len = 0;
        self.mf = None;
        self.status.frame_aligned = false;
        self.status.crc4_aligned = false;
    }

    fn crc4_frame(&mut self, frame: &[u8; FRAME_BYTES], fas: bool) {
        self.frames_since_align = self.frames_since_align.saturating_add(1);
        let si = frame[0] >> 7;
        let Some(n) = self.mf else {
            if !fas {
                self.mfas_bits = ((self.mfas_bits << 1) | si) & 0x3F;
                if self.mfas_bits == CRC_MFAS {
                    // That NFAS was frame 11: the next frame is 12.
                    self.mf = Some(12);
                    self.running = 0;
                    self.expected = None;
                    self.partial = true;
                    self.mfas_misses = 0;
                    self.status.crc4_aligned = true;
                    self.status.no_crc4_far_end = false;
                }
            }
            if !self.status.crc4_aligned && self.frames_since_align >= CRC4_TIMEOUT_FRAMES {
                self.status.no_crc4_far_end = true;
            }
            return;
        };
        if fas != (n % 2 == 0) {
            self.mf = None;
            self.status.crc4_aligned = false;
            return;
        }
        if fas {
            let k = (n % 8) / 2;
            self.received_c = (self.received_c & !(1 << (3 - k))) | (si << (3 - k));
        } else if n < 12 {
            self.mfas_bits = ((self.mfas_bits << 1) | si) & 0x3F;
            if n == 11 && self.mfas_bits != CRC_MFAS {
                self.mfas_misses += 1;
                if self.mfas_misses >= 2 {
                    self.mf = None;
                    self.status.crc4_aligned = false;
                    return;
                }
            } else if n == 11 {
                self.mfas_misses = 0;
            }
        }
        // The sub-multiframe that starts at frames 0 and 8 carries the C bits for
        // the one before it; compare once all four have arrived (frame 6 / 14).
        if n % 8 == 6
            && let Some(expected) = self.expected.take()
            && expected != self.received_c
        {
            self.status.crc_errors = self.status.crc_errors.saturating_add(1);
        }
        self.running = frame_crc(self.running, frame, fas);
        let next = (n + 1) % MULTIFRAME;
        if next.is_multiple_of(8) {
            self.expected = (!self.partial).then_some(self.running);
            self.partial = false;
            self.running = 0;
        }
        self.mf = Some(next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Frames from a transmitter, payload octets counting up.
    fn stream(tx: &mut Transmitter, frames: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(frames * FRAME_BYTES);
        for f in 0..frames {
            let mut frame = [0u8; FRAME_BYTES];
            for (i, b) in frame.iter_mut().enumerate().skip(1) {
                *b = (f * 7 + i) as u8 | 0x01;
            }
            tx.frame(&mut frame);
            out.extend_from_slice(&frame);
        }
        out
    }

    /// Table-driven CRC-4, written independently of `crc4`.
    fn crc4_by_table(bytes: &[u8]) -> u8 {
        let mut table = [0u8; 256];
        for (i, t) in table.iter_mut().enumerate() {
            // Remainder of i(x)·x⁴ mod x⁴+x+1.
            let mut r = (i as u16) << 4;
            for bit in (4..12).rev() {
                if r & (1 << bit) != 0 {
                    r ^= 0b1_0011 << (bit - 4);
                }
            }
            *t = r as u8;
        }
        bytes
            .iter()
            .fold(0u8, |crc, &b| table[usize::from(b ^ (crc << 4))])
    }

    #[test]
    fn crc4_matches_an_independent_table_implementation() {
        let data: Vec<u8> = (0..=255u8)
            .chain((0..100u8).map(|i| i.wrapping_mul(3)))
            .collect();
        for len in [0, 1, 2, 7, 256, 356] {
            assert_eq!(
                crc4(0, &data[..len]),
                crc4_by_table(&data[..len]),
                "len {len}"
            );
        }
        // Split computation continues correctly.
        assert_eq!(crc4(crc4(0, &data[..100]), &data[100..]), crc4(0, &data));
    }

    #[test]
    fn ts0_carries_fas_nfas_and_the_crc4_multiframe_signal() {
        let mut tx = Transmitter::new(true);
        let s = stream(&mut tx, 16);
        let ts0: Vec<u8> = s.chunks(FRAME_BYTES).map(|f| f[0]).collect();
        for (n, &b) in ts0.iter().enumerate() {
            if n % 2 == 0 {
                assert_eq!(b & 0x7F, FAS, "frame {n}");
            } else {
                assert_eq!(
                    b & 0x7F,
                    0x5F,
                    "NFAS frame {n}: bit 2 set, A clear, Sa bits 1"
                );
            }
        }
        let mfas: Vec<u8> = [1, 3, 5, 7, 9, 11].iter().map(|&n| ts0[n] >> 7).collect();
        assert_eq!(mfas, [0, 0, 1, 0, 1, 1]);
        assert_eq!(ts0[13] >> 7, 1);
        assert_eq!(ts0[15] >> 7, 1);
        let mut plain = Transmitter::new(false);
        assert!(
            stream(&mut plain, 16)
                .chunks(FRAME_BYTES)
                .all(|f| f[0] >> 7 == 1)
        );
    }

    #[test]
    fn framer_aligns_at_any_octet_offset_and_checks_crc4() {
        for offset in [0usize, 1, 17, 31] {
            let mut tx = Transmitter::new(true);
            let mut s = vec![0x55u8; offset];
            s.extend(stream(&mut tx, 400));
            let mut rx = Framer::new();
            let mut frames = 0;
            rx.push(&s, |f| {
                assert!(f[0] & 0x7F == FAS || f[0] & NFAS_BIT2 != 0);
                frames += 1;
            });
            let st = rx.status();
            assert!(
                st.frame_aligned && st.crc4_aligned && !st.no_crc4_far_end,
                "offset {offset}: {st:?}"
            );
            assert_eq!(st.crc_errors, 0);
            assert!(frames >= 395, "{frames} frames delivered");
        }
    }

    #[test]
    fn bit_errors_show_as_crc_errors_and_three_bad_fas_lose_alignment() {
        let mut tx = Transmitter::new(true);
        let mut s = stream(&mut tx, 200);
        // One flipped payload bit in frame 100.
        s[100 * FRAME_BYTES + 5] ^= 0x10;
        let mut rx = Framer::new();
        rx.push(&s, |_| {});
        assert_eq!(rx.status().crc_errors, 1);
        // Corrupt three consecutive FAS words.
        let mut s = stream(&mut tx, 100);
        for f in [40, 42, 44] {
            s[f * FRAME_BYTES] ^= 0x01;
        }
        let mut rx = Framer::new();
        let mut lost_at = None;
        let mut count = 0;
        for (i, chunk) in s.chunks(FRAME_BYTES).enumerate() {
            rx.push(chunk, |_| count += 1);
            if lost_at.is_none() && i > 10 && !rx.status().frame_aligned {
                lost_at = Some(i);
            }
        }
        assert_eq!(lost_at, Some(44));
        assert!(rx.status().frame_aligned, "realigned afterwards");
    }

    #[test]
    fn non_crc4_far_end_is_recognised_after_400_ms() {
        let mut tx = Transmitter::new(false);
        let mut rx = Framer::new();
        rx.push(&stream(&mut tx, 3000), |_| {});
        assert!(rx.status().frame_aligned && !rx.status().no_crc4_far_end);
        rx.push(&stream(&mut tx, 300), |_| {});
        let st = rx.status();
        assert!(st.no_crc4_far_end && !st.crc4_aligned, "{st:?}");
    }

    #[test]
    fn los_ais_and_rai_are_detected() {
        let mut tx = Transmitter::new(true);
        let mut rx = Framer::new();
        rx.push(&stream(&mut tx, 50), |_| {});
        tx.set_remote_alarm(true);
        rx.push(&stream(&mut tx, 4), |_| {});
        assert!(rx.status().rai);
        tx.set_remote_alarm(false);
        rx.push(&stream(&mut tx, 4), |_| {});
        assert!(!rx.status().rai);
        rx.push(&[0u8; 64], |_| {});
        assert!(rx.status().los);
        let mut rx = Framer::new();
        rx.push(&stream(&mut tx, 50), |_| {});
        rx.push(&[0xFFu8; 32 * 8], |_| {});
        let st = rx.status();
        assert!(st.ais && !st.los && !st.frame_aligned, "{st:?}");
        rx.push(&stream(&mut tx, 10), |_| {});
        assert!(!rx.status().ais);
    }

    proptest! {
        #[test]
        fn arbitrary_octets_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..3000)) {
            let mut rx = Framer::new();
            rx.push(&bytes, |f| assert_eq!(f.len(), FRAME_BYTES));
        }
    }
}
