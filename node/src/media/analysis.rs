//! Signal measurements for media tests, benchmarks and line checks: tone
//! generation, Goertzel level at one frequency, RMS, and delay by cross-correlation.
//!
//! They live in the library (not in a test) because the node tests, the gateway
//! tests and the simulator benchmark all measure the same things the same way.

use std::f64::consts::PI;

/// A sine of `freq_hz` at `level_dbfs` (RMS dBFS of a full-scale sine is −3), `len`
/// samples at `rate_hz`, starting at sample `offset` (so consecutive frames join).
pub fn tone(freq_hz: f64, level_dbfs: f64, rate_hz: u32, offset: usize, len: usize) -> Vec<i16> {
    let amp = 32767.0 * 10f64.powf(level_dbfs / 20.0) * 2f64.sqrt();
    (0..len)
        .map(|i| {
            let t = (offset + i) as f64 / f64::from(rate_hz);
            (amp * (2.0 * PI * freq_hz * t).sin())
                .round()
                .clamp(-32768.0, 32767.0) as i16
        })
        .collect()
}

/// RMS level in dBFS (a full-scale sine reads −3.0); −120 for silence.
pub fn rms_dbfs(x: &[i16]) -> f64 {
    if x.is_empty() {
        return -120.0;
    }
    let e: f64 = x.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / x.len() as f64;
    let rms = e.sqrt() / 32768.0;
    if rms < 1e-6 {
        -120.0
    } else {
        20.0 * rms.log10()
    }
}

/// RMS level of the `freq_hz` component in dBFS, by the Goertzel algorithm
/// (same scale as [`rms_dbfs`]: a pure tone reads the same on both).
pub fn goertzel_dbfs(x: &[i16], freq_hz: f64, rate_hz: u32) -> f64 {
    if x.is_empty() {
        return -120.0;
    }
    let w = 2.0 * PI * freq_hz / f64::from(rate_hz);
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &s in x {
        let s0 = f64::from(s) / 32768.0 + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    // |X(k)| = N·A/2 for a sine of amplitude A; RMS = A/√2.
    let amp = 2.0 * power.max(0.0).sqrt() / x.len() as f64;
    let rms = amp / 2f64.sqrt();
    if rms < 1e-6 {
        -120.0
    } else {
        20.0 * rms.log10()
    }
}

/// Lag (in samples, 0..=max_lag) at which `output` best matches `input`, with the
/// normalised correlation there. Measures end-to-end delay of a path.
pub fn delay_by_correlation(input: &[i16], output: &[i16], max_lag: usize) -> (usize, f64) {
    let mut best = (0, f64::MIN);
    for lag in 0..=max_lag.min(output.len()) {
        let n = input.len().min(output.len() - lag);
        if n == 0 {
            break;
        }
        let (mut xy, mut xx, mut yy) = (0.0, 0.0, 0.0);
        for i in 0..n {
            let x = f64::from(input[i]);
            let y = f64::from(output[i + lag]);
            xy += x * y;
            xx += x * x;
            yy += y * y;
        }
        let c = if xx > 0.0 && yy > 0.0 {
            xy / (xx * yy).sqrt()
        } else {
            0.0
        };
        if c > best.1 {
            best = (lag, c);
        }
    }
    best
}

/// Signal-to-noise ratio of `test` against `reference` (aligned, same length), dB.
pub fn snr_db(reference: &[i16], test: &[i16]) -> f64 {
    let (mut sig, mut noise) = (0.0, 0.0);
    for (&r, &t) in reference.iter().zip(test) {
        sig += f64::from(r).powi(2);
        noise += (f64::from(r) - f64::from(t)).powi(2);
    }
    if noise == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (sig / noise).log10()
    }
}

/// A deterministic speech-like test signal: a gliding harmonic series kept in the
/// telephone band (< 3.4 kHz, so it survives any rate change alias-free) with a
/// syllable-rate envelope, so codec tests exercise more than a steady tone.
pub fn speechlike(rate_hz: u32, len: usize) -> Vec<i16> {
    (0..len)
        .map(|i| {
            let t = i as f64 / f64::from(rate_hz);
            let f0 = 140.0 + 40.0 * (2.0 * PI * 0.7 * t).sin();
            let env = 0.55 + 0.45 * (2.0 * PI * 3.0 * t).sin();
            let mut v = 0.0;
            for h in 1..=12 {
                let f = f0 * h as f64;
                if f < 3400.0 {
                    v += (2.0 * PI * f * t + h as f64).sin() / h as f64;
                }
            }
            (env * v * 6000.0).round().clamp(-32768.0, 32767.0) as i16
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goertzel_and_rms_agree_on_a_tone() {
        let x = tone(1000.0, -10.0, 8000, 0, 800);
        assert!((rms_dbfs(&x) + 10.0).abs() < 0.1);
        assert!((goertzel_dbfs(&x, 1000.0, 8000) + 10.0).abs() < 0.1);
        assert!(goertzel_dbfs(&x, 1500.0, 8000) < -50.0);
    }

    #[test]
    fn correlation_finds_a_known_delay() {
        let x = speechlike(8000, 4000);
        let mut y = vec![0i16; 37];
        y.extend_from_slice(&x);
        let (lag, c) = delay_by_correlation(&x, &y, 200);
        assert_eq!(lag, 37);
        assert!(c > 0.999);
        assert!(snr_db(&x, &y[37..]).is_infinite());
    }
}
