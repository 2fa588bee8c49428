//! Signal level in dBm0, the unit every telephony threshold is written in.
//!
//! The reference follows G.711: a full-scale sine in 16-bit PCM is +3.14 dBm0 (the
//! A-law overload point), so a 0 dBm0 sine has RMS 16 142 (peak 22 828). Using the
//! same reference for generating and detecting keeps detector thresholds honest.

/// Level of a full-scale sine (G.711's A-law overload point).
#[expect(
    clippy::approx_constant,
    reason = "3.14 dBm0 is G.711's overload level, not π"
)]
pub const FULL_SCALE_SINE_DBM0: f32 = 3.14;
/// dBm0 of a full-scale (±32768) square wave.
const DBM0_OF_FULL_SCALE_POWER: f32 = FULL_SCALE_SINE_DBM0 + 3.01;

/// Mean-square value (in 16-bit units) of a 0 dBm0 signal.
pub fn mean_square_of_dbm0(dbm0: f32) -> f32 {
    32768.0 * 32768.0 * 10f32.powf((dbm0 - DBM0_OF_FULL_SCALE_POWER) / 10.0)
}

/// dBm0 of a mean-square value; silence reports a floor of -100 dBm0 instead of -inf
/// so comparisons and logs stay finite.
pub fn dbm0_of_mean_square(ms: f32) -> f32 {
    if ms <= 0.0 {
        return -100.0;
    }
    (10.0 * (ms / (32768.0 * 32768.0)).log10() + DBM0_OF_FULL_SCALE_POWER).max(-100.0)
}

/// Peak amplitude of a sine at `dbm0`: what tone generators need.
pub fn sine_amplitude(dbm0: f32) -> f32 {
    (2.0 * mean_square_of_dbm0(dbm0)).sqrt()
}

/// Level of one block of samples.
pub fn dbm0(samples: &[i16]) -> f32 {
    if samples.is_empty() {
        return -100.0;
    }
    let sum: f64 = samples.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
    dbm0_of_mean_square((sum / samples.len() as f64) as f32)
}

/// A running level meter: the per-frame level plus a smoothed level with separate
/// attack and release so a wallboard or a VAD sees speech bursts quickly but does
/// not flicker between syllables.
#[derive(Debug, Clone)]
pub struct LevelMeter {
    smoothed_ms: f32,
    last_dbm0: f32,
    attack: f32,
    release: f32,
}

impl Default for LevelMeter {
    fn default() -> Self {
        Self::new()
    }
}

impl LevelMeter {
    /// A meter with ~20 ms attack and ~300 ms release for 20 ms frames.
    pub fn new() -> Self {
        Self {
            smoothed_ms: 0.0,
            last_dbm0: -100.0,
            attack: 0.63,
            release: 0.065,
        }
    }

    /// Feeds one frame and returns its level.
    pub fn push(&mut self, frame: &[i16]) -> f32 {
        if frame.is_empty() {
            return self.last_dbm0;
        }
        let sum: f32 = frame.iter().map(|&x| f32::from(x) * f32::from(x)).sum();
        let ms = sum / frame.len() as f32;
        let k = if ms > self.smoothed_ms {
            self.attack
        } else {
            self.release
        };
        self.smoothed_ms += k * (ms - self.smoothed_ms);
        self.last_dbm0 = dbm0_of_mean_square(ms);
        self.last_dbm0
    }

    /// Level of the last frame.
    pub fn last(&self) -> f32 {
        self.last_dbm0
    }

    /// Smoothed level.
    pub fn smoothed(&self) -> f32 {
        dbm0_of_mean_square(self.smoothed_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::oscillator::Sine;
    use proptest::prelude::*;

    #[test]
    fn full_scale_sine_is_plus_3_14_dbm0() {
        let mut s = Sine::new(1000.0, 0.0);
        let mut buf = [0i16; 8000];
        let amp = 32767.0;
        for x in buf.iter_mut() {
            *x = (s.next_unit() * amp) as i16;
        }
        assert!(
            (dbm0(&buf) - FULL_SCALE_SINE_DBM0).abs() < 0.05,
            "{}",
            dbm0(&buf)
        );
    }

    #[test]
    fn digital_milliwatt_is_0_dbm0() {
        // The G.711 digital milliwatt: 1 kHz at 0 dBm0, RMS ≈ 16 142.
        assert!((mean_square_of_dbm0(0.0).sqrt() - 16_142.0).abs() < 5.0);
        let mut s = Sine::new(1000.0, 0.0);
        let mut buf = [0i16; 1600];
        s.fill(&mut buf);
        assert!(dbm0(&buf).abs() < 0.05);
        assert_eq!(dbm0(&[0; 10]), -100.0);
        assert_eq!(dbm0(&[]), -100.0);
    }

    #[test]
    fn meter_attacks_fast_and_releases_slowly() {
        let mut m = LevelMeter::new();
        let mut loud = [0i16; 160];
        Sine::new(1000.0, -10.0).fill(&mut loud);
        for _ in 0..5 {
            m.push(&loud);
        }
        assert!((m.smoothed() + 10.0).abs() < 0.5);
        assert!((m.last() + 10.0).abs() < 0.1);
        m.push(&[0; 160]);
        assert_eq!(m.last(), -100.0);
        assert!(m.smoothed() > -11.0, "release too fast: {}", m.smoothed());
    }

    proptest! {
        #[test]
        fn generated_sines_measure_at_their_level(level in -50.0f32..3.0, freq in 200.0f32..3400.0) {
            let mut s = Sine::new(freq, level);
            let mut buf = [0i16; 8000];
            s.fill(&mut buf);
            prop_assert!((dbm0(&buf) - level).abs() < 0.1);
        }
    }
}
