//! Sine oscillators for every generator (DTMF, call-progress tones, FSK).
//!
//! A phase accumulator in f64 keeps the frequency exact over hours of tone (a
//! recursive oscillator drifts in amplitude), and one shared type keeps level and
//! phase handling identical across generators.

use super::LINE_RATE;
use super::level::sine_amplitude;
use std::f64::consts::TAU;

/// A sine at a fixed level whose frequency can be changed phase-continuously, which
/// FSK needs and tone cadences rely on to avoid clicks.
#[derive(Debug, Clone)]
pub struct Sine {
    phase: f64,
    step: f64,
    amplitude: f32,
}

impl Sine {
    /// A sine of `freq` Hz at `dbm0`.
    pub fn new(freq: f32, dbm0: f32) -> Self {
        Self {
            phase: 0.0,
            step: TAU * f64::from(freq) / f64::from(LINE_RATE),
            amplitude: sine_amplitude(dbm0),
        }
    }

    /// Changes frequency without a phase jump.
    pub fn set_freq(&mut self, freq: f32) {
        self.step = TAU * f64::from(freq) / f64::from(LINE_RATE);
    }

    /// Next sample scaled to ±1.
    pub fn next_unit(&mut self) -> f32 {
        let v = self.phase.sin() as f32;
        self.phase += self.step;
        if self.phase >= TAU {
            self.phase -= TAU;
        }
        v
    }

    /// Next sample at the oscillator's level, before rounding.
    pub fn next_sample(&mut self) -> f32 {
        self.next_unit() * self.amplitude
    }

    /// Overwrites `out` with the tone.
    pub fn fill(&mut self, out: &mut [i16]) {
        for x in out {
            *x = saturate(self.next_sample());
        }
    }
}

/// Rounds to 16-bit with saturation, as a DAC or codec clips.
pub fn saturate(v: f32) -> i16 {
    v.round().clamp(-32768.0, 32767.0) as i16
}
