//! National tone plans (call-progress tones and ring cadences) and their generator.
//!
//! The same table drives the simulated exchange (which plays the tones), the
//! gateway's FXS ports (which play them to analog phones) and the call-progress
//! detector (which listens for them on FXO lines), so all three agree by
//! construction. Figures: China YD/T 1071 as summarised in REFERENCES.md, ETSI
//! TR 101 041 / ITU-T E.180 for Europe, and the North American precise tones.

use super::ms_to_samples;
use super::oscillator::{Sine, saturate};

/// The call-progress tones a line can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ToneKind {
    Dial,
    Busy,
    Ringback,
    Congestion,
    CallWaiting,
}

impl ToneKind {
    /// All kinds, for iteration.
    pub const ALL: [ToneKind; 5] = [
        ToneKind::Dial,
        ToneKind::Busy,
        ToneKind::Ringback,
        ToneKind::Congestion,
        ToneKind::CallWaiting,
    ];

    /// Tones an exchange plays when the far end has gone: on an FXO line they are
    /// the disconnect signal.
    pub fn means_disconnect(self) -> bool {
        matches!(self, ToneKind::Busy | ToneKind::Congestion)
    }
}

/// One tone: frequencies (one or two), level, and cadence as alternating on/off
/// durations in ms, repeated; an empty cadence is a continuous tone.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ToneSpec {
    /// Component frequencies in Hz (one or two).
    pub freqs: &'static [f32],
    /// Level of each frequency component.
    pub dbm0: f32,
    /// On/off durations in ms, repeated; empty for a continuous tone.
    pub cadence: &'static [u32],
}

/// A national plan.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TonePlan {
    pub name: &'static str,
    pub dial: ToneSpec,
    pub busy: ToneSpec,
    pub ringback: ToneSpec,
    pub congestion: ToneSpec,
    pub call_waiting: ToneSpec,
    /// Ringing voltage cadence (on/off ms) the exchange applies to a called line.
    pub ring_cadence: &'static [u32],
}

impl TonePlan {
    /// The spec of one tone kind.
    pub fn tone(&self, kind: ToneKind) -> &ToneSpec {
        match kind {
            ToneKind::Dial => &self.dial,
            ToneKind::Busy => &self.busy,
            ToneKind::Ringback => &self.ringback,
            ToneKind::Congestion => &self.congestion,
            ToneKind::CallWaiting => &self.call_waiting,
        }
    }

    /// Looks a plan up by the name used in configuration ("china", "itu", "north-america").
    pub fn by_name(name: &str) -> Option<&'static TonePlan> {
        [&CHINA, &ITU, &NORTH_AMERICA]
            .into_iter()
            .find(|p| p.name == name)
    }
}

const fn single(freq: &'static [f32], cadence: &'static [u32]) -> ToneSpec {
    ToneSpec {
        freqs: freq,
        dbm0: -10.0,
        cadence,
    }
}

/// China: everything at 450 Hz.
pub const CHINA: TonePlan = TonePlan {
    name: "china",
    dial: single(&[450.0], &[]),
    busy: single(&[450.0], &[350, 350]),
    ringback: single(&[450.0], &[1000, 4000]),
    congestion: single(&[450.0], &[700, 700]),
    call_waiting: single(&[450.0], &[400, 4000]),
    ring_cadence: &[1000, 4000],
};

/// ITU-T E.180 / ETSI (CEPT) recommended plan: 425 Hz.
pub const ITU: TonePlan = TonePlan {
    name: "itu",
    dial: single(&[425.0], &[]),
    busy: single(&[425.0], &[500, 500]),
    ringback: single(&[425.0], &[1000, 4000]),
    congestion: single(&[425.0], &[250, 250]),
    call_waiting: single(&[425.0], &[200, 200, 200, 9000]),
    ring_cadence: &[1000, 4000],
};

/// North America (precise tone plan), dual-frequency tones.
pub const NORTH_AMERICA: TonePlan = TonePlan {
    name: "north-america",
    dial: ToneSpec {
        freqs: &[350.0, 440.0],
        dbm0: -13.0,
        cadence: &[],
    },
    busy: ToneSpec {
        freqs: &[480.0, 620.0],
        dbm0: -24.0,
        cadence: &[500, 500],
    },
    ringback: ToneSpec {
        freqs: &[440.0, 480.0],
        dbm0: -19.0,
        cadence: &[2000, 4000],
    },
    congestion: ToneSpec {
        freqs: &[480.0, 620.0],
        dbm0: -24.0,
        cadence: &[250, 250],
    },
    call_waiting: ToneSpec {
        freqs: &[440.0],
        dbm0: -13.0,
        cadence: &[300, 9700],
    },
    ring_cadence: &[2000, 4000],
};

/// Plays a tone with its cadence, forever; no allocation.
#[derive(Debug, Clone)]
pub struct ToneGenerator {
    spec: ToneSpec,
    oscs: [Sine; 2],
    step: usize,
    left: usize,
}

impl ToneGenerator {
    /// A generator starting at the beginning of the first "on" period.
    pub fn new(spec: &ToneSpec) -> Self {
        let osc = |i: usize| Sine::new(spec.freqs.get(i).copied().unwrap_or(0.0), spec.dbm0);
        Self {
            spec: *spec,
            oscs: [osc(0), osc(1)],
            step: 0,
            left: spec
                .cadence
                .first()
                .map_or(usize::MAX, |&ms| ms_to_samples(ms)),
        }
    }

    /// Overwrites `out` with the next samples.
    pub fn fill(&mut self, out: &mut [i16]) {
        let two = self.spec.freqs.len() > 1;
        for x in out {
            if self.left == 0 {
                self.step = (self.step + 1) % self.spec.cadence.len();
                self.left = ms_to_samples(self.spec.cadence[self.step]);
            }
            self.left -= 1;
            let a = self.oscs[0].next_sample();
            let b = if two { self.oscs[1].next_sample() } else { 0.0 };
            *x = if self.step.is_multiple_of(2) {
                saturate(a + b)
            } else {
                0
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::level::dbm0;

    #[test]
    fn china_busy_is_350_on_350_off_at_450_hz() {
        let mut g = ToneGenerator::new(&CHINA.busy);
        let mut x = vec![0i16; 16000];
        g.fill(&mut x);
        let on = &x[..ms_to_samples(350)];
        let off = &x[ms_to_samples(350)..ms_to_samples(700)];
        assert!((dbm0(on) + 10.0).abs() < 0.1);
        assert_eq!(dbm0(off), -100.0);
        assert!((dbm0(&x[ms_to_samples(700)..ms_to_samples(1050)]) + 10.0).abs() < 0.1);
        // 450 Hz starting at phase 0: 45 cycles in 100 ms, so 44 upward crossings inside.
        let crossings = on[..800]
            .windows(2)
            .filter(|w| w[0] < 0 && w[1] >= 0)
            .count();
        assert_eq!(crossings, 44);
    }

    #[test]
    fn continuous_and_dual_tones_play() {
        let mut g = ToneGenerator::new(&NORTH_AMERICA.dial);
        let mut x = vec![0i16; 16000];
        g.fill(&mut x);
        // Two components at −13 dBm0 each: +3 dB together.
        assert!((dbm0(&x) + 10.0).abs() < 0.1);
        assert!((dbm0(&x[15000..]) + 10.0).abs() < 0.3);
    }

    #[test]
    fn plans_are_found_by_name_and_disconnect_kinds_are_marked() {
        assert_eq!(TonePlan::by_name("china"), Some(&CHINA));
        assert_eq!(
            TonePlan::by_name("north-america").map(|p| p.busy.freqs),
            Some(&[480.0, 620.0][..])
        );
        assert!(TonePlan::by_name("mars").is_none());
        let disconnect: Vec<_> = ToneKind::ALL
            .into_iter()
            .filter(|k| k.means_disconnect())
            .collect();
        assert_eq!(disconnect, [ToneKind::Busy, ToneKind::Congestion]);
        assert_eq!(
            ITU.tone(ToneKind::CallWaiting).cadence,
            &[200, 200, 200, 9000]
        );
    }
}
