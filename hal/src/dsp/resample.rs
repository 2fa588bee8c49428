//! Sample-rate conversion between 8 kHz (lines), 16 kHz (wideband seats) and
//! 48 kHz (headsets, Opus).
//!
//! Every ratio needed is an integer one (×2, ×3, ×6 or the inverse), so a polyphase
//! FIR does it exactly with no drift: 32 taps per phase, Kaiser window (β 7.5), cut
//! off at the lower rate's Nyquist frequency with a ±15 % transition band, which
//! keeps images and aliases ≥ 60 dB down while passing the telephone band flat.

use super::oscillator::saturate;

const TAPS_PER_PHASE: usize = 32;
const KAISER_BETA: f64 = 7.5;

/// Errors constructing a resampler.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResampleError {
    #[error("cannot resample {from} Hz to {to} Hz: supported rates are 8000, 16000 and 48000")]
    Unsupported { from: u32, to: u32 },
}

/// One direction of conversion, with its filter state. Allocates its filter and
/// history once, at construction; `process` never allocates.
#[derive(Debug, Clone)]
pub struct Resampler {
    up: usize,
    down: usize,
    /// Polyphase taps, each phase stored oldest-sample-first so it lines up with
    /// the history window: phase p uses taps[p * TAPS_PER_PHASE ..][..TAPS_PER_PHASE].
    taps: Vec<f32>,
    /// Input history, newest last, twice the length so a window is always contiguous.
    hist: Vec<f32>,
    pos: usize,
    /// Position within a group of `down` inputs; an output is due at phase 0.
    phase: usize,
}

fn bessel_i0(x: f64) -> f64 {
    let mut sum = 1.0;
    let mut term = 1.0;
    for k in 1..50 {
        term *= (x / 2.0) / k as f64;
        sum += term * term;
    }
    sum
}

/// Dot product with eight independent accumulators over fixed-size chunks, so the
/// compiler keeps no bounds checks and can use SIMD lanes (a single running sum is
/// a serial dependency chain).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let (ca, ta) = a.as_chunks::<8>();
    let (cb, tb) = b.as_chunks::<8>();
    let mut acc = [0.0f32; 8];
    for (x, y) in ca.iter().zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let tail: f32 = ta.iter().zip(tb).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

impl Resampler {
    /// A converter from `from` Hz to `to` Hz.
    pub fn new(from: u32, to: u32) -> Result<Self, ResampleError> {
        let ok = |r| matches!(r, 8_000 | 16_000 | 48_000);
        if !ok(from) || !ok(to) {
            return Err(ResampleError::Unsupported { from, to });
        }
        let (up, down) = if to >= from {
            ((to / from) as usize, 1)
        } else {
            (1, (from / to) as usize)
        };
        let factor = up.max(down);
        let len = TAPS_PER_PHASE * factor;
        // Cut-off at the lower rate's Nyquist, relative to the higher rate.
        let fc = 0.5 / factor as f64;
        let mid = (len - 1) as f64 / 2.0;
        let mut proto: Vec<f64> = (0..len)
            .map(|i| {
                let x = i as f64 - mid;
                let sinc = if x == 0.0 {
                    2.0 * fc
                } else {
                    (std::f64::consts::TAU * fc * x).sin() / (std::f64::consts::PI * x)
                };
                let r = x / (mid + 0.5);
                let w =
                    bessel_i0(KAISER_BETA * (1.0 - r * r).max(0.0).sqrt()) / bessel_i0(KAISER_BETA);
                sinc * w
            })
            .collect();
        let gain = up as f64 / proto.iter().sum::<f64>();
        proto.iter_mut().for_each(|t| *t *= gain);
        let taps = if up > 1 {
            // Phase p holds proto[p], proto[p + up], ... (newest sample first),
            // reversed to match the window's oldest-first order.
            (0..up)
                .flat_map(|p| (0..TAPS_PER_PHASE).rev().map(move |t| (p, t)))
                .map(|(p, t)| proto[p + t * up] as f32)
                .collect()
        } else {
            proto.iter().rev().map(|&t| t as f32).collect()
        };
        let hist_len = if up > 1 { TAPS_PER_PHASE } else { len };
        Ok(Self {
            up,
            down,
            taps,
            hist: vec![0.0; 2 * hist_len],
            pos: 0,
            phase: 0,
        })
    }

    /// Output samples produced for `input_len` inputs from the current state.
    pub fn output_len(&self, input_len: usize) -> usize {
        if self.up > 1 {
            input_len * self.up
        } else {
            (input_len + (self.down - self.phase) % self.down).div_ceil(self.down)
        }
    }

    /// Converts `input`, writing to `out` (at least `output_len(input.len())` long);
    /// returns the number of samples written.
    pub fn process(&mut self, input: &[i16], out: &mut [i16]) -> usize {
        let window = self.hist.len() / 2;
        let mut n = 0;
        for &x in input {
            // Write each sample twice so hist[pos + 1 ..= pos + window] is the window.
            let x = f32::from(x);
            self.hist[self.pos] = x;
            self.hist[self.pos + window] = x;
            // Branch, not `%`: an integer division per sample costs more than the filter.
            self.pos += 1;
            if self.pos == window {
                self.pos = 0;
            }
            let recent = &self.hist[self.pos..self.pos + window];
            if self.up > 1 {
                for p in 0..self.up {
                    let taps = &self.taps[p * TAPS_PER_PHASE..(p + 1) * TAPS_PER_PHASE];
                    let acc = dot(recent, taps);
                    if let Some(o) = out.get_mut(n) {
                        *o = saturate(acc);
                    }
                    n += 1;
                }
            } else {
                let emit = self.phase == 0;
                self.phase += 1;
                if self.phase == self.down {
                    self.phase = 0;
                }
                if emit {
                    let acc: f32 = recent
                        .iter()
                        .rev()
                        .zip(&self.taps)
                        .map(|(h, t)| h * t)
                        .sum();
                    if let Some(o) = out.get_mut(n) {
                        *o = saturate(acc);
                    }
                    n += 1;
                }
            }
        }
        n.min(out.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::level::dbm0;
    use crate::dsp::oscillator::Sine;
    use proptest::prelude::*;

    fn sine_at(rate: u32, freq: f32, n: usize) -> Vec<i16> {
        // Sine runs at 8 kHz; scale the frequency to get `freq` at `rate`.
        let mut s = Sine::new(freq * 8000.0 / rate as f32, -10.0);
        let mut x = vec![0i16; n];
        s.fill(&mut x);
        x
    }

    fn convert(from: u32, to: u32, x: &[i16]) -> Vec<i16> {
        let mut r = Resampler::new(from, to).unwrap();
        let mut out = vec![0; r.output_len(x.len())];
        let n = r.process(x, &mut out);
        out.truncate(n);
        out
    }

    #[test]
    fn passband_tones_keep_their_level_at_every_ratio() {
        for (from, to) in [
            (8000, 16000),
            (16000, 8000),
            (8000, 48000),
            (48000, 8000),
            (16000, 48000),
            (48000, 16000),
        ] {
            for f in [300.0, 1000.0, 3000.0] {
                let x = sine_at(from, f, from as usize);
                let y = convert(from, to, &x);
                assert_eq!(y.len(), to as usize);
                let tail = &y[y.len() / 4..];
                assert!(
                    (dbm0(tail) + 10.0).abs() < 0.2,
                    "{from}->{to} {f} Hz: {}",
                    dbm0(tail)
                );
            }
        }
    }

    #[test]
    fn aliases_are_suppressed_when_decimating() {
        for (from, to, f) in [
            (48000, 8000, 6000.0),
            (16000, 8000, 5000.0),
            (48000, 16000, 10000.0),
        ] {
            let y = convert(from, to, &sine_at(from, f, from as usize));
            let tail = &y[y.len() / 4..];
            assert!(
                dbm0(tail) < -10.0 - 60.0,
                "{from}->{to} {f} Hz alias at {}",
                dbm0(tail)
            );
        }
    }

    #[test]
    fn round_trip_8k_48k_8k_is_transparent_in_band() {
        let x = sine_at(8000, 1000.0, 8000);
        let back = convert(48000, 8000, &convert(8000, 48000, &x));
        // Least-squares fit of a 1 kHz sine (any phase): what is left is distortion.
        let w = std::f64::consts::TAU * 1000.0 / 8000.0;
        let seg = &back[2000..7000];
        let (mut ss, mut sc, mut cc, mut ys, mut yc) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for (i, &y) in seg.iter().enumerate() {
            let (s, c) = (w * i as f64).sin_cos();
            ss += s * s;
            sc += s * c;
            cc += c * c;
            ys += f64::from(y) * s;
            yc += f64::from(y) * c;
        }
        let det = ss * cc - sc * sc;
        let a = (ys * cc - yc * sc) / det;
        let b = (yc * ss - ys * sc) / det;
        let (mut sig, mut err) = (0.0, 0.0);
        for (i, &y) in seg.iter().enumerate() {
            let (s, c) = (w * i as f64).sin_cos();
            let fit = a * s + b * c;
            sig += fit * fit;
            err += (f64::from(y) - fit).powi(2);
        }
        let snr = 10.0 * (sig / err).log10();
        assert!(snr > 60.0, "SNR {snr:.1} dB");
        assert!(Resampler::new(8000, 44100).is_err());
    }

    proptest! {
        #[test]
        fn output_length_is_exact_across_chunking(chunks in proptest::collection::vec(0usize..400, 1..10), down: bool) {
            let (from, to) = if down { (48000, 8000) } else { (8000, 48000) };
            let mut r = Resampler::new(from, to).unwrap();
            let total: usize = chunks.iter().sum();
            let mut produced = 0;
            for c in chunks {
                let x = vec![1000i16; c];
                let mut out = vec![0; r.output_len(c)];
                produced += r.process(&x, &mut out);
            }
            // Decimation emits on the first input of each group of six.
            let expected = if down { total.div_ceil(6) } else { total * 6 };
            prop_assert_eq!(produced, expected);
        }
    }
}
