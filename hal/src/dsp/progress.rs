//! Call-progress tone detection with cadence matching.
//!
//! On an FXO line the exchange's busy or congestion tone is often the only sign
//! that the caller has hung up. A detector that only looks for 450 Hz hangs up on
//! hold music and on conference audio (Asterisk's `busydetect` lesson), so this one
//! classifies every 20 ms frame as tone (with the exact frequency set of the plan),
//! silence or other sound, run-length encodes that, and reports a tone only when the
//! segments repeat the plan's cadence for several cycles at a steady level. Any
//! other sound in between breaks the match.

use super::FRAME_20MS;
use super::level::{dbm0_of_mean_square, mean_square_of_dbm0};
use super::spectrum::SubBlockDft;
use super::tones::{ToneKind, TonePlan};

/// Frames are analysed in 20 ms blocks (50 Hz resolution separates 440 from 480 Hz).
const BLOCK: usize = FRAME_20MS;
const BLOCK_MS: u32 = 20;
/// Distinct frequencies a plan may use.
const MAX_FREQS: usize = 4;
/// Below this a frame is silence (the "off" part of a cadence).
const SILENCE_DBM0: f32 = -45.0;
/// The tone's frequencies must carry this share of a frame's energy.
const MIN_PURITY: f32 = 0.75;
/// Cadence durations may deviate by this much (ms) or this fraction, whichever is larger.
const TOLERANCE_MS: u32 = 60;
const TOLERANCE_FRACTION: f32 = 0.2;
/// On-levels within one match must agree within this (dB).
const LEVEL_SPREAD_DB: f32 = 3.0;
/// A continuous tone is "dial tone" after this long.
const DIAL_MS: u32 = 1600;

/// What one stretch of audio was.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Class {
    /// Tone made of the plan's frequency set `set`.
    Tone {
        set: usize,
    },
    Silence,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Segment {
    class: Class,
    ms: u32,
    /// Mean level (dBm0) for tone segments.
    level: f32,
}

/// Settings for a detector.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProgressConfig {
    /// Full cadence cycles a disconnect tone (busy/congestion) must show before it is
    /// reported. REFERENCES.md: 4–6 cycles avoid false hang-ups.
    pub disconnect_cycles: usize,
}

impl Default for ProgressConfig {
    fn default() -> Self {
        Self {
            disconnect_cycles: 4,
        }
    }
}

/// Per-line call-progress detector for one tone plan.
#[derive(Debug, Clone)]
pub struct ProgressDetector {
    bank: SubBlockDft<MAX_FREQS, BLOCK>,
    state: State,
}

#[derive(Debug, Clone)]
struct State {
    plan: &'static TonePlan,
    config: ProgressConfig,
    /// Per distinct frequency set: indices into the bank.
    sets: heapless::Vec<heapless::Vec<usize, 2>, 5>,
    /// Which set each tone kind uses.
    kind_set: [usize; 5],
    current: Segment,
    level_sum: f32,
    history: heapless::Deque<Segment, 16>,
    reported: Option<ToneKind>,
}

impl ProgressDetector {
    /// A detector for `plan`.
    pub fn new(plan: &'static TonePlan, config: ProgressConfig) -> Self {
        let mut freqs: heapless::Vec<f32, MAX_FREQS> = heapless::Vec::new();
        let mut sets: heapless::Vec<heapless::Vec<usize, 2>, 5> = heapless::Vec::new();
        let mut kind_set = [0; 5];
        for (k, kind) in ToneKind::ALL.into_iter().enumerate() {
            let mut set: heapless::Vec<usize, 2> = heapless::Vec::new();
            for &f in plan.tone(kind).freqs.iter().take(2) {
                let i = match freqs.iter().position(|&g| g == f) {
                    Some(i) => i,
                    // The built-in plans use at most 4 distinct frequencies; a
                    // fifth would be ignored rather than panic.
                    None => match freqs.push(f) {
                        Ok(()) => freqs.len() - 1,
                        Err(_) => continue,
                    },
                };
                let _ = set.push(i);
            }
            kind_set[k] = match sets.iter().position(|s| *s == set) {
                Some(i) => i,
                None => {
                    let _ = sets.push(set);
                    sets.len() - 1
                }
            };
        }
        let mut bank_freqs = [0.0; MAX_FREQS];
        bank_freqs[..freqs.len()].copy_from_slice(&freqs);
        Self {
            bank: SubBlockDft::new(bank_freqs),
            state: State {
                plan,
                config,
                sets,
                kind_set,
                current: Segment {
                    class: Class::Other,
                    ms: 0,
                    level: 0.0,
                },
                level_sum: 0.0,
                history: heapless::Deque::new(),
                reported: None,
            },
        }
    }

    /// Feeds line audio; `on_tone` is called when a tone is recognised (once per
    /// episode: a steady busy tone is reported once, not every cycle).
    pub fn process(&mut self, samples: &[i16], mut on_tone: impl FnMut(ToneKind)) {
        let state = &mut self.state;
        self.bank.process(samples, |b| {
            let ms = b.energy / BLOCK as f32;
            let class = if dbm0_of_mean_square(ms) < SILENCE_DBM0 {
                Class::Silence
            } else {
                state.classify(&b.re, &b.im, ms)
            };
            if let Some(kind) = state.push(class, dbm0_of_mean_square(ms)) {
                on_tone(kind);
            }
        });
    }

    /// The tone currently recognised, if any.
    pub fn current(&self) -> Option<ToneKind> {
        self.state.reported
    }
}

impl State {
    fn classify(&self, re: &[f32; MAX_FREQS], im: &[f32; MAX_FREQS], ms: f32) -> Class {
        let floor = mean_square_of_dbm0(SILENCE_DBM0);
        let tone_ms = |i: usize| 2.0 * (re[i] * re[i] + im[i] * im[i]) / (BLOCK * BLOCK) as f32;
        let mut best: Option<(usize, f32)> = None;
        for (s, set) in self.sets.iter().enumerate() {
            let parts = set.len() as f32;
            let each_ok = set
                .iter()
                .all(|&i| tone_ms(i) >= floor && tone_ms(i) >= 0.25 * ms / parts);
            let purity = set.iter().map(|&i| tone_ms(i)).sum::<f32>() / ms;
            if each_ok && purity >= MIN_PURITY && best.is_none_or(|(_, p)| purity > p) {
                best = Some((s, purity));
            }
        }
        best.map_or(Class::Other, |(set, _)| Class::Tone { set })
    }

    fn push(&mut self, class: Class, level: f32) -> Option<ToneKind> {
        if class == self.current.class {
            self.current.ms += BLOCK_MS;
            self.level_sum += level;
        } else {
            self.close_segment();
            self.current = Segment {
                class,
                ms: BLOCK_MS,
                level: 0.0,
            };
            self.level_sum = level;
        }
        // One odd frame is the frame that straddles a tone edge; more is real sound.
        if self.current.class == Class::Other && self.current.ms > BLOCK_MS {
            self.reported = None;
        }
        let found = self.recognise();
        if found.is_some() && found != self.reported {
            self.reported = found;
            return found;
        }
        None
    }

    fn close_segment(&mut self) {
        let mut done = self.current;
        if done.ms == 0 {
            return;
        }
        // A frame half tone, half silence has a smeared spectrum and classifies as
        // "other": fold it into the segment before it.
        if done.class == Class::Other
            && done.ms == BLOCK_MS
            && let Some(prev) = self.history.back_mut()
            && prev.class != Class::Other
        {
            prev.ms += BLOCK_MS;
            return;
        }
        done.level = self.level_sum / (done.ms / BLOCK_MS) as f32;
        if self.history.is_full() {
            self.history.pop_front();
        }
        let _ = self.history.push_back(done);
    }

    fn recognise(&self) -> Option<ToneKind> {
        for (k, kind) in ToneKind::ALL.into_iter().enumerate() {
            let spec = self.plan.tone(kind);
            let set = self.kind_set[k];
            if spec.cadence.is_empty() {
                if self.current.class == (Class::Tone { set }) && self.current.ms >= DIAL_MS {
                    return Some(kind);
                }
                continue;
            }
            // Only judge at the moment a segment has just completed.
            if self.current.ms != BLOCK_MS {
                continue;
            }
            let cycles = if kind.means_disconnect() {
                self.config.disconnect_cycles
            } else {
                1
            };
            if self.matches(spec.cadence, set, cycles * spec.cadence.len()) {
                return Some(kind);
            }
        }
        None
    }

    /// Do the last `count` completed segments follow `cadence` (any phase)?
    fn matches(&self, cadence: &[u32], set: usize, count: usize) -> bool {
        let n = self.history.len();
        if count == 0 || n < count {
            return false;
        }
        let recent = || self.history.iter().skip(n - count);
        (0..cadence.len()).any(|phase| {
            recent().enumerate().all(|(j, seg)| {
                let step = (phase + j) % cadence.len();
                let want = cadence[step];
                let tol = TOLERANCE_MS.max((want as f32 * TOLERANCE_FRACTION) as u32);
                let class_ok = if step.is_multiple_of(2) {
                    seg.class == Class::Tone { set }
                } else {
                    seg.class == Class::Silence
                };
                class_ok && seg.ms.abs_diff(want) <= tol
            })
        }) && {
            let levels = recent()
                .filter(|s| s.class != Class::Silence)
                .map(|s| s.level);
            let (lo, hi) = levels.fold((f32::MAX, f32::MIN), |(lo, hi), l| (lo.min(l), hi.max(l)));
            hi - lo <= LEVEL_SPREAD_DB
        }
    }
}

#[cfg(test)]
mod tests;
