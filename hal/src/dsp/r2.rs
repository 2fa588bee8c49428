//! MFC/R2 register signalling tones (ITU-T Q.441, Q.454/Q.455): generation and
//! detection of the 15 two-out-of-six signals in each direction.
//!
//! Forward signals (outgoing exchange → incoming) use 1380, 1500, 1620, 1740,
//! 1860 and 1980 Hz; backward signals 1140, 1020, 900, 780, 660 and 540 Hz.
//! Q.441 numbers the six frequencies of each direction f0..f5 in the order
//! just given (the backward ones descending) and assigns signal n the pair
//! f0+f1, f0+f2, f1+f2, f0+f3, f1+f3, f2+f3, f0+f4, f1+f4, f2+f4, f3+f4, f0+f5,
//! f1+f5, f2+f5, f3+f5, f4+f5 for n = 1..15. Checked against OpenR2's
//! `src/r2engine.c` (tables `r2_mf_fwd_tones` and `r2_mf_back_tones`, signal
//! codes "1234567890BCDEF"), which follows the Q.441 table.
//!
//! The detector follows the Q.441 receiver conditions as summarised by spandsp's
//! Q.441D receiver and Nortel's XMFC card: respond to −5 to −35 dBm0 per
//! frequency, ±10 Hz; level difference of the pair ≤ 5 dB for adjacent
//! frequencies and ≤ 7 dB otherwise; no response to signals shorter than 7 ms;
//! interruptions ≤ 7 ms do not release. It runs on the 5 ms sub-block bank shared
//! with the DTMF detector ([`super::spectrum`]) and judges 30 ms windows: the
//! two strongest frequencies must be within 15 Hz of nominal (measured from the
//! phase advance over 10 ms, so ±30 Hz is clearly rejected), loud enough, within
//! the twist limits, every other frequency of the direction at least 10 dB
//! below the weaker of the pair ("exactly two"), and the pair must carry 85 % of
//! the window's energy (speech and noise fail that).

use super::level::mean_square_of_dbm0;
use super::oscillator::{Sine, saturate};
use super::spectrum::{BlockHistory, SubBlock, SubBlockDft};

/// Forward frequencies f0..f5 (Q.441).
pub const FORWARD_HZ: [f32; 6] = [1380.0, 1500.0, 1620.0, 1740.0, 1860.0, 1980.0];
/// Backward frequencies f0..f5 (Q.441: descending).
pub const BACKWARD_HZ: [f32; 6] = [1140.0, 1020.0, 900.0, 780.0, 660.0, 540.0];
/// Frequency indices (f_a, f_b) of signals 1..=15 (Q.441).
const PAIRS: [(usize, usize); 15] = [
    (0, 1),
    (0, 2),
    (1, 2),
    (0, 3),
    (1, 3),
    (2, 3),
    (0, 4),
    (1, 4),
    (2, 4),
    (3, 4),
    (0, 5),
    (1, 5),
    (2, 5),
    (3, 5),
    (4, 5),
];

/// Sending level per frequency (Q.454: −11.5 dBm0 ± 1 dB).
pub const SEND_DBM0: f32 = -11.5;

/// Sub-block length: 5 ms.
const B: usize = 40;
/// Window length in sub-blocks (30 ms).
const WIN: usize = 6;
/// Sub-blocks between the early and late part of the window whose phase
/// difference measures the frequency: 10 ms, unambiguous to ±50 Hz.
const LAG: usize = 2;
/// Window length in samples.
const N: f32 = (B * WIN) as f32;
/// Sub-blocks of history kept for duration measurement.
const HIST: usize = 12;
/// Presence is judged on 10 ms spans (two sub-blocks): a 5 ms sub-block cannot
/// tell two frequencies 120 Hz apart, so the stronger tone's leakage could mask
/// the weaker one; over 10 ms it is below a third of the weaker's amplitude.
const SPAN: usize = 2;
/// Consecutive spans (sliding by 5 ms) a signal's tones must be present: about
/// 35 ms of tone (Q.441: nothing under 7 ms; receivers operate within ~32 ms).
const MIN_PRESENT: usize = 6;
/// Missing spans that end a signal: 15 ms, so 7 ms interruptions are bridged.
const END_ABSENT: usize = 3;
/// Power share of a full span that counts as "tone present".
const PRESENT_POWER: f32 = 0.1;
/// Level range per frequency (Q.441: respond to −5 … −35 dBm0), with margin.
const MIN_TONE_DBM0: f32 = -38.0;
const MAX_TONE_DBM0: f32 = 0.0;
/// Largest level difference of the pair: adjacent / non-adjacent frequencies
/// (Q.441: 5 / 7 dB), plus 1 dB for measurement.
const TWIST_ADJACENT_DB: f32 = 6.0;
const TWIST_OTHER_DB: f32 = 8.0;
/// Every other frequency must be this far below the weaker tone of the pair.
const OTHERS_BELOW_DB: f32 = 10.0;
/// Share of window energy the pair must carry.
const MIN_PURITY: f32 = 0.85;
/// Largest accepted frequency error (Q.441 accepts ±10 Hz).
const MAX_FREQ_ERROR_HZ: f32 = 15.0;

/// Which way a signal travels: the direction picks the frequency set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Outgoing → incoming exchange (groups I and II).
    Forward,
    /// Incoming → outgoing exchange (groups A and B).
    Backward,
}

impl Direction {
    /// The six frequencies f0..f5 of this direction.
    pub fn frequencies(self) -> [f32; 6] {
        match self {
            Direction::Forward => FORWARD_HZ,
            Direction::Backward => BACKWARD_HZ,
        }
    }
}

/// Errors for R2 signals named by external input (configuration, test scripts).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum R2Error {
    /// Signals are numbered 1 to 15.
    #[error("MFC/R2 signal {0} does not exist (signals are 1 to 15)")]
    NoSuchSignal(u8),
    /// Only the digits 0-9 have R2 signals (1-9 are signals 1-9, 0 is signal 10).
    #[error("{0:?} is not a digit MFC/R2 can send (0-9)")]
    NotADigit(char),
}

/// One MFC/R2 signal, 1..=15; its meaning depends on the group in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct R2Signal(u8);

impl R2Signal {
    /// Signal `n`, validated.
    pub fn new(n: u8) -> Result<Self, R2Error> {
        if (1..=15).contains(&n) {
            Ok(Self(n))
        } else {
            Err(R2Error::NoSuchSignal(n))
        }
    }

    /// The signal sending digit `d` in groups I (1-9 → 1-9, 0 → 10).
    pub fn from_digit(d: char) -> Result<Self, R2Error> {
        match d.to_digit(10) {
            Some(0) => Ok(Self(10)),
            Some(n) => Ok(Self(n as u8)),
            None => Err(R2Error::NotADigit(d)),
        }
    }

    /// The signal number.
    pub fn get(self) -> u8 {
        self.0
    }

    /// The digit this signal carries in group I, if it is a digit signal (1-10).
    pub fn digit(self) -> Option<char> {
        match self.0 {
            10 => Some('0'),
            n @ 1..=9 => char::from_digit(u32::from(n), 10),
            _ => None,
        }
    }

    /// Indices (a, b) of its two frequencies, a < b.
    pub fn pair(self) -> (usize, usize) {
        PAIRS[usize::from(self.0 - 1)]
    }

    /// Its two frequencies in `dir`.
    pub fn frequencies(self, dir: Direction) -> (f32, f32) {
        let (a, b) = self.pair();
        let f = dir.frequencies();
        (f[a], f[b])
    }

    fn of_pair(a: usize, b: usize) -> Option<Self> {
        let (a, b) = (a.min(b), a.max(b));
        PAIRS
            .iter()
            .position(|&p| p == (a, b))
            .map(|i| Self(i as u8 + 1))
    }
}

impl std::fmt::Display for R2Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Sends one direction's signals: a compelled signal stays on until the other
/// side's acknowledgement, so the generator plays the chosen signal (or
/// silence) continuously until told otherwise.
#[derive(Debug, Clone)]
pub struct R2Generator {
    dir: Direction,
    dbm0: f32,
    signal: Option<R2Signal>,
    a: Sine,
    b: Sine,
}

impl R2Generator {
    /// A silent generator for `dir` at the Q.454 level.
    pub fn new(dir: Direction) -> Self {
        Self::with_level(dir, SEND_DBM0)
    }

    /// A silent generator for `dir` at `dbm0` per frequency (tests, level sweeps).
    pub fn with_level(dir: Direction, dbm0: f32) -> Self {
        Self {
            dir,
            dbm0,
            signal: None,
            a: Sine::new(0.0, dbm0),
            b: Sine::new(0.0, dbm0),
        }
    }

    /// The signal being sent.
    pub fn signal(&self) -> Option<R2Signal> {
        self.signal
    }

    /// Starts sending `signal` (or silence); the same signal again keeps its phase.
    pub fn set(&mut self, signal: Option<R2Signal>) {
        if signal == self.signal {
            return;
        }
        self.signal = signal;
        if let Some(s) = signal {
            let (fa, fb) = s.frequencies(self.dir);
            self.a = Sine::new(fa, self.dbm0);
            self.b = Sine::new(fb, self.dbm0);
        }
    }

    /// Overwrites `out` with the signal (or silence).
    pub fn fill(&mut self, out: &mut [i16]) {
        if self.signal.is_none() {
            out.fill(0);
            return;
        }
        for x in out {
            *x = saturate(self.a.next_sample() + self.b.next_sample());
        }
    }

    /// Convenience for tools and tests: `signal` for `ms` milliseconds.
    pub fn render(dir: Direction, signal: R2Signal, ms: u32) -> Vec<i16> {
        let mut g = Self::new(dir);
        g.set(Some(signal));
        let mut out = vec![0; super::ms_to_samples(ms)];
        g.fill(&mut out);
        out
    }
}

/// A signal being held.
#[derive(Debug, Clone, Copy)]
struct Held {
    signal: R2Signal,
    a: usize,
    b: usize,
    a_thr: f32,
    b_thr: f32,
    absent: usize,
}

/// Per-channel R2 detector for one direction; feed it line audio in frames of
/// any size. It reports both the start and the end of each signal, because
/// compelled signalling advances on both.
#[derive(Debug, Clone)]
pub struct R2Detector {
    bank: SubBlockDft<6, B>,
    state: State,
}

/// Everything but the filter bank, so the bank can call back into it.
#[derive(Debug, Clone)]
struct State {
    hist: BlockHistory<6, HIST>,
    held: Option<Held>,
    min_ms: f32,
    max_ms: f32,
}

impl R2Detector {
    /// A detector of `dir`'s signals with Q.441 thresholds.
    pub fn new(dir: Direction) -> Self {
        let bank = SubBlockDft::new(dir.frequencies());
        Self {
            state: State {
                hist: BlockHistory::new(&bank),
                held: None,
                min_ms: mean_square_of_dbm0(MIN_TONE_DBM0),
                max_ms: mean_square_of_dbm0(MAX_TONE_DBM0),
            },
            bank,
        }
    }

    /// Forgets everything heard, e.g. when a channel goes idle.
    pub fn reset(&mut self) {
        self.bank.reset();
        self.state.hist.reset();
        self.state.held = None;
    }

    /// The signal present now, if any.
    pub fn signal(&self) -> Option<R2Signal> {
        self.state.held.map(|h| h.signal)
    }

    /// Feeds samples; `on_change` gets `Some(signal)` when a signal is
    /// recognised and `None` when it ends.
    pub fn process(&mut self, samples: &[i16], mut on_change: impl FnMut(Option<R2Signal>)) {
        let state = &mut self.state;
        self.bank.process(samples, |b| {
            if let Some(change) = state.on_block(b) {
                on_change(change);
            }
        });
    }

    /// Convenience for tools and tests: every signal in a recording, in order.
    pub fn decode(dir: Direction, samples: &[i16]) -> Vec<R2Signal> {
        let mut det = Self::new(dir);
        let mut out = Vec::new();
        det.process(samples, |s| out.extend(s));
        // Flush: a signal at the very end still needs its trailing sub-blocks.
        det.process(&[0; 2 * B * WIN], |s| out.extend(s));
        out
    }
}

impl State {
    /// One sub-block; returns a change of the held signal.
    fn on_block(&mut self, b: &SubBlock<6>) -> Option<Option<R2Signal>> {
        self.hist.push(b);
        if let Some(mut h) = self.held {
            h.absent = if self.present(0, &h) { 0 } else { h.absent + 1 };
            if h.absent >= END_ABSENT {
                self.held = None;
                return Some(None);
            }
            self.held = Some(h);
            return None;
        }
        if self.hist.seen() < WIN {
            return None;
        }
        let cand = self.judge_window()?;
        let run = (0..(HIST + 1).saturating_sub(SPAN).min(self.hist.seen()))
            .take_while(|&age| self.present(age, &cand))
            .count();
        if run < MIN_PRESENT {
            return None;
        }
        self.held = Some(cand);
        Some(Some(cand.signal))
    }

    /// Whether both tones of `h` are in the span ending `age` sub-blocks ago.
    fn present(&self, age: usize, h: &Held) -> bool {
        self.hist.span_power(age, SPAN, h.a) >= h.a_thr
            && self.hist.span_power(age, SPAN, h.b) >= h.b_thr
    }

    /// Tests the newest window; returns the candidate signal with its
    /// per-sub-block presence thresholds.
    fn judge_window(&self) -> Option<Held> {
        let mut pow = [0.0f32; 6];
        for (i, p) in pow.iter_mut().enumerate() {
            *p = self.hist.window_power(WIN, i);
        }
        let mut order = [0, 1, 2, 3, 4, 5];
        order.sort_by(|&x, &y| pow[y].total_cmp(&pow[x]));
        let (a, b) = (order[0].min(order[1]), order[0].max(order[1]));
        let (a_err, a_pow) = self.hist.refine(WIN, LAG, a);
        let (b_err, b_pow) = self.hist.refine(WIN, LAG, b);
        if a_err.abs() > MAX_FREQ_ERROR_HZ || b_err.abs() > MAX_FREQ_ERROR_HZ {
            return None;
        }
        // A sine of amplitude x gives |W| = xN/2, so its mean square is 2|W|²/N².
        let a_ms = 2.0 * a_pow / (N * N);
        let b_ms = 2.0 * b_pow / (N * N);
        let level_ok = |ms: f32| (self.min_ms..=self.max_ms).contains(&ms);
        if !level_ok(a_ms) || !level_ok(b_ms) {
            return None;
        }
        let twist = (10.0 * (a_ms / b_ms).log10()).abs();
        let limit = if b - a == 1 {
            TWIST_ADJACENT_DB
        } else {
            TWIST_OTHER_DB
        };
        if twist > limit {
            return None;
        }
        let weaker = pow[a].min(pow[b]);
        let others = 10f32.powf(-OTHERS_BELOW_DB / 10.0) * weaker;
        if order[2..].iter().any(|&i| pow[i] > others) {
            return None;
        }
        if a_ms + b_ms < MIN_PURITY * self.hist.energy(WIN) / N {
            return None;
        }
        let signal = R2Signal::of_pair(a, b)?;
        // As in the DTMF detector: "present" in a span means at least a third
        // of a full span's share of the window amplitude.
        let per_block = ((WIN * WIN) / (SPAN * SPAN)) as f32 / PRESENT_POWER;
        Some(Held {
            signal,
            a,
            b,
            a_thr: a_pow / per_block,
            b_thr: b_pow / per_block,
            absent: 0,
        })
    }
}

#[cfg(test)]
mod tests;
