//! A bank of single-frequency DFTs over short fixed sub-blocks.
//!
//! Detectors (DTMF, call progress) need energy at a handful of frequencies over
//! sliding windows. Computing complex DFT values per short sub-block and combining
//! sub-blocks with a phase rotation gives any window that is a whole number of
//! sub-blocks long for the cost of one pass over the samples, and the phase between
//! sub-blocks measures frequency offsets far more finely than the window's bin width.
//! Correlating against precomputed tables (rather than a Goertzel recursion) has no
//! loop-carried dependency, so the compiler vectorises it.

use super::LINE_RATE;
use std::f32::consts::TAU;

/// Complex DFT values of one sub-block at every frequency of the bank, each
/// referenced to the sub-block's own first sample, plus the sub-block's energy.
#[derive(Debug, Clone, Copy)]
pub struct SubBlock<const F: usize> {
    pub re: [f32; F],
    pub im: [f32; F],
    /// Sum of squared samples.
    pub energy: f32,
}

impl<const F: usize> SubBlock<F> {
    /// Squared magnitude at frequency `i`.
    pub fn power(&self, i: usize) -> f32 {
        self.re[i] * self.re[i] + self.im[i] * self.im[i]
    }
}

/// The bank: `F` frequencies, sub-blocks of `B` samples.
#[derive(Debug, Clone)]
pub struct SubBlockDft<const F: usize, const B: usize> {
    cos: [[f32; B]; F],
    sin: [[f32; B]; F],
    /// e^{-jωB} per frequency: moves a sub-block's phase reference one block later.
    step: [(f32, f32); F],
    buf: [f32; B],
    fill: usize,
}

impl<const F: usize, const B: usize> SubBlockDft<F, B> {
    /// A bank for `freqs` (Hz at 8 kHz).
    pub fn new(freqs: [f32; F]) -> Self {
        let mut cos = [[0.0; B]; F];
        let mut sin = [[0.0; B]; F];
        let mut step = [(0.0, 0.0); F];
        for (i, &f) in freqs.iter().enumerate() {
            let w = TAU * f / LINE_RATE as f32;
            for n in 0..B {
                let (s, c) = (w * n as f32).sin_cos();
                cos[i][n] = c;
                sin[i][n] = -s;
            }
            let (s, c) = (w * B as f32).sin_cos();
            step[i] = (c, -s);
        }
        Self {
            cos,
            sin,
            step,
            buf: [0.0; B],
            fill: 0,
        }
    }

    /// e^{-jωB} for frequency `i`; multiply the k-th sub-block of a window by its
    /// k-th power to reference the whole window to its first sample.
    pub fn block_step(&self, i: usize) -> (f32, f32) {
        self.step[i]
    }

    /// Drops a partly filled sub-block, e.g. when the channel is reset.
    pub fn reset(&mut self) {
        self.fill = 0;
    }

    /// Feeds samples; calls `on_block` each time a sub-block completes.
    pub fn process(&mut self, samples: &[i16], mut on_block: impl FnMut(&SubBlock<F>)) {
        for &x in samples {
            self.buf[self.fill] = f32::from(x);
            self.fill += 1;
            if self.fill == B {
                self.fill = 0;
                let block = self.analyse();
                on_block(&block);
            }
        }
    }

    fn analyse(&self) -> SubBlock<F> {
        let mut re = [0.0; F];
        let mut im = [0.0; F];
        // Eight partial sums per output: a single running sum is a serial chain the
        // compiler may not reorder, eight independent ones fill the SIMD lanes.
        let (xb, xt) = self.buf.as_chunks::<8>();
        for i in 0..F {
            let (cb, ct) = self.cos[i].as_chunks::<8>();
            let (sb, st) = self.sin[i].as_chunks::<8>();
            let mut r = [0.0f32; 8];
            let mut q = [0.0f32; 8];
            for ((x, c), s) in xb.iter().zip(cb).zip(sb) {
                for k in 0..8 {
                    r[k] += x[k] * c[k];
                    q[k] += x[k] * s[k];
                }
            }
            let tail_r: f32 = xt.iter().zip(ct).map(|(x, c)| x * c).sum();
            let tail_q: f32 = xt.iter().zip(st).map(|(x, s)| x * s).sum();
            re[i] = r.iter().sum::<f32>() + tail_r;
            im[i] = q.iter().sum::<f32>() + tail_q;
        }
        let energy = self.buf.iter().map(|x| x * x).sum();
        SubBlock { re, im, energy }
    }
}

/// Complex multiply, for combining sub-blocks.
#[inline]
pub fn cmul(a: (f32, f32), b: (f32, f32)) -> (f32, f32) {
    (a.0 * b.0 - a.1 * b.1, a.0 * b.1 + a.1 * b.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::oscillator::Sine;

    #[test]
    fn combined_sub_blocks_equal_a_direct_window_dft() {
        let f = 770.0;
        let mut bank: SubBlockDft<1, 40> = SubBlockDft::new([f]);
        let mut x = [0i16; 200];
        Sine::new(f + 13.0, -10.0).fill(&mut x);
        let mut blocks = Vec::new();
        bank.process(&x, |b| blocks.push(*b));
        assert_eq!(blocks.len(), 5);
        let mut acc = (0.0, 0.0);
        let mut rot = (1.0, 0.0);
        for b in &blocks {
            let v = cmul((b.re[0], b.im[0]), rot);
            acc = (acc.0 + v.0, acc.1 + v.1);
            rot = cmul(rot, bank.block_step(0));
        }
        let w = TAU * f / 8000.0;
        let direct = x.iter().enumerate().fold((0.0f32, 0.0f32), |a, (n, &s)| {
            let (sn, cs) = (w * n as f32).sin_cos();
            (a.0 + f32::from(s) * cs, a.1 - f32::from(s) * sn)
        });
        assert!((acc.0 - direct.0).abs() < 1.0 && (acc.1 - direct.1).abs() < 1.0);
        let energy: f32 = x.iter().map(|&s| f32::from(s).powi(2)).sum();
        let sum: f32 = blocks.iter().map(|b| b.energy).sum();
        assert!((energy - sum).abs() / energy < 1e-4);
    }
}
