//! FXS hook-switch interpretation: turns the raw loop-closure state a SLIC reports
//! into what the phone meant — off hook, on hook, a hook flash, or a rotary
//! (pulse) digit — by timing the on-hook intervals.
//!
//! A SLIC only says "loop closed" or "loop open"; a 60 ms break is a dial pulse, a
//! 300 ms break a flash (transfer, call waiting), a long one a hang-up. Getting the
//! windows wrong turns flashes into hang-ups, so they are configurable.

use crate::line::Hook;

/// Timing windows for one port (defaults suit 10 pulse/s rotary phones and the
/// common 100–800 ms flash).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HookTiming {
    /// Changes shorter than this are contact bounce.
    pub debounce_ms: u32,
    /// Breaks up to this long are dial pulses (nominal 60 ms at 10 pulses/s).
    pub pulse_break_max_ms: u32,
    /// Breaks up to this long (and longer than a pulse) are flashes; longer is on hook.
    pub flash_max_ms: u32,
    /// Loop closed this long after pulses ends the digit.
    pub interdigit_ms: u32,
}

impl Default for HookTiming {
    fn default() -> Self {
        Self {
            debounce_ms: 20,
            pulse_break_max_ms: 100,
            flash_max_ms: 800,
            interdigit_ms: 250,
        }
    }
}

/// What the phone did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookSignal {
    OffHook,
    OnHook,
    Flash,
    /// A rotary digit (10 pulses are reported as 0).
    PulseDigit(u8),
}

/// Per-FXS-port hook interpreter; feed it the raw state regularly (every frame).
#[derive(Debug, Clone)]
pub struct HookDetector {
    timing: HookTiming,
    confirmed: Hook,
    raw: Hook,
    raw_ms: u32,
    pulses: u8,
}

impl HookDetector {
    /// A detector for a phone that is on hook.
    pub fn new(timing: HookTiming) -> Self {
        Self {
            timing,
            confirmed: Hook::On,
            raw: Hook::On,
            raw_ms: 0,
            pulses: 0,
        }
    }

    /// Feeds the raw hook state observed for the last `ms` milliseconds.
    pub fn push(&mut self, raw: Hook, ms: u32, mut on_signal: impl FnMut(HookSignal)) {
        let t = self.timing;
        if raw != self.raw {
            // An on-hook interval just ended while the phone was in use: classify it.
            if self.raw == Hook::On && self.confirmed == Hook::Off && self.raw_ms >= t.debounce_ms {
                if self.raw_ms <= t.pulse_break_max_ms {
                    self.pulses = self.pulses.saturating_add(1);
                } else if self.raw_ms <= t.flash_max_ms {
                    self.pulses = 0;
                    on_signal(HookSignal::Flash);
                }
            }
            self.raw = raw;
            self.raw_ms = 0;
        }
        self.raw_ms = self.raw_ms.saturating_add(ms);
        match (self.confirmed, self.raw) {
            (Hook::On, Hook::Off) if self.raw_ms >= t.debounce_ms => {
                self.confirmed = Hook::Off;
                self.pulses = 0;
                on_signal(HookSignal::OffHook);
            }
            (Hook::Off, Hook::On) if self.raw_ms > t.flash_max_ms => {
                self.confirmed = Hook::On;
                self.pulses = 0;
                on_signal(HookSignal::OnHook);
            }
            (Hook::Off, Hook::Off) if self.pulses > 0 && self.raw_ms >= t.interdigit_ms => {
                on_signal(HookSignal::PulseDigit(self.pulses % 10));
                self.pulses = 0;
            }
            _ => {}
        }
    }

    /// The debounced hook state.
    pub fn hook(&self) -> Hook {
        self.confirmed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Plays (state, ms) segments in 5 ms steps.
    fn run(det: &mut HookDetector, segments: &[(Hook, u32)]) -> Vec<HookSignal> {
        let mut out = Vec::new();
        for &(h, ms) in segments {
            for _ in 0..ms / 5 {
                det.push(h, 5, |s| out.push(s));
            }
        }
        out
    }

    fn dial(digit: u8) -> Vec<(Hook, u32)> {
        let pulses = if digit == 0 { 10 } else { digit };
        let mut v = Vec::new();
        for _ in 0..pulses {
            v.push((Hook::On, 60));
            v.push((Hook::Off, 40));
        }
        v.push((Hook::Off, 400));
        v
    }

    #[test]
    fn off_hook_pulse_digits_flash_and_hang_up() {
        let mut det = HookDetector::new(HookTiming::default());
        let mut script = vec![(Hook::On, 100), (Hook::Off, 500)];
        for d in [3, 5, 0] {
            script.extend(dial(d));
        }
        script.extend([(Hook::On, 300), (Hook::Off, 500), (Hook::On, 1500)]);
        let got = run(&mut det, &script);
        use HookSignal::*;
        assert_eq!(
            got,
            [
                OffHook,
                PulseDigit(3),
                PulseDigit(5),
                PulseDigit(0),
                Flash,
                OnHook
            ]
        );
        assert_eq!(det.hook(), Hook::On);
    }

    #[test]
    fn contact_bounce_is_ignored() {
        let mut det = HookDetector::new(HookTiming::default());
        let got = run(
            &mut det,
            &[
                (Hook::Off, 10),
                (Hook::On, 100),
                (Hook::Off, 300),
                (Hook::On, 10),
                (Hook::Off, 300),
            ],
        );
        assert_eq!(got, [HookSignal::OffHook]);
    }

    proptest! {
        #[test]
        fn off_and_on_hook_alternate(segments in proptest::collection::vec((any::<bool>(), 5u32..2000), 0..40)) {
            let mut det = HookDetector::new(HookTiming::default());
            let script: Vec<_> = segments.iter().map(|&(off, ms)| (if off { Hook::Off } else { Hook::On }, ms)).collect();
            let mut expect_off = true;
            for s in run(&mut det, &script) {
                match s {
                    HookSignal::OffHook => { prop_assert!(expect_off); expect_off = false; }
                    HookSignal::OnHook => { prop_assert!(!expect_off); expect_off = true; }
                    HookSignal::Flash | HookSignal::PulseDigit(_) => prop_assert!(!expect_off),
                }
            }
        }
    }
}
