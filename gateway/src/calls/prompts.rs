//! What callers and agents hear from the gateway itself: IVR prompts (generated
//! tones or WAV files from the prompt directory), music on hold, position
//! announcements and the ring tone in a headset. Every source is a
//! [`PromptSource`] the call's mixer plays into one participant's ear.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use tandem_hal::dsp::LINE_RATE;
use tandem_node::ivr::Prompt;

use crate::media::mixer::{Beep, Clip, PromptSource};

/// Prompt level: loud enough to be clear, well below clipping when mixed.
const LEVEL: f64 = 0.25 * 32767.0;

/// Several sine components played together, in a repeating on/off cadence.
pub struct ToneSource {
    steps: Vec<f64>,
    phases: Vec<f64>,
    on: usize,
    off: usize,
    pos: usize,
    /// Samples left; `None` plays until stopped (music on hold).
    remaining: Option<usize>,
}

impl ToneSource {
    /// `freqs` for `duration_ms` (None: forever), switched on for `on_ms` and
    /// off for `off_ms` (`off_ms = 0`: continuous).
    pub fn new(freqs: &[f64], duration_ms: Option<u32>, on_ms: u32, off_ms: u32) -> Self {
        let rate = f64::from(LINE_RATE);
        let samples = |ms: u32| (u64::from(ms) * u64::from(LINE_RATE) / 1000) as usize;
        ToneSource {
            steps: freqs
                .iter()
                .map(|f| 2.0 * std::f64::consts::PI * f / rate)
                .collect(),
            phases: vec![0.0; freqs.len()],
            on: samples(on_ms).max(1),
            off: samples(off_ms),
            pos: 0,
            remaining: duration_ms.map(samples),
        }
    }
}

impl PromptSource for ToneSource {
    fn next_frame(&mut self, out: &mut [i16]) -> bool {
        if self.remaining == Some(0) {
            return false;
        }
        let amp = LEVEL / self.steps.len().max(1) as f64;
        for o in out.iter_mut() {
            if self.remaining == Some(0) {
                *o = 0;
                continue;
            }
            let sounding = self.pos % (self.on + self.off) < self.on;
            let mut x = 0.0;
            for (p, s) in self.phases.iter_mut().zip(&self.steps) {
                if sounding {
                    x += p.sin();
                }
                *p = (*p + s) % (2.0 * std::f64::consts::PI);
            }
            *o = (amp * x).round() as i16;
            self.pos += 1;
            if let Some(r) = &mut self.remaining {
                *r -= 1;
            }
        }
        true
    }
}

/// Recorded prompts by file name, loaded once from the prompt directory and
/// shared by every call (an `Arc` per clip); a name with no file gets a short
/// beep so a missing recording never leaves the caller in silence.
#[derive(Default)]
pub struct PromptStore {
    dir: Option<PathBuf>,
    cache: HashMap<String, Option<Arc<[i16]>>>,
}

impl PromptStore {
    /// Prompts looked up in `dir` (none: every file prompt is a beep).
    pub fn new(dir: Option<PathBuf>) -> Self {
        PromptStore {
            dir,
            cache: HashMap::new(),
        }
    }

    /// The source for an IVR prompt. A WAV is read on first use only; names
    /// with a path separator are refused (they would escape the directory).
    pub fn source(&mut self, prompt: &Prompt) -> Box<dyn PromptSource> {
        match prompt {
            Prompt::Tone(t) => {
                let freqs: Vec<f64> = t.frequencies_hz.iter().map(|&f| f64::from(f)).collect();
                Box::new(ToneSource::new(
                    &freqs,
                    Some(t.duration_ms),
                    t.duration_ms,
                    0,
                ))
            }
            Prompt::File(name) => match self.clip(name) {
                Some(samples) => Box::new(Clip::new(samples)),
                None => beep(),
            },
        }
    }

    fn clip(&mut self, name: &str) -> Option<Arc<[i16]>> {
        if let Some(c) = self.cache.get(name) {
            return c.clone();
        }
        let loaded = self.dir.as_ref().and_then(|dir| {
            if name.contains('/') || name.contains("..") {
                tracing::warn!(prompt = name, "prompt name refused");
                return None;
            }
            match tandem_hal::wav::read_line_audio(&dir.join(name)) {
                Ok(samples) => Some(Arc::<[i16]>::from(samples)),
                Err(err) => {
                    tracing::warn!(prompt = name, %err, "prompt file missing; playing a beep");
                    None
                }
            }
        });
        self.cache.insert(name.to_owned(), loaded.clone());
        loaded
    }
}

/// The stand-in for a missing recording.
pub fn beep() -> Box<dyn PromptSource> {
    Box::new(Beep::new(1000.0, -12.0, 200, LINE_RATE))
}

/// DTMF digits to dial on an outbound call (already filtered to DTMF keys;
/// anything else makes a silent prompt).
pub fn digits(digits: &str) -> Box<dyn PromptSource> {
    let samples = tandem_hal::dsp::dtmf::DtmfGenerator::render(digits, Default::default())
        .unwrap_or_default();
    Box::new(Clip::new(Arc::from(samples)))
}

/// Music on hold: a soft two-tone pattern until the caller is taken off hold.
pub fn music_on_hold() -> Box<dyn PromptSource> {
    Box::new(ToneSource::new(&[523.0, 659.0], None, 400, 200))
}

/// Position announcement: one short beep per place in line (at most five),
/// since branches have no recorded numbers.
pub fn announcement(position: u32) -> Box<dyn PromptSource> {
    let beeps = position.clamp(1, 5);
    Box::new(ToneSource::new(&[880.0], Some(beeps * 300), 150, 150))
}

/// The message before a release: a short falling pattern the caller recognises
/// as "goodbye".
pub fn release_message() -> Box<dyn PromptSource> {
    Box::new(ToneSource::new(&[620.0], Some(600), 200, 100))
}

/// The ring tone heard in a headset while a call is offered.
pub fn ring_tone() -> Box<dyn PromptSource> {
    Box::new(ToneSource::new(&[450.0], None, 1000, 2000))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandem_node::ivr::ToneSpec;
    use tandem_node::media::analysis::goertzel_dbfs;

    #[test]
    fn tone_prompt_lasts_its_duration_at_its_frequency() {
        let mut store = PromptStore::new(None);
        let mut src = store.source(&Prompt::Tone(ToneSpec {
            frequencies_hz: vec![440],
            duration_ms: 300,
        }));
        let mut all = Vec::new();
        let mut frame = [0i16; 160];
        while src.next_frame(&mut frame) {
            all.extend_from_slice(&frame);
        }
        assert_eq!(all.len(), 2400);
        assert!(goertzel_dbfs(&all, 440.0, 8000) > -20.0);
        assert!(goertzel_dbfs(&all, 1000.0, 8000) < -40.0);
    }

    #[test]
    fn missing_file_is_a_beep_and_a_bad_name_is_refused() {
        let mut store = PromptStore::new(Some(PathBuf::from("/nonexistent")));
        let mut src = store.source(&Prompt::File("../etc/passwd".into()));
        let mut frame = [0i16; 160];
        assert!(src.next_frame(&mut frame));
        assert!(frame.iter().any(|&x| x != 0));
    }
}
