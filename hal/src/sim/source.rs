//! Audio the simulated far side plays: a queue of sources rendered frame by frame.

use super::SimError;
use crate::dsp::callerid::fsk::FskTransmitter;
use crate::dsp::dtmf::{DtmfGenerator, DtmfTiming};
use crate::dsp::ms_to_samples;
use crate::dsp::tones::{ToneGenerator, ToneKind, TonePlan};
use std::collections::VecDeque;
use std::path::PathBuf;

/// Something to play into a line, phone or seat.
#[derive(Debug, Clone, PartialEq)]
pub enum Audio {
    Silence {
        ms: u32,
    },
    /// A call-progress tone of the line's plan, for `ms` or (None) until replaced.
    Tone {
        kind: ToneKind,
        ms: Option<u32>,
    },
    Dtmf {
        digits: String,
        timing: DtmfTiming,
    },
    /// Raw samples at the line's (or seat's) rate.
    Samples(Vec<i16>),
    /// A WAV file (8/16/48 kHz, converted to 8 kHz).
    Wav(PathBuf),
}

#[derive(Debug, Clone)]
pub(crate) enum Source {
    Silence(usize),
    Tone(ToneGenerator, Option<usize>),
    Dtmf(DtmfGenerator),
    Fsk(FskTransmitter),
    Samples(Vec<i16>, usize),
}

impl Audio {
    pub(crate) fn into_source(self, plan: &TonePlan) -> Result<Source, SimError> {
        Ok(match self {
            Audio::Silence { ms } => Source::Silence(ms_to_samples(ms)),
            Audio::Tone { kind, ms } => {
                Source::Tone(ToneGenerator::new(plan.tone(kind)), ms.map(ms_to_samples))
            }
            Audio::Dtmf { digits, timing } => Source::Dtmf(
                DtmfGenerator::new(&digits, timing).map_err(|e| SimError::Audio(e.to_string()))?,
            ),
            Audio::Samples(v) => Source::Samples(v, 0),
            Audio::Wav(path) => Source::Samples(crate::wav::read_line_audio(&path)?, 0),
        })
    }
}

/// Sources played one after another; silence when empty.
#[derive(Debug, Clone, Default)]
pub(crate) struct AudioQueue(VecDeque<Source>);

impl AudioQueue {
    pub(crate) fn push(&mut self, s: Source) {
        self.0.push_back(s);
    }

    pub(crate) fn clear(&mut self) {
        self.0.clear();
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn take(&mut self) -> VecDeque<Source> {
        std::mem::take(&mut self.0)
    }

    pub(crate) fn extend(&mut self, sources: VecDeque<Source>) {
        self.0.extend(sources);
    }

    /// Overwrites `out` with the next samples.
    pub(crate) fn fill(&mut self, out: &mut [i16]) {
        let mut n = 0;
        while n < out.len() {
            let Some(src) = self.0.front_mut() else {
                out[n..].fill(0);
                return;
            };
            let rest = &mut out[n..];
            let (written, done) = match src {
                Source::Silence(left) => {
                    let k = (*left).min(rest.len());
                    rest[..k].fill(0);
                    *left -= k;
                    (k, *left == 0)
                }
                Source::Tone(g, left) => {
                    let k = left.map_or(rest.len(), |l| l.min(rest.len()));
                    g.fill(&mut rest[..k]);
                    if let Some(l) = left {
                        *l -= k;
                    }
                    (k, *left == Some(0))
                }
                Source::Dtmf(g) => {
                    let k = g.fill(rest);
                    (k, g.is_done())
                }
                Source::Fsk(t) => {
                    let k = t.fill(rest);
                    (k, t.is_done())
                }
                Source::Samples(v, pos) => {
                    let k = (v.len() - *pos).min(rest.len());
                    rest[..k].copy_from_slice(&v[*pos..*pos + k]);
                    *pos += k;
                    (k, *pos == v.len())
                }
            };
            n += written;
            if done {
                self.0.pop_front();
            }
        }
    }
}
