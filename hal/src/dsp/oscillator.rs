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

/// Rounds (half away from zero) to 16-bit with saturation, as a codec clips.
/// Written with `copysign` and a saturating cast because `f32::round` is a libm
/// call on baseline x86-64, which dominated the resampler's cost.
#[inline]
pub fn saturate(v: f32) -> i16 {
    (v + 0.5f32.copysign(v)) as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saturate_rounds_half_away_from_zero_and_clips() {
        let cases = [
            (1.5, 2),
            (-1.5, -2),
            (0.49, 0),
            (-0.49, 0),
            (32767.4, 32767),
            (40000.0, 32767),
            (-40000.0, -32768),
        ];
        for (v, want) in cases {
            assert_eq!(saturate(v), want, "{v}");
        }
        assert_eq!(saturate(f32::NAN), 0);
    }

    #[test]
    fn frequency_changes_keep_the_phase_continuous() {
        let mut s = Sine::new(1200.0, 0.0);
        let mut prev = s.next_unit();
        for i in 0..2000 {
            if i == 1000 {
                s.set_freq(2200.0);
            }
            let v = s.next_unit();
            // Largest step of a unit sine at 2200 Hz is 2·sin(π·2200/8000) ≈ 1.52.
            assert!((v - prev).abs() < 1.53);
            prev = v;
        }
    }
}
