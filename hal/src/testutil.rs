//! Deterministic test signals: noise and speech-like audio for detector tests.

use crate::dsp::level::mean_square_of_dbm0;
use crate::dsp::oscillator::saturate;

/// xorshift64*: reproducible noise without a dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
    /// Standard normal (Box–Muller).
    pub fn gauss(&mut self) -> f32 {
        let u = self.uniform().max(1e-7);
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
    }
}

/// Adds white Gaussian noise at `dbm0` to `x`.
pub fn add_noise(x: &mut [i16], dbm0: f32, rng: &mut Rng) {
    let sigma = mean_square_of_dbm0(dbm0).sqrt();
    for s in x {
        *s = saturate(f32::from(*s) + sigma * rng.gauss());
    }
}

/// Mixes `b` into `a`.
pub fn mix(a: &mut [i16], b: &[i16]) {
    for (x, &y) in a.iter_mut().zip(b) {
        *x = saturate(f32::from(*x) + f32::from(y));
    }
}

/// Speech-like audio: a formant synthesiser with a glottal pulse train whose pitch
/// glides (80–300 Hz, the harmonics that cause DTMF talk-off), vowels whose three
/// formants move every 60–200 ms, fricative noise bursts and pauses, at an average
/// active level near `dbm0`.
pub struct SpeechLike {
    rng: Rng,
    fs: f32,
    pitch: f32,
    pitch_target: f32,
    phase: f32,
    formants: [Resonator; 3],
    seg_left: usize,
    voiced: bool,
    silent: bool,
    gain: f32,
}

struct Resonator {
    a1: f32,
    a2: f32,
    y1: f32,
    y2: f32,
    g: f32,
}

impl Resonator {
    fn new() -> Self {
        Self {
            a1: 0.0,
            a2: 0.0,
            y1: 0.0,
            y2: 0.0,
            g: 0.0,
        }
    }
    fn tune(&mut self, f: f32, bw: f32, fs: f32) {
        let r = (-std::f32::consts::PI * bw / fs).exp();
        self.a1 = 2.0 * r * (std::f32::consts::TAU * f / fs).cos();
        self.a2 = -r * r;
        self.g = 1.0 - r;
    }
    fn run(&mut self, x: f32) -> f32 {
        let y = self.g * x + self.a1 * self.y1 + self.a2 * self.y2;
        self.y2 = self.y1;
        self.y1 = y;
        y
    }
}

impl SpeechLike {
    pub fn new(seed: u64, dbm0: f32) -> Self {
        let mut s = Self {
            rng: Rng::new(seed),
            fs: 8000.0,
            pitch: 140.0,
            pitch_target: 140.0,
            phase: 0.0,
            formants: [Resonator::new(), Resonator::new(), Resonator::new()],
            seg_left: 0,
            voiced: true,
            silent: false,
            gain: 1.0,
        };
        // Calibrate on 10 s of output so the level is what the test asked for.
        let ms: f32 = (0..80_000).map(|_| s.next_raw().powi(2)).sum::<f32>() / 80_000.0;
        s.gain = (mean_square_of_dbm0(dbm0) / ms.max(1e-12)).sqrt();
        s
    }

    fn next_segment(&mut self) {
        let r = self.rng.uniform();
        self.silent = r < 0.15;
        self.voiced = r >= 0.3;
        self.seg_left = (480.0 + 1120.0 * self.rng.uniform()) as usize;
        let f1 = 250.0 + 600.0 * self.rng.uniform();
        let f2 = 800.0 + 1600.0 * self.rng.uniform();
        let f3 = 2200.0 + 900.0 * self.rng.uniform();
        let fs = self.fs;
        self.formants[0].tune(f1, 60.0 + 60.0 * self.rng.uniform(), fs);
        self.formants[1].tune(f2, 70.0 + 90.0 * self.rng.uniform(), fs);
        self.formants[2].tune(f3, 100.0 + 150.0 * self.rng.uniform(), fs);
        self.pitch_target = 80.0 + 220.0 * self.rng.uniform();
    }

    pub fn fill(&mut self, out: &mut [i16]) {
        for o in out {
            *o = saturate(self.next_raw() * self.gain);
        }
    }

    fn next_raw(&mut self) -> f32 {
        {
            if self.seg_left == 0 {
                self.next_segment();
            }
            self.seg_left -= 1;
            self.pitch += 0.0008 * (self.pitch_target - self.pitch);
            let excitation = if self.silent {
                0.0
            } else if self.voiced {
                self.phase += self.pitch / self.fs;
                if self.phase >= 1.0 {
                    self.phase -= 1.0;
                    12.0
                } else {
                    0.0
                }
            } else {
                0.5 * self.rng.gauss()
            };
            self.formants[0].run(excitation)
                + 0.7 * self.formants[1].run(excitation)
                + 0.4 * self.formants[2].run(excitation)
        }
    }
}
