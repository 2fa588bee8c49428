//! FXO call supervision: turns raw line events and line audio into the few facts
//! call control needs — a call is arriving, who is calling, the caller gave up
//! while it rang, the far end hung up during the call.
//!
//! Analog lines signal the far end's hang-up badly and inconsistently, so every
//! method is supported at once and each is guarded against its classic false
//! positive: loop-current drops are debounced, polarity reversals are ignored just
//! after answer (some exchanges reverse on answer), and tones must match their
//! cadence for several cycles (see `dsp::progress`).

use crate::dsp::LINE_RATE;
use crate::dsp::callerid::receiver::{CallerIdReceiver, Received};
use crate::dsp::progress::{ProgressConfig, ProgressDetector};
use crate::dsp::tones::{ToneKind, TonePlan};
use crate::line::LineEvent;

/// Tuning for one line; the defaults follow REFERENCES.md.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SupervisorConfig {
    pub plan: &'static TonePlan,
    /// Loop-current drops shorter than this are glitches, not a disconnect.
    pub loop_break_min_ms: u32,
    /// Treat a polarity reversal during the call as a disconnect.
    pub polarity_disconnect: bool,
    /// Polarity reversals this soon after answer are answer supervision, not a
    /// disconnect.
    pub polarity_grace_ms: u32,
    /// No new ring for this long after the last one: the caller gave up.
    pub ring_timeout_ms: u32,
    /// A polarity reversal with no ring within this time was not a call.
    pub pre_ring_timeout_ms: u32,
    pub progress: ProgressConfig,
}

impl SupervisorConfig {
    /// Defaults for a plan: the ring timeout covers one full ring cycle plus 2 s.
    pub fn for_plan(plan: &'static TonePlan) -> Self {
        let cycle: u32 = plan.ring_cadence.iter().sum();
        Self {
            plan,
            loop_break_min_ms: 500,
            polarity_disconnect: true,
            polarity_grace_ms: 1000,
            ring_timeout_ms: cycle + 2000,
            pre_ring_timeout_ms: 5000,
            progress: ProgressConfig::default(),
        }
    }
}

/// How the far end's hang-up was recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disconnect {
    LoopBreak,
    PolarityReversal,
    Tone(ToneKind),
}

/// What call control is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    /// First ring of a call.
    Incoming,
    /// Caller ID decoded (before or after `Incoming`, depending on the standard).
    CallerId(Received),
    /// The caller hung up while it was ringing.
    Abandoned,
    /// The far end hung up during the call.
    FarEndGone(Disconnect),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Idle,
    /// Polarity reversed; DTMF caller ID and a ring may follow.
    PreRing {
        ms: u32,
    },
    Alerting {
        since_ring_ms: u32,
        ringing: bool,
    },
    Answered {
        ms: u32,
        loop_down_ms: Option<u32>,
    },
    /// Far end gone; waiting for the gateway to release the line.
    Cleared,
}

/// Per-FXO-port supervisor. Feed it every event and every received frame.
#[derive(Debug, Clone)]
pub struct Supervisor {
    config: SupervisorConfig,
    state: State,
    cid: CallerIdReceiver,
    progress: ProgressDetector,
}

impl Supervisor {
    /// A supervisor for an idle line.
    pub fn new(config: SupervisorConfig) -> Self {
        Self {
            config,
            state: State::Idle,
            cid: CallerIdReceiver::new(),
            progress: ProgressDetector::new(config.plan, config.progress),
        }
    }

    /// The gateway answered (went off hook on an alerting line).
    pub fn answered(&mut self) {
        self.state = State::Answered {
            ms: 0,
            loop_down_ms: None,
        };
        self.progress = ProgressDetector::new(self.config.plan, self.config.progress);
    }

    /// The gateway released the line (on hook); ready for the next call.
    pub fn released(&mut self) {
        self.state = State::Idle;
        self.cid = CallerIdReceiver::new();
    }

    /// Feeds one line event.
    pub fn on_event(&mut self, event: &LineEvent, mut out: impl FnMut(Signal)) {
        match (self.state, event) {
            (State::Idle | State::PreRing { .. }, LineEvent::RingStart) => {
                if let Some(Ok(r)) = self.cid.ring_started() {
                    out(Signal::CallerId(r));
                }
                self.state = State::Alerting {
                    since_ring_ms: 0,
                    ringing: true,
                };
                out(Signal::Incoming);
            }
            (State::Idle, LineEvent::PolarityReversal) => self.state = State::PreRing { ms: 0 },
            (State::Alerting { .. }, LineEvent::RingStart) => {
                if let Some(Ok(r)) = self.cid.ring_started() {
                    out(Signal::CallerId(r));
                }
                self.state = State::Alerting {
                    since_ring_ms: 0,
                    ringing: true,
                };
            }
            (State::Alerting { .. }, LineEvent::RingStop) => {
                self.state = State::Alerting {
                    since_ring_ms: 0,
                    ringing: false,
                };
            }
            (State::Answered { ms, .. }, LineEvent::LoopCurrent { present }) => {
                self.state = State::Answered {
                    ms,
                    loop_down_ms: (!present).then_some(0),
                };
            }
            (State::Answered { ms, .. }, LineEvent::PolarityReversal)
                if self.config.polarity_disconnect && ms >= self.config.polarity_grace_ms =>
            {
                self.state = State::Cleared;
                out(Signal::FarEndGone(Disconnect::PolarityReversal));
            }
            _ => {}
        }
    }

    /// Feeds one frame of received line audio; also advances the supervisor's clock.
    pub fn on_audio(&mut self, frame: &[i16], mut out: impl FnMut(Signal)) {
        let ms = (frame.len() as u64 * 1000 / u64::from(LINE_RATE)) as u32;
        match &mut self.state {
            State::Idle | State::Cleared => {}
            State::PreRing { ms: t } => {
                *t += ms;
                let expired = *t > self.config.pre_ring_timeout_ms;
                self.cid.process(frame, |r| {
                    if let Ok(r) = r {
                        out(Signal::CallerId(r));
                    }
                });
                if expired {
                    self.released();
                }
            }
            State::Alerting {
                since_ring_ms,
                ringing,
            } => {
                if !*ringing {
                    *since_ring_ms += ms;
                }
                let gave_up = *since_ring_ms > self.config.ring_timeout_ms;
                self.cid.process(frame, |r| {
                    if let Ok(r) = r {
                        out(Signal::CallerId(r));
                    }
                });
                if gave_up {
                    self.released();
                    out(Signal::Abandoned);
                }
            }
            State::Answered {
                ms: t,
                loop_down_ms,
            } => {
                *t = t.saturating_add(ms);
                if let Some(down) = loop_down_ms {
                    *down += ms;
                    if *down >= self.config.loop_break_min_ms {
                        self.state = State::Cleared;
                        out(Signal::FarEndGone(Disconnect::LoopBreak));
                        return;
                    }
                }
                let mut gone = None;
                self.progress.process(frame, |k| {
                    if k.means_disconnect() {
                        gone = Some(k);
                    }
                });
                if let Some(k) = gone {
                    self.state = State::Cleared;
                    out(Signal::FarEndGone(Disconnect::Tone(k)));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::FRAME_20MS;
    use crate::dsp::callerid::{CallerId, CidStandard};
    use crate::dsp::tones::CHINA;
    use crate::line::{Hook, LineCommand, LinePort};
    use crate::sim::line::{FxoControl, HangUp, IncomingCall, fxo};
    use crate::sim::{Audio, Pace};
    use crate::testutil::SpeechLike;

    /// Runs the gateway side for `ms`, answering at the first ring if `answer`.
    fn run(
        port: &mut dyn LinePort,
        sup: &mut Supervisor,
        ms: u32,
        answer: bool,
    ) -> Vec<(u32, Signal)> {
        let mut got = Vec::new();
        let mut frame = [0i16; FRAME_20MS];
        for i in 0..ms / 20 {
            port.read_frame(&mut frame).unwrap();
            while let Some(e) = port.poll_event() {
                sup.on_event(&e, |s| got.push((i * 20, s)));
            }
            sup.on_audio(&frame, |s| got.push((i * 20, s)));
            if answer
                && got.iter().any(|g| g.1 == Signal::Incoming)
                && !matches!(sup.state, State::Answered { .. } | State::Cleared)
            {
                port.command(LineCommand::SetHook(Hook::Off)).unwrap();
                sup.answered();
            }
            port.write_frame(&[0; FRAME_20MS]).unwrap();
        }
        got
    }

    fn call(standard: CidStandard) -> IncomingCall {
        IncomingCall {
            caller_id: Some(CallerId::with_number("13700001111").unwrap()),
            standard,
            max_rings: None,
        }
    }

    fn setup() -> (crate::sim::line::SimLinePort, FxoControl, Supervisor) {
        let (port, ex) = fxo("fxo1", &CHINA, FRAME_20MS, Pace::Fast);
        (
            port,
            ex,
            Supervisor::new(SupervisorConfig::for_plan(&CHINA)),
        )
    }

    #[test]
    fn incoming_calls_report_caller_id_with_every_standard() {
        for std in [CidStandard::Bell202, CidStandard::V23, CidStandard::Dtmf] {
            let (mut port, ex, mut sup) = setup();
            ex.place_call(call(std)).unwrap();
            let got = run(&mut port, &mut sup, 6000, false);
            let kinds: Vec<_> = got.iter().map(|g| &g.1).collect();
            assert!(kinds.contains(&&Signal::Incoming), "{std:?}");
            let cid = got.iter().find_map(|g| match &g.1 {
                Signal::CallerId(r) => Some(r.clone()),
                _ => None,
            });
            assert_eq!(
                cid.map(|r| (r.id.number.to_string(), r.standard)),
                Some(("13700001111".to_owned(), std))
            );
        }
    }

    #[test]
    fn caller_giving_up_while_ringing_is_abandoned_after_the_timeout() {
        let (mut port, ex, mut sup) = setup();
        ex.place_call(call(CidStandard::Bell202)).unwrap();
        run(&mut port, &mut sup, 1500, false);
        ex.hang_up(HangUp::Silent).unwrap();
        let got = run(&mut port, &mut sup, 10_000, false);
        let (t, s) = got.last().unwrap();
        assert_eq!(*s, Signal::Abandoned);
        // Last ring ended at 1.0 s; timeout = 5 s cycle + 2 s.
        assert!(
            (5500..=7000).contains(t),
            "abandoned at {t} ms after hang-up"
        );
    }

    #[test]
    fn each_disconnect_signal_is_recognised() {
        let cases = [
            (HangUp::LoopBreak { ms: 800 }, Disconnect::LoopBreak),
            (HangUp::PolarityReversal, Disconnect::PolarityReversal),
            (
                HangUp::Tone(ToneKind::Busy),
                Disconnect::Tone(ToneKind::Busy),
            ),
            (
                HangUp::Tone(ToneKind::Congestion),
                Disconnect::Tone(ToneKind::Congestion),
            ),
        ];
        for (signal, expected) in cases {
            let (mut port, ex, mut sup) = setup();
            ex.place_call(call(CidStandard::Bell202)).unwrap();
            run(&mut port, &mut sup, 3000, true);
            ex.hang_up(signal).unwrap();
            let got = run(&mut port, &mut sup, 8000, false);
            assert_eq!(
                got.iter().map(|g| g.1.clone()).collect::<Vec<_>>(),
                [Signal::FarEndGone(expected)]
            );
            port.command(LineCommand::SetHook(Hook::On)).unwrap();
            sup.released();
        }
    }

    #[test]
    fn short_loop_glitches_early_reversals_and_speech_do_not_hang_up() {
        let (mut port, ex, mut sup) = setup();
        ex.place_call(call(CidStandard::Bell202)).unwrap();
        run(&mut port, &mut sup, 1500, true);
        let mut speech = vec![0i16; 8000 * 120];
        SpeechLike::new(11, -15.0).fill(&mut speech);
        ex.play(Audio::Samples(speech)).unwrap();
        // A 200 ms loop drop is a glitch.
        sup.on_event(&LineEvent::LoopCurrent { present: false }, |_| panic!());
        run(&mut port, &mut sup, 200, false);
        sup.on_event(&LineEvent::LoopCurrent { present: true }, |_| panic!());
        let got = run(&mut port, &mut sup, 120_000, false);
        assert!(got.is_empty(), "{got:?}");
        // Reversal right after answer is answer supervision.
        let mut sup2 = Supervisor::new(SupervisorConfig::for_plan(&CHINA));
        sup2.answered();
        sup2.on_event(&LineEvent::PolarityReversal, |s| panic!("{s:?}"));
    }
}
