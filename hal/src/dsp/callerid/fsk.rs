//! FSK caller ID: Bell 202 and V.23 modulator and a demodulator for both.
//!
//! Bell 202 (1200/2200 Hz) and V.23 (1300/2100 Hz) share their centre frequency,
//! 1700 Hz, so one discriminator decodes either: mix to baseband at 1700 Hz,
//! low-pass, measure instantaneous frequency, slice at zero (mark is the lower
//! tone in both). The measured deviation (±500 vs ±400 Hz) tells which one it was.

use super::CidStandard;
use super::message::{CallerId, CallerIdError, MDMF, MessageBytes, SDMF};
use crate::dsp::LINE_RATE;
use crate::dsp::level::mean_square_of_dbm0;
use crate::dsp::oscillator::{Sine, saturate};
use std::f32::consts::TAU;

const BAUD: u32 = 1200;
const CENTRE: f32 = 1700.0;
/// Bits of alternating 0/1 that open a transmission (channel seizure).
pub const SEIZURE_BITS: usize = 300;
/// Mark bits between seizure and message: Bell 180; ETSI asks for 80 ± 25.
pub const MARK_BITS: usize = 180;
const TRAILING_MARK_BITS: usize = 10;
/// Transmit level of the FSK signal.
pub const LEVEL_DBM0: f32 = -12.0;

impl CidStandard {
    /// (mark, space) frequencies in Hz, for the FSK standards.
    pub fn fsk_tones(self) -> Option<(f32, f32)> {
        match self {
            CidStandard::Bell202 => Some((1200.0, 2200.0)),
            CidStandard::V23 => Some((1300.0, 2100.0)),
            CidStandard::Dtmf => None,
        }
    }
}

/// Generates one FSK caller ID transmission: seizure, marks, message, trailing marks.
#[derive(Debug, Clone)]
pub struct FskTransmitter {
    msg: MessageBytes,
    mark: f32,
    space: f32,
    osc: Sine,
    bit: usize,
    clock: u32,
}

impl FskTransmitter {
    /// A transmitter for an encoded message; `standard` must be an FSK one.
    pub fn new(msg: MessageBytes, standard: CidStandard) -> Option<Self> {
        let (mark, space) = standard.fsk_tones()?;
        Some(Self {
            msg,
            mark,
            space,
            osc: Sine::new(mark, LEVEL_DBM0),
            bit: 0,
            clock: 0,
        })
    }

    fn total_bits(&self) -> usize {
        SEIZURE_BITS + MARK_BITS + 10 * self.msg.len() + TRAILING_MARK_BITS
    }

    /// Bit `i` of the transmission (true = mark).
    fn bit_at(&self, i: usize) -> bool {
        if i < SEIZURE_BITS {
            return i % 2 == 1;
        }
        let i = i - SEIZURE_BITS;
        if i < MARK_BITS {
            return true;
        }
        let i = i - MARK_BITS;
        match self.msg.get(i / 10) {
            // 8N1, least significant bit first.
            Some(&byte) => match i % 10 {
                0 => false,
                9 => true,
                k => byte >> (k - 1) & 1 == 1,
            },
            None => true,
        }
    }

    /// True once the whole transmission has been produced.
    pub fn is_done(&self) -> bool {
        self.bit >= self.total_bits()
    }

    /// Writes up to `out.len()` samples; returns how many (fewer only at the end).
    pub fn fill(&mut self, out: &mut [i16]) -> usize {
        let total = self.total_bits();
        let mut n = 0;
        while n < out.len() && self.bit < total {
            let f = if self.bit_at(self.bit) {
                self.mark
            } else {
                self.space
            };
            self.osc.set_freq(f);
            out[n] = saturate(self.osc.next_sample());
            n += 1;
            self.clock += BAUD;
            if self.clock >= LINE_RATE {
                self.clock -= LINE_RATE;
                self.bit += 1;
            }
        }
        n
    }

    /// Convenience for tools and tests: the whole transmission.
    pub fn render(
        id: &CallerId,
        standard: CidStandard,
        sdmf: bool,
    ) -> Result<Vec<i16>, CallerIdError> {
        let msg = id.encode(sdmf)?;
        let mut tx =
            Self::new(msg, standard).ok_or(CallerIdError::BadField("not an FSK standard"))?;
        let mut out = vec![0; tx.total_bits() * 7 + 8];
        let n = tx.fill(&mut out);
        out.truncate(n);
        Ok(out)
    }
}

/// Low-pass FIR after the 1700 Hz mixer: 11 taps, ~1 kHz cut-off, removes the
/// 3400 Hz image while passing the ±500 Hz deviation.
const TAPS: usize = 11;

/// What the UART is doing.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Uart {
    /// Line idle at mark; counts mark samples.
    Idle { mark_run: u32 },
    /// Inside a character; `pos` is samples since the start edge.
    Char {
        pos: f32,
        next: u32,
        bits: u16,
        after_idle: u32,
    },
}

/// Streaming FSK caller ID demodulator.
#[derive(Debug, Clone)]
pub struct FskReceiver {
    lo: [(f32, f32); 80],
    lo_idx: usize,
    fir: [f32; TAPS],
    hist: [(f32, f32); TAPS],
    hist_idx: usize,
    prev: (f32, f32),
    smooth: [f32; 3],
    smooth_idx: usize,
    uart: Uart,
    msg: MessageBytes,
    in_message: bool,
    carrier_floor: f32,
    dev_sum: f32,
    dev_count: u32,
}

impl Default for FskReceiver {
    fn default() -> Self {
        Self::new()
    }
}

const SAMPLES_PER_BIT: f32 = LINE_RATE as f32 / BAUD as f32;

impl FskReceiver {
    /// A receiver for Bell 202 and V.23 alike.
    pub fn new() -> Self {
        let mut lo = [(0.0, 0.0); 80];
        for (n, l) in lo.iter_mut().enumerate() {
            let (s, c) = (TAU * CENTRE * n as f32 / LINE_RATE as f32).sin_cos();
            *l = (c, -s);
        }
        let mut fir = [0.0; TAPS];
        let fc = 1000.0 / LINE_RATE as f32;
        let mid = (TAPS / 2) as f32;
        for (i, t) in fir.iter_mut().enumerate() {
            let x = i as f32 - mid;
            let sinc = if x == 0.0 {
                2.0 * fc
            } else {
                (TAU * fc * x).sin() / (std::f32::consts::PI * x)
            };
            let hann = 0.5 - 0.5 * (TAU * (i as f32 + 1.0) / (TAPS as f32 + 1.0)).cos();
            *t = sinc * hann;
        }
        let gain: f32 = fir.iter().sum();
        fir.iter_mut().for_each(|t| *t /= gain);
        Self {
            lo,
            lo_idx: 0,
            fir,
            hist: [(0.0, 0.0); TAPS],
            hist_idx: 0,
            prev: (0.0, 0.0),
            smooth: [0.0; 3],
            smooth_idx: 0,
            uart: Uart::Idle { mark_run: 0 },
            msg: MessageBytes::new(),
            in_message: false,
            // Carrier present above −40 dBm0 (after mixing, power halves).
            carrier_floor: mean_square_of_dbm0(-40.0) / 4.0,
            dev_sum: 0.0,
            dev_count: 0,
        }
    }

    /// Feeds line audio; `on_message` gets each decoded message (or why one failed).
    pub fn process(
        &mut self,
        samples: &[i16],
        mut on_message: impl FnMut(Result<(CallerId, CidStandard), CallerIdError>),
    ) {
        for &x in samples {
            let x = f32::from(x);
            let l = self.lo[self.lo_idx];
            self.lo_idx = (self.lo_idx + 1) % self.lo.len();
            self.hist[self.hist_idx] = (x * l.0, x * l.1);
            self.hist_idx = (self.hist_idx + 1) % TAPS;
            let mut z = (0.0, 0.0);
            for (k, &t) in self.fir.iter().enumerate() {
                let h = self.hist[(self.hist_idx + k) % TAPS];
                z = (z.0 + t * h.0, z.1 + t * h.1);
            }
            let p = self.prev;
            self.prev = z;
            let power = z.0 * z.0 + z.1 * z.1;
            if power < self.carrier_floor {
                self.lose_carrier(&mut on_message);
                continue;
            }
            // Instantaneous frequency relative to 1700 Hz.
            let cross = z.1 * p.0 - z.0 * p.1;
            let dot = z.0 * p.0 + z.1 * p.1;
            let dev = cross.atan2(dot) * LINE_RATE as f32 / TAU;
            self.smooth[self.smooth_idx] = dev;
            self.smooth_idx = (self.smooth_idx + 1) % self.smooth.len();
            let dev = self.smooth.iter().sum::<f32>() / self.smooth.len() as f32;
            // The mark tone measured while the line idles at mark tells the standard.
            if dev < 0.0 && matches!(self.uart, Uart::Idle { mark_run } if mark_run > 8) {
                self.dev_sum -= dev;
                self.dev_count += 1;
            }
            self.clock_bit(dev < 0.0, &mut on_message);
        }
    }

    fn lose_carrier(
        &mut self,
        on_message: &mut impl FnMut(Result<(CallerId, CidStandard), CallerIdError>),
    ) {
        if self.in_message {
            on_message(Err(CallerIdError::Truncated));
        }
        self.in_message = false;
        self.msg.clear();
        self.uart = Uart::Idle { mark_run: 0 };
        self.dev_sum = 0.0;
        self.dev_count = 0;
    }

    fn clock_bit(
        &mut self,
        mark: bool,
        on_message: &mut impl FnMut(Result<(CallerId, CidStandard), CallerIdError>),
    ) {
        match &mut self.uart {
            Uart::Idle { mark_run } => {
                if mark {
                    *mark_run = mark_run.saturating_add(1);
                } else {
                    self.uart = Uart::Char {
                        pos: 0.0,
                        next: 0,
                        bits: 0,
                        after_idle: *mark_run,
                    };
                }
            }
            Uart::Char {
                pos,
                next,
                bits,
                after_idle,
            } => {
                *pos += 1.0;
                // Sample bit k (0 = start, 9 = stop) at its middle.
                if *pos >= (*next as f32 + 0.5) * SAMPLES_PER_BIT {
                    *bits |= u16::from(mark) << *next;
                    *next += 1;
                    if *next == 1 && mark {
                        // Start bit did not hold: a glitch.
                        self.uart = Uart::Idle { mark_run: 0 };
                    } else if *next == 10 {
                        let (bits, after_idle) = (*bits, *after_idle);
                        self.uart = Uart::Idle { mark_run: 0 };
                        self.on_char(bits, after_idle, on_message);
                    }
                }
            }
        }
    }

    fn on_char(
        &mut self,
        bits: u16,
        after_idle: u32,
        on_message: &mut impl FnMut(Result<(CallerId, CidStandard), CallerIdError>),
    ) {
        let byte = (bits >> 1) as u8;
        let stop_ok = bits & 0x200 != 0;
        if !self.in_message {
            // A message starts with its type byte after at least 10 mark bits,
            // which is what separates it from the 0x55 seizure pattern.
            if stop_ok
                && after_idle as f32 >= 10.0 * SAMPLES_PER_BIT
                && (byte == SDMF || byte == MDMF)
            {
                self.in_message = true;
                self.msg.clear();
                let _ = self.msg.push(byte);
            }
            return;
        }
        if !stop_ok {
            self.in_message = false;
            on_message(Err(CallerIdError::Framing));
            return;
        }
        if self.msg.push(byte).is_err() {
            self.in_message = false;
            on_message(Err(CallerIdError::TooLong));
            return;
        }
        if self.msg.len() >= 2 && self.msg.len() == usize::from(self.msg[1]) + 3 {
            self.in_message = false;
            let mean_dev = self.dev_sum / self.dev_count.max(1) as f32;
            let standard = if mean_dev > 450.0 {
                CidStandard::Bell202
            } else {
                CidStandard::V23
            };
            on_message(CallerId::parse(&self.msg).map(|id| (id, standard)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{Rng, add_noise};
    use proptest::prelude::*;

    fn decode(x: &[i16]) -> Vec<Result<(CallerId, CidStandard), CallerIdError>> {
        let mut rx = FskReceiver::new();
        let mut out = Vec::new();
        for frame in x.chunks(160) {
            rx.process(frame, |m| out.push(m));
        }
        out
    }

    fn sample_id() -> CallerId {
        CallerId {
            time: Some(super::super::DateTime {
                month: 3,
                day: 14,
                hour: 15,
                minute: 9,
            }),
            ..CallerId::with_number("13912345678")
                .unwrap()
                .named("ZHANG SAN")
                .unwrap()
        }
    }

    #[test]
    fn bell202_and_v23_round_trip_and_are_told_apart() {
        for std in [CidStandard::Bell202, CidStandard::V23] {
            for sdmf in [false, true] {
                let mut x = vec![0i16; 800];
                x.extend(FskTransmitter::render(&sample_id(), std, sdmf).unwrap());
                x.extend([0; 800]);
                let got = decode(&x);
                assert_eq!(got.len(), 1, "{std:?} {got:?}");
                let (id, s) = got[0].clone().unwrap();
                assert_eq!(s, std);
                assert_eq!(id.number, "13912345678");
                assert_eq!(id.time, sample_id().time);
                if !sdmf {
                    assert_eq!(id.name, "ZHANG SAN");
                }
            }
        }
    }

    #[test]
    fn transmission_timing_matches_bell_202() {
        let msg = sample_id().encode(false).unwrap();
        let bytes = msg.len();
        let x = FskTransmitter::render(&sample_id(), CidStandard::Bell202, false).unwrap();
        let bits = SEIZURE_BITS + MARK_BITS + 10 * bytes + 10;
        // 1200 bit/s at 8 kHz: 20 samples every 3 bits.
        assert!((x.len() as i64 - (bits * 20 / 3) as i64).abs() <= 1);
        assert!((crate::dsp::level::dbm0(&x) - LEVEL_DBM0).abs() < 0.2);
        assert!(FskTransmitter::new(msg, CidStandard::Dtmf).is_none());
    }

    #[test]
    fn decodes_through_noise_level_change_and_frequency_error() {
        let mut rng = Rng::new(3);
        let mut x = FskTransmitter::render(&sample_id(), CidStandard::Bell202, false).unwrap();
        for s in &mut x {
            *s = (f32::from(*s) * 0.3) as i16; // ≈ −22 dBm0
        }
        add_noise(&mut x, -45.0, &mut rng);
        let got = decode(&x);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].as_ref().unwrap().0.number, "13912345678");
    }

    #[test]
    fn corrupted_messages_are_reported_not_accepted() {
        let mut msg = sample_id().encode(false).unwrap();
        let n = msg.len();
        msg[n - 2] ^= 0x01;
        let mut tx = FskTransmitter::new(msg, CidStandard::V23).unwrap();
        let mut x = vec![0i16; 20_000];
        let k = tx.fill(&mut x);
        let got = decode(&x[..k]);
        assert_eq!(got, vec![Err(CallerIdError::BadChecksum)]);
        // Carrier lost mid-message.
        let full = FskTransmitter::render(&sample_id(), CidStandard::Bell202, false).unwrap();
        let mut cut = full[..full.len() - 400].to_vec();
        cut.extend([0; 400]);
        assert_eq!(decode(&cut), vec![Err(CallerIdError::Truncated)]);
        // Silence and speech-band noise decode to nothing.
        let mut noise = vec![0i16; 16000];
        add_noise(&mut noise, -20.0, &mut Rng::new(4));
        assert!(decode(&noise).iter().all(|m| m.is_err()));
    }

    proptest! {
        #[test]
        fn any_number_round_trips(number in "[0-9]{1,20}", v23: bool) {
            let std = if v23 { CidStandard::V23 } else { CidStandard::Bell202 };
            let id = CallerId::with_number(&number).unwrap();
            let got = decode(&FskTransmitter::render(&id, std, false).unwrap());
            prop_assert_eq!(got.len(), 1);
            prop_assert_eq!(&got[0].as_ref().unwrap().0.number, &id.number);
        }

        #[test]
        fn arbitrary_audio_never_panics(x in proptest::collection::vec(any::<i16>(), 0..3000)) {
            decode(&x);
        }
    }
}
