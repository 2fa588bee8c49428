//! MFC/R2 register signalling, China variant, incoming side, sans I/O: after
//! the CAS seizure has been acknowledged, the far end sends the dialled number
//! (DNIS) and, asked for them, the calling party's category and number (ANI)
//! as compelled two-out-of-six tones in the timeslot; the gateway answers each
//! with a backward tone, then accepts the call with a group B signal. The call
//! then arrives with caller = ANI and dialled number = DNIS.
//!
//! Every forward tone is a compelled cycle: forward tone on → backward tone on
//! → forward tone off → backward tone off → next forward tone. Signals of the
//! China variant (OpenR2 `r2config_china`, which overrides ITU's defaults):
//!
//! | signal | meaning here |
//! | --- | --- |
//! | I-1 … I-10 | digits 1 … 9, 0 |
//! | I-12 | ANI withheld; I-15 end of ANI |
//! | II-n | calling party category |
//! | A-1 | send the next digit (DNIS or ANI: China uses A-1 for both) |
//! | A-3 | address complete, send the category again as group II (→ group B) |
//! | A-6 | send the calling party category (then ANI) |
//! | B-1 | accepted, with charge; B-2 busy |
//!
//! The order follows OpenR2's incoming side with its default "ANI first": the
//! first DNIS digit, then A-6 for the category, A-1 for each ANI digit until
//! I-15 (or the 5 s MF back-cycle timer), then A-1 for the rest of the DNIS.
//! China has no end-of-DNIS signal, so the span's configured DNIS length ends
//! it (or, as OpenR2 does, the timer); a request after a timeout goes out as a
//! 150 ms pulse because the far end is silent. Any other timeout, or a signal
//! that makes no sense where it comes, fails the register phase with a typed
//! [`R2Failure`]; the call line then clears back.

use tandem_hal::board::R2Settings;
use tandem_hal::dsp::r2::{Direction, R2Detector, R2Generator, R2Signal};

/// MF back-cycle timer: the longest wait for the far end's next move.
pub const MF_BACK_CYCLE_MS: u64 = 5_000;
/// Length of a pulsed backward signal (OpenR2 `mf_back_resume_cycle`).
pub const PULSE_MS: u64 = 150;

/// Group A: send the next digit (China: DNIS and ANI alike).
pub const A_NEXT_DIGIT: u8 = 1;
/// Group A: address complete, change to group B (send the category as group II).
pub const A_CHANGE_TO_GROUP_B: u8 = 3;
/// Group A: send the calling party category (China).
pub const A_SEND_CATEGORY: u8 = 6;
/// Group B: accepted, with charge (China).
pub const B_ACCEPT_WITH_CHARGE: u8 = 1;
/// Group B: busy (China).
pub const B_BUSY: u8 = 2;
/// Group I: the caller's number is withheld.
pub const I_ANI_RESTRICTED: u8 = 12;
/// Group I: no more ANI digits.
pub const I_END_OF_ANI: u8 = 15;

fn signal(n: u8) -> R2Signal {
    R2Signal::new(n).unwrap_or_else(|_| unreachable!("the constants above are 1..=15"))
}

/// What the register phase was waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// A DNIS digit.
    Dnis,
    /// The calling party category.
    Category,
    /// An ANI digit or the end of ANI.
    Ani,
    /// The group II category after "change to group B".
    GroupII,
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Stage::Dnis => "a DNIS digit",
            Stage::Category => "the calling party category",
            Stage::Ani => "an ANI digit",
            Stage::GroupII => "the group II category",
        })
    }
}

/// Why the register phase failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum R2Failure {
    /// The far end sent nothing within the MF back-cycle timer.
    #[error("MFC/R2: no forward signal within 5 s while waiting for {0}")]
    Timeout(Stage),
    /// The far end kept its tone on after our acknowledgement.
    #[error("MFC/R2: forward signal {0} still on 5 s after the backward signal")]
    ToneStuck(R2Signal),
    /// A forward signal that has no meaning where it came.
    #[error("MFC/R2: forward signal {signal} is not valid as {stage}")]
    Unexpected {
        /// The signal.
        signal: R2Signal,
        /// What was expected.
        stage: Stage,
    },
}

/// The numbers collected in the register phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Numbers {
    /// The dialled number.
    pub dnis: String,
    /// The caller's number; `None` when withheld or not sent.
    pub ani: Option<String>,
    /// The calling party category (group II signal).
    pub category: Option<R2Signal>,
}

/// How the register phase ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum R2Outcome {
    /// B-1 sent and the cycle closed: the call goes on to its answer.
    Accepted(Numbers),
    /// B-2 (busy) sent: the far end will clear forward.
    Refused(Numbers),
    /// Protocol failure or timeout: the line must clear back.
    Failed(R2Failure),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cycle {
    /// Our tone is off; waiting for the next forward tone.
    AwaitTone,
    /// Our tone answers forward signal `heard`; waiting for it to end.
    /// `last` when our tone is the group B signal.
    AwaitToneOff { heard: R2Signal, last: bool },
    /// A pulsed request is on until the deadline (or a forward tone).
    Pulse,
}

/// The incoming register machine of one call.
#[derive(Debug, Clone)]
pub struct R2Register {
    settings: R2Settings,
    accept: bool,
    dnis: String,
    ani: String,
    ani_done: bool,
    withheld: bool,
    category: Option<R2Signal>,
    stage: Stage,
    cycle: Cycle,
    deadline: u64,
    tone: Option<R2Signal>,
}

impl R2Register {
    /// Starts after the seize-ack at `now`; `accept` chooses B-1 (accept) or
    /// B-2 (busy) as the final answer.
    pub fn new(now: u64, settings: R2Settings, accept: bool) -> Self {
        Self {
            settings,
            accept,
            dnis: String::new(),
            ani: String::new(),
            ani_done: false,
            withheld: false,
            category: None,
            stage: Stage::Dnis,
            cycle: Cycle::AwaitTone,
            deadline: now + MF_BACK_CYCLE_MS,
            tone: None,
        }
    }

    /// The backward signal to send now, if any.
    pub fn tone(&self) -> Option<R2Signal> {
        self.tone
    }

    /// The DNIS collected so far.
    pub fn dnis(&self) -> &str {
        &self.dnis
    }

    fn numbers(&self) -> Numbers {
        Numbers {
            dnis: self.dnis.clone(),
            ani: (!self.withheld && !self.ani.is_empty()).then(|| self.ani.clone()),
            category: self.category,
        }
    }

    fn dnis_complete(&self) -> bool {
        self.dnis.len() >= usize::from(self.settings.dnis_digits)
    }

    /// The request after the ANI ended: more DNIS, or address complete.
    fn after_ani(&mut self) -> u8 {
        self.ani_done = true;
        if self.dnis_complete() {
            self.stage = Stage::GroupII;
            A_CHANGE_TO_GROUP_B
        } else {
            self.stage = Stage::Dnis;
            A_NEXT_DIGIT
        }
    }

    /// The request after the DNIS ended: the category (ANI first), or
    /// address complete.
    fn after_dnis(&mut self) -> u8 {
        if self.ani_done {
            self.stage = Stage::GroupII;
            A_CHANGE_TO_GROUP_B
        } else {
            self.stage = Stage::Category;
            A_SEND_CATEGORY
        }
    }

    /// The backward answer to forward signal `s`, and whether it is final.
    fn respond(&mut self, s: R2Signal) -> Result<(u8, bool), R2Failure> {
        let unexpected = R2Failure::Unexpected {
            signal: s,
            stage: self.stage,
        };
        let answer = match self.stage {
            Stage::Dnis => {
                let d = s.digit().ok_or(unexpected)?;
                self.dnis.push(d);
                if (self.dnis.len() == 1 && !self.ani_done) || self.dnis_complete() {
                    self.after_dnis()
                } else {
                    A_NEXT_DIGIT
                }
            }
            Stage::Category => {
                self.category = Some(s);
                self.stage = Stage::Ani;
                A_NEXT_DIGIT
            }
            Stage::Ani => match (s.digit(), s.get()) {
                (Some(d), _) => {
                    self.ani.push(d);
                    if self.ani.len() >= usize::from(self.settings.ani_max_digits) {
                        self.after_ani()
                    } else {
                        A_NEXT_DIGIT
                    }
                }
                (None, I_END_OF_ANI) => self.after_ani(),
                (None, I_ANI_RESTRICTED) => {
                    self.withheld = true;
                    self.after_ani()
                }
                (None, _) => return Err(unexpected),
            },
            Stage::GroupII => {
                let b = if self.accept {
                    B_ACCEPT_WITH_CHARGE
                } else {
                    B_BUSY
                };
                return Ok((b, true));
            }
        };
        Ok((answer, false))
    }

    /// The forward tone started (`Some`) or ended (`None`).
    pub fn on_signal(&mut self, now: u64, forward: Option<R2Signal>) -> Option<R2Outcome> {
        match (self.cycle, forward) {
            (Cycle::AwaitTone | Cycle::Pulse, Some(s)) => match self.respond(s) {
                Ok((answer, last)) => {
                    self.tone = Some(signal(answer));
                    self.cycle = Cycle::AwaitToneOff { heard: s, last };
                    self.deadline = now + MF_BACK_CYCLE_MS;
                    None
                }
                Err(e) => {
                    self.tone = None;
                    Some(R2Outcome::Failed(e))
                }
            },
            (Cycle::AwaitToneOff { last, .. }, None) => {
                self.tone = None;
                if last {
                    let numbers = self.numbers();
                    return Some(if self.accept {
                        R2Outcome::Accepted(numbers)
                    } else {
                        R2Outcome::Refused(numbers)
                    });
                }
                self.cycle = Cycle::AwaitTone;
                self.deadline = now + MF_BACK_CYCLE_MS;
                None
            }
            _ => None,
        }
    }

    /// Time passed: timers.
    pub fn on_tick(&mut self, now: u64) -> Option<R2Outcome> {
        if now < self.deadline {
            return None;
        }
        match self.cycle {
            Cycle::Pulse => {
                self.tone = None;
                self.cycle = Cycle::AwaitTone;
                self.deadline = now + MF_BACK_CYCLE_MS;
                None
            }
            Cycle::AwaitToneOff { heard, .. } => {
                self.tone = None;
                Some(R2Outcome::Failed(R2Failure::ToneStuck(heard)))
            }
            Cycle::AwaitTone => {
                let request = match self.stage {
                    // The far end may end the ANI by falling silent.
                    Stage::Ani => self.after_ani(),
                    // Nor an end-of-DNIS signal: silence after a digit ends it.
                    Stage::Dnis if !self.dnis.is_empty() => self.after_dnis(),
                    stage => return Some(R2Outcome::Failed(R2Failure::Timeout(stage))),
                };
                self.tone = Some(signal(request));
                self.cycle = Cycle::Pulse;
                self.deadline = now + PULSE_MS;
                None
            }
        }
    }
}

/// One channel's register signalling on its audio: the forward-tone detector,
/// the backward-tone generator and the register machine of the call in
/// progress, if any.
#[derive(Debug, Clone)]
pub struct R2Channel {
    settings: R2Settings,
    detector: R2Detector,
    generator: R2Generator,
    register: Option<R2Register>,
}

impl R2Channel {
    /// An idle channel of a span with `settings`.
    pub fn new(settings: R2Settings) -> Self {
        Self {
            settings,
            detector: R2Detector::new(Direction::Forward),
            generator: R2Generator::new(Direction::Backward),
            register: None,
        }
    }

    /// Starts the register phase of a new incoming call (see [`R2Register::new`]).
    pub fn start(&mut self, now: u64, accept: bool) {
        self.detector.reset();
        self.generator.set(None);
        self.register = Some(R2Register::new(now, self.settings, accept));
    }

    /// Ends the register phase (the call ended or it finished).
    pub fn stop(&mut self) {
        self.register = None;
        self.generator.set(None);
    }

    /// Whether a register phase is in progress.
    pub fn active(&self) -> bool {
        self.register.is_some()
    }

    /// One frame of the channel's received audio at `now`: detection, then
    /// timers. The phase stops when it ends.
    pub fn on_audio(&mut self, now: u64, frame: &[i16]) -> Option<R2Outcome> {
        let register = self.register.as_mut()?;
        let mut outcome = None;
        self.detector.process(frame, |s| {
            if outcome.is_none() {
                outcome = register.on_signal(now, s);
            }
        });
        let outcome = outcome.or_else(|| register.on_tick(now));
        self.generator.set(register.tone());
        if outcome.is_some() {
            self.stop();
        }
        outcome
    }

    /// Writes the backward tone due now into the channel's outgoing frame
    /// (leaves it alone when no register phase runs).
    pub fn fill(&mut self, out: &mut [i16]) {
        if self.active() {
            self.generator.fill(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_000_000;
    const SETTINGS: R2Settings = R2Settings {
        dnis_digits: 4,
        ani_max_digits: 20,
    };

    /// The register and a fake clock; the far end is played by the test.
    struct Rig {
        reg: R2Register,
        now: u64,
    }

    impl Rig {
        fn new(accept: bool) -> Self {
            Rig {
                reg: R2Register::new(T0, SETTINGS, accept),
                now: T0,
            }
        }

        /// One compelled cycle: forward signal `n` on, our answer, forward
        /// off. Returns our answer and any outcome.
        fn cycle(&mut self, n: u8) -> (Option<u8>, Option<R2Outcome>) {
            self.now += 60;
            if let Some(o) = self.reg.on_signal(self.now, Some(signal(n))) {
                return (None, Some(o));
            }
            let answer = self.reg.tone().map(R2Signal::get);
            self.now += 60;
            let outcome = self.reg.on_signal(self.now, None);
            assert_eq!(self.reg.tone(), None, "our tone follows theirs off");
            (answer, outcome)
        }

        fn digits(&mut self, digits: &str) -> Vec<u8> {
            digits
                .chars()
                .map(|d| {
                    let (a, o) = self.cycle(R2Signal::from_digit(d).unwrap().get());
                    assert_eq!(o, None);
                    a.unwrap()
                })
                .collect()
        }

        /// Lets `ms` pass in 20 ms ticks; the first outcome.
        fn wait(&mut self, ms: u64) -> Option<R2Outcome> {
            let end = self.now + ms;
            while self.now < end {
                self.now += 20;
                if let Some(o) = self.reg.on_tick(self.now) {
                    return Some(o);
                }
            }
            None
        }
    }

    #[test]
    fn dnis_digit_then_category_ani_rest_of_dnis_and_accept() {
        let mut rig = Rig::new(true);
        assert_eq!(rig.digits("8"), [A_SEND_CATEGORY]);
        assert_eq!(rig.cycle(1), (Some(A_NEXT_DIGIT), None)); // category II-1
        assert_eq!(rig.digits("13800000001"), [A_NEXT_DIGIT; 11]);
        // End of ANI; the DNIS is not complete, so A-1 asks for more of it.
        assert_eq!(rig.cycle(I_END_OF_ANI), (Some(A_NEXT_DIGIT), None));
        assert_eq!(
            rig.digits("001"),
            [A_NEXT_DIGIT, A_NEXT_DIGIT, A_CHANGE_TO_GROUP_B]
        );
        assert_eq!(rig.reg.dnis(), "8001");
        let (answer, outcome) = rig.cycle(1); // group II category
        assert_eq!(answer, Some(B_ACCEPT_WITH_CHARGE));
        assert_eq!(
            outcome,
            Some(R2Outcome::Accepted(Numbers {
                dnis: "8001".into(),
                ani: Some("13800000001".into()),
                category: Some(signal(1)),
            }))
        );
    }

    #[test]
    fn a_one_digit_dnis_and_a_withheld_caller() {
        let mut rig = Rig {
            reg: R2Register::new(
                T0,
                R2Settings {
                    dnis_digits: 1,
                    ani_max_digits: 20,
                },
                true,
            ),
            now: T0,
        };
        assert_eq!(rig.digits("5"), [A_SEND_CATEGORY]);
        assert_eq!(rig.cycle(2).0, Some(A_NEXT_DIGIT));
        assert_eq!(rig.cycle(I_ANI_RESTRICTED).0, Some(A_CHANGE_TO_GROUP_B));
        let (b, outcome) = rig.cycle(2);
        assert_eq!(b, Some(B_ACCEPT_WITH_CHARGE));
        let Some(R2Outcome::Accepted(n)) = outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!((n.dnis.as_str(), n.ani), ("5", None));
    }

    #[test]
    fn the_ani_stops_at_its_maximum_length() {
        let mut rig = Rig {
            reg: R2Register::new(
                T0,
                R2Settings {
                    dnis_digits: 2,
                    ani_max_digits: 3,
                },
                true,
            ),
            now: T0,
        };
        rig.digits("1");
        rig.cycle(1);
        assert_eq!(
            rig.digits("123"),
            [A_NEXT_DIGIT, A_NEXT_DIGIT, A_NEXT_DIGIT]
        );
        assert_eq!(rig.digits("2"), [A_CHANGE_TO_GROUP_B]);
    }

    #[test]
    fn without_a_flow_the_call_is_refused_busy() {
        let mut rig = Rig::new(false);
        rig.digits("1");
        rig.cycle(1);
        rig.cycle(I_END_OF_ANI);
        rig.digits("234");
        let (b, outcome) = rig.cycle(1);
        assert_eq!(b, Some(B_BUSY));
        assert!(
            matches!(outcome, Some(R2Outcome::Refused(n)) if n.dnis == "1234" && n.ani.is_none())
        );
    }

    #[test]
    fn silence_after_the_seizure_times_out_after_5_s() {
        let mut rig = Rig::new(true);
        assert_eq!(rig.wait(4_900), None);
        assert_eq!(
            rig.wait(200),
            Some(R2Outcome::Failed(R2Failure::Timeout(Stage::Dnis)))
        );
    }

    #[test]
    fn silence_for_the_category_times_out() {
        let mut rig = Rig::new(true);
        rig.digits("1");
        assert_eq!(
            rig.wait(5_100),
            Some(R2Outcome::Failed(R2Failure::Timeout(Stage::Category)))
        );
    }

    #[test]
    fn silence_ends_the_ani_and_the_dnis_with_a_pulsed_request() {
        let mut rig = Rig::new(true);
        rig.digits("7");
        rig.cycle(1);
        rig.digits("139");
        // The far end has no more ANI and falls silent: after 5 s A-1 is
        // pulsed for the rest of the DNIS.
        assert_eq!(rig.wait(5_020), None);
        assert_eq!(rig.reg.tone(), Some(signal(A_NEXT_DIGIT)));
        assert_eq!(rig.wait(200), None);
        assert_eq!(rig.reg.tone(), None, "a pulse, not a compelled tone");
        assert_eq!(rig.digits("7"), [A_NEXT_DIGIT]);
        // Two digits short of the four expected, the DNIS ends by silence too.
        assert_eq!(rig.wait(5_020), None);
        assert_eq!(rig.reg.tone(), Some(signal(A_CHANGE_TO_GROUP_B)));
        // The far end answers the pulse while it is still on.
        let (b, outcome) = rig.cycle(1);
        assert_eq!(b, Some(B_ACCEPT_WITH_CHARGE));
        let Some(R2Outcome::Accepted(n)) = outcome else {
            panic!("{outcome:?}")
        };
        assert_eq!((n.dnis.as_str(), n.ani.as_deref()), ("77", Some("139")));
    }

    #[test]
    fn a_forward_tone_that_never_ends_fails() {
        let mut rig = Rig::new(true);
        rig.reg.on_signal(T0 + 60, Some(signal(3)));
        assert_eq!(rig.reg.tone(), Some(signal(A_SEND_CATEGORY)));
        assert_eq!(
            rig.wait(5_200),
            Some(R2Outcome::Failed(R2Failure::ToneStuck(signal(3))))
        );
        assert_eq!(rig.reg.tone(), None);
    }

    #[test]
    fn garbage_signals_fail_where_they_make_no_sense() {
        // I-13 is no digit.
        let mut rig = Rig::new(true);
        assert_eq!(
            rig.cycle(13).1,
            Some(R2Outcome::Failed(R2Failure::Unexpected {
                signal: signal(13),
                stage: Stage::Dnis
            }))
        );
        // Nor is I-11 an ANI digit or end.
        let mut rig = Rig::new(true);
        rig.digits("1");
        rig.cycle(1);
        assert!(matches!(
            rig.cycle(11).1,
            Some(R2Outcome::Failed(R2Failure::Unexpected {
                stage: Stage::Ani,
                ..
            }))
        ));
        // A tone-off with nothing on, or a second tone while one is being
        // acknowledged, changes nothing.
        let mut rig = Rig::new(true);
        assert_eq!(rig.reg.on_signal(T0 + 10, None), None);
        rig.reg.on_signal(T0 + 20, Some(signal(1)));
        assert_eq!(rig.reg.on_signal(T0 + 30, Some(signal(2))), None);
        assert_eq!(rig.reg.tone(), Some(signal(A_SEND_CATEGORY)));
    }
}
