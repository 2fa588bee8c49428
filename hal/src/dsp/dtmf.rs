//! DTMF (ITU-T Q.23 tones) detection to Q.24 and generation.
//!
//! The detector analyses 5 ms sub-blocks and, every 5 ms, judges the last 25 ms
//! window: the phase advance between the window's first and last 20 ms must put
//! each tone within 2.5 % of nominal (Q.24: accept ±1.5 %, reject ±3.5 %); each tone,
//! re-measured at its estimated frequency, must be loud enough (−32 dBm0) with the
//! twist within limits; and the two tones must carry 85 % of the window's energy,
//! which is what rejects speech, music and noise. Duration is measured separately
//! on the 5 ms sub-blocks, which is what lets it accept 40 ms tones and reject 23 ms
//! ones although the analysis window is 25 ms long. Gaps up to 10 ms inside a digit
//! are bridged; a digit ends after 20 ms without its tones.

use super::level::mean_square_of_dbm0;
use super::oscillator::{Sine, saturate};
use super::spectrum::{BlockHistory, SubBlock, SubBlockDft};

/// Low-group (row) frequencies.
pub const ROWS: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
/// High-group (column) frequencies.
pub const COLS: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
const KEYS: [[char; 4]; 4] = [
    ['1', '2', '3', 'A'],
    ['4', '5', '6', 'B'],
    ['7', '8', '9', 'C'],
    ['*', '0', '#', 'D'],
];

/// Sub-block length: 5 ms.
const B: usize = 40;
/// Window length in sub-blocks (25 ms).
const WIN: usize = 5;
/// Window length in samples.
const N: f32 = (B * WIN) as f32;
/// Sub-blocks of history kept for duration measurement.
const HIST: usize = 12;
/// Sub-blocks a digit's tones must be present: 35 ms, between Q.24's 23 ms reject
/// and 40 ms accept.
const MIN_PRESENT: usize = 7;
/// Missing sub-blocks that end a digit: 20 ms, so 10 ms interruptions are bridged.
const END_ABSENT: usize = 4;
/// Power share of a full sub-block that counts as "tone present".
const PRESENT_POWER: f32 = 0.1;
/// Minimum level per tone (Q.24: accept −25, reject −55 dBm0).
const MIN_TONE_DBM0: f32 = -32.0;
/// Twist limits (high minus low group, dB): Q.24 requires −8..+4, plus margin for
/// the level loss of an off-nominal tone.
const TWIST_MIN_DB: f32 = -9.5;
const TWIST_MAX_DB: f32 = 5.5;
/// Share of window energy the two tones must carry.
const MIN_PURITY: f32 = 0.85;
/// Largest accepted frequency error (fraction of nominal).
const MAX_FREQ_ERROR: f32 = 0.025;

/// The key for a pair of tone indices.
pub fn key(row: usize, col: usize) -> char {
    KEYS[row][col]
}

/// The (row, column) frequencies of a key, or `None` if it is not a DTMF key.
pub fn tones_of(digit: char) -> Option<(f32, f32)> {
    let d = digit.to_ascii_uppercase();
    KEYS.iter()
        .enumerate()
        .find_map(|(r, row)| row.iter().position(|&k| k == d).map(|c| (ROWS[r], COLS[c])))
}

/// A digit being held.
#[derive(Debug, Clone, Copy)]
struct Held {
    digit: char,
    row: usize,
    col: usize,
    row_thr: f32,
    col_thr: f32,
    absent: usize,
}

/// Per-channel DTMF detector; feed it line audio in frames of any size.
#[derive(Debug, Clone)]
pub struct DtmfDetector {
    bank: SubBlockDft<8, B>,
    state: State,
}

/// Everything but the filter bank, so the bank can call back into it.
#[derive(Debug, Clone)]
struct State {
    hist: BlockHistory<8, HIST>,
    held: Option<Held>,
    min_tone_ms: f32,
}

impl Default for DtmfDetector {
    fn default() -> Self {
        Self::new()
    }
}

impl DtmfDetector {
    /// A detector with Q.24 thresholds.
    pub fn new() -> Self {
        let mut freqs = [0.0; 8];
        freqs[..4].copy_from_slice(&ROWS);
        freqs[4..].copy_from_slice(&COLS);
        let bank = SubBlockDft::new(freqs);
        Self {
            state: State {
                hist: BlockHistory::new(&bank),
                held: None,
                min_tone_ms: mean_square_of_dbm0(MIN_TONE_DBM0),
            },
            bank,
        }
    }

    /// Forgets everything heard, e.g. when a line goes on hook.
    pub fn reset(&mut self) {
        self.bank.reset();
        self.state.hist.reset();
        self.state.held = None;
    }

    /// The digit currently held down, if any.
    pub fn held(&self) -> Option<char> {
        self.state.held.map(|h| h.digit)
    }

    /// Feeds samples; `on_digit` is called once per key press, when it is recognised.
    pub fn process(&mut self, samples: &[i16], mut on_digit: impl FnMut(char)) {
        let state = &mut self.state;
        self.bank.process(samples, |b| {
            if let Some(d) = state.on_block(b) {
                on_digit(d);
            }
        });
    }

    /// Convenience for tools and tests: every digit in a recording.
    pub fn decode(samples: &[i16]) -> String {
        let mut det = Self::new();
        let mut out = String::new();
        det.process(samples, |d| out.push(d));
        // Flush: a digit at the very end still needs its trailing sub-blocks analysed.
        det.process(&[0; 2 * B * WIN], |d| out.push(d));
        out
    }
}

impl State {
    fn on_block(&mut self, b: &SubBlock<8>) -> Option<char> {
        self.hist.push(b);

        if let Some(h) = &mut self.held {
            let s = self.hist.slot(0);
            if s.power[h.row] >= h.row_thr && s.power[4 + h.col] >= h.col_thr {
                h.absent = 0;
            } else {
                h.absent += 1;
                if h.absent >= END_ABSENT {
                    self.held = None;
                }
            }
            return None;
        }
        if self.hist.seen() < WIN {
            return None;
        }
        let cand = self.judge_window()?;
        let run = (0..HIST.min(self.hist.seen()))
            .take_while(|&age| {
                let s = self.hist.slot(age);
                s.power[cand.row] >= cand.row_thr && s.power[4 + cand.col] >= cand.col_thr
            })
            .count();
        if run < MIN_PRESENT {
            return None;
        }
        self.held = Some(cand);
        Some(cand.digit)
    }

    /// Tests the newest 25 ms window; returns the candidate digit with its
    /// per-sub-block presence thresholds.
    fn judge_window(&self) -> Option<Held> {
        let mut w_pow = [0.0f32; 8];
        for (i, p) in w_pow.iter_mut().enumerate() {
            *p = self.hist.window_power(WIN, i);
        }
        let argmax = |range: std::ops::Range<usize>| {
            range.fold(None::<usize>, |best, i| match best {
                Some(b) if w_pow[b] >= w_pow[i] => Some(b),
                _ => Some(i),
            })
        };
        let row = argmax(0..4)?;
        let col = argmax(4..8)?;
        let (row_err, row_pow) = self.hist.refine(WIN, 1, row);
        let (col_err, col_pow) = self.hist.refine(WIN, 1, col);
        if row_err.abs() > MAX_FREQ_ERROR * ROWS[row]
            || col_err.abs() > MAX_FREQ_ERROR * COLS[col - 4]
        {
            return None;
        }
        // A sine of amplitude a gives |W| = aN/2, so its mean square is 2|W|²/N².
        let row_ms = 2.0 * row_pow / (N * N);
        let col_ms = 2.0 * col_pow / (N * N);
        if row_ms < self.min_tone_ms || col_ms < self.min_tone_ms {
            return None;
        }
        let twist = 10.0 * (col_ms / row_ms).log10();
        if !(TWIST_MIN_DB..=TWIST_MAX_DB).contains(&twist) {
            return None;
        }
        let energy = self.hist.energy(WIN);
        if row_ms + col_ms < MIN_PURITY * energy / N {
            return None;
        }
        // A full sub-block holds 1/WIN of the window's amplitude; "present" means at
        // least a third of that amplitude. That is low enough that the leakage of a
        // tone 8 dB stronger cannot hide the weaker one (at worst it halves its
        // amplitude in a 5 ms sub-block), and high enough that a tone covering less
        // than a third of a sub-block does not lengthen the measured duration.
        let per_block = (WIN * WIN) as f32 / PRESENT_POWER;
        Some(Held {
            digit: KEYS[row][col - 4],
            row,
            col: col - 4,
            row_thr: row_pow / per_block,
            col_thr: col_pow / per_block,
            absent: 0,
        })
    }
}

/// Levels and timing for generated DTMF.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DtmfTiming {
    pub on_ms: u32,
    pub off_ms: u32,
    /// Low-group level, dBm0.
    pub row_dbm0: f32,
    /// High-group level, dBm0 (a little louder than the low group, as phones send).
    pub col_dbm0: f32,
}

impl Default for DtmfTiming {
    fn default() -> Self {
        Self {
            on_ms: 70,
            off_ms: 70,
            row_dbm0: -8.0,
            col_dbm0: -6.0,
        }
    }
}

/// Error for a character that is not a DTMF key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a DTMF key (0-9, *, #, A-D)")]
pub struct NotADtmfKey(pub char);

/// Generates a digit string; holds up to 32 digits without allocating so it can
/// run on the audio path (IVR, caller ID, simulated phones).
#[derive(Debug, Clone)]
pub struct DtmfGenerator {
    digits: heapless::Vec<(f32, f32), 32>,
    timing: DtmfTiming,
    index: usize,
    pos: usize,
    row: Sine,
    col: Sine,
}

impl DtmfGenerator {
    /// A generator for `digits`; fails on a non-key character or more than 32 digits.
    pub fn new(digits: &str, timing: DtmfTiming) -> Result<Self, NotADtmfKey> {
        let mut v = heapless::Vec::new();
        for c in digits.chars() {
            let t = tones_of(c).ok_or(NotADtmfKey(c))?;
            v.push(t).map_err(|_| NotADtmfKey(c))?;
        }
        Ok(Self {
            digits: v,
            timing,
            index: 0,
            pos: 0,
            row: Sine::new(0.0, timing.row_dbm0),
            col: Sine::new(0.0, timing.col_dbm0),
        })
    }

    /// True once every digit and its trailing pause has been produced.
    pub fn is_done(&self) -> bool {
        self.index >= self.digits.len()
    }

    /// Writes the next samples into `out` and returns how many were written (fewer
    /// than `out.len()` only when the sequence ends).
    pub fn fill(&mut self, out: &mut [i16]) -> usize {
        let on = super::ms_to_samples(self.timing.on_ms);
        let cycle = on + super::ms_to_samples(self.timing.off_ms);
        let mut n = 0;
        while n < out.len() {
            let Some(&(r, c)) = self.digits.get(self.index) else {
                break;
            };
            if self.pos == 0 {
                self.row = Sine::new(r, self.timing.row_dbm0);
                self.col = Sine::new(c, self.timing.col_dbm0);
            }
            out[n] = if self.pos < on {
                saturate(self.row.next_sample() + self.col.next_sample())
            } else {
                0
            };
            n += 1;
            self.pos += 1;
            if self.pos >= cycle {
                self.pos = 0;
                self.index += 1;
            }
        }
        n
    }

    /// Convenience for tools and tests: the whole sequence as samples.
    pub fn render(digits: &str, timing: DtmfTiming) -> Result<Vec<i16>, NotADtmfKey> {
        let mut g = Self::new(digits, timing)?;
        let cycle = super::ms_to_samples(timing.on_ms + timing.off_ms);
        let mut out = vec![0; cycle * g.digits.len()];
        let n = g.fill(&mut out);
        out.truncate(n);
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
