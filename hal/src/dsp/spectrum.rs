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

/// One analysed sub-block as a detector keeps it: DFT values, their powers and
/// the sub-block's energy.
#[derive(Debug, Clone, Copy)]
pub struct Slot<const F: usize> {
    pub re: [f32; F],
    pub im: [f32; F],
    pub power: [f32; F],
    pub energy: f32,
}

impl<const F: usize> Default for Slot<F> {
    fn default() -> Self {
        Self {
            re: [0.0; F],
            im: [0.0; F],
            power: [0.0; F],
            energy: 0.0,
        }
    }
}

/// The newest `H` sub-blocks of a [`SubBlockDft`], combinable into analysis
/// windows of up to `H` sub-blocks. Shared by the DTMF and MFC/R2 detectors so
/// both judge windows (and refine frequencies from the phase advance) the same way.
#[derive(Debug, Clone)]
pub struct BlockHistory<const F: usize, const H: usize> {
    /// Powers of e^{-jωB}: phase references for sub-block k of a window.
    rot: [[(f32, f32); H]; F],
    hist: [Slot<F>; H],
    /// Index of the newest slot.
    head: usize,
    seen: usize,
    block_len: usize,
}

impl<const F: usize, const H: usize> BlockHistory<F, H> {
    /// An empty history for the sub-blocks of `bank`.
    pub fn new<const B: usize>(bank: &SubBlockDft<F, B>) -> Self {
        let mut rot = [[(1.0, 0.0); H]; F];
        for (i, r) in rot.iter_mut().enumerate() {
            for k in 1..H {
                r[k] = cmul(r[k - 1], bank.block_step(i));
            }
        }
        Self {
            rot,
            hist: [Slot::default(); H],
            head: 0,
            seen: 0,
            block_len: B,
        }
    }

    /// Forgets every sub-block.
    pub fn reset(&mut self) {
        self.hist = [Slot::default(); H];
        self.seen = 0;
    }

    /// Sub-blocks pushed since the last reset (saturating).
    pub fn seen(&self) -> usize {
        self.seen
    }

    /// Adds the newest sub-block.
    pub fn push(&mut self, b: &SubBlock<F>) {
        self.head = (self.head + 1) % H;
        let mut power = [0.0; F];
        for (i, p) in power.iter_mut().enumerate() {
            *p = b.power(i);
        }
        self.hist[self.head] = Slot {
            re: b.re,
            im: b.im,
            power,
            energy: b.energy,
        };
        self.seen = self.seen.saturating_add(1);
    }

    /// The sub-block `age` blocks before the newest (0 = newest).
    pub fn slot(&self, age: usize) -> &Slot<F> {
        &self.hist[(self.head + H - age % H) % H]
    }

    /// Energy of the newest `win` sub-blocks.
    pub fn energy(&self, win: usize) -> f32 {
        (0..win.min(H)).map(|a| self.slot(a).energy).sum()
    }

    /// Sums sub-blocks `ks` of the window made of the newest `win` sub-blocks
    /// (k = 0 is the oldest) at bank frequency `i` shifted by `shift` Hz,
    /// referenced to the window's first sample.
    pub fn combine(
        &self,
        win: usize,
        i: usize,
        shift: f32,
        ks: std::ops::Range<usize>,
    ) -> (f32, f32) {
        let d = -TAU * shift * self.block_len as f32 / LINE_RATE as f32;
        let mut acc = (0.0, 0.0);
        for k in ks {
            let s = self.slot(win - 1 - k);
            let r = if shift == 0.0 {
                self.rot[i][k]
            } else {
                let (sn, cs) = (d * k as f32).sin_cos();
                cmul(self.rot[i][k], (cs, sn))
            };
            let v = cmul((s.re[i], s.im[i]), r);
            acc = (acc.0 + v.0, acc.1 + v.1);
        }
        acc
    }

    /// Power of the newest `win` sub-blocks at bank frequency `i`.
    pub fn window_power(&self, win: usize, i: usize) -> f32 {
        self.span_power(0, win, i)
    }

    /// Power at bank frequency `i` of the `len` consecutive sub-blocks whose
    /// newest is `age` blocks before the newest: a window shorter than the
    /// analysis window, e.g. to measure a tone's duration finely when a 5 ms
    /// sub-block alone cannot separate it from a neighbour.
    pub fn span_power(&self, age: usize, len: usize, i: usize) -> f32 {
        let mut acc = (0.0, 0.0);
        for k in 0..len {
            let s = self.slot(age + len - 1 - k);
            let v = cmul((s.re[i], s.im[i]), self.rot[i][k]);
            acc = (acc.0 + v.0, acc.1 + v.1);
        }
        acc.0 * acc.0 + acc.1 * acc.1
    }

    /// Frequency error (Hz) of the tone near bank frequency `i`, from the phase
    /// advance between the window's first and last `win - lag` sub-blocks
    /// (unambiguous to ±half the sub-block rate over `lag`), and the window
    /// power re-measured at the corrected frequency so an off-nominal tone is
    /// not penalised twice.
    pub fn refine(&self, win: usize, lag: usize, i: usize) -> (f32, f32) {
        let early = self.combine(win, i, 0.0, 0..win - lag);
        let late = self.combine(win, i, 0.0, lag..win);
        let p = cmul(late, (early.0, -early.1));
        let span = (self.block_len * lag) as f32;
        let err = p.1.atan2(p.0) / TAU * LINE_RATE as f32 / span;
        let w = self.combine(win, i, err, 0..win);
        (err, w.0 * w.0 + w.1 * w.1)
    }
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
