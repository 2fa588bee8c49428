//! The FXO line machine driven over a simulated exchange line with a fake
//! clock: real ring cadence, FSK caller ID, DTMF and disconnect signals, no
//! threads and no wall clock.

use std::sync::Arc;

use tandem_hal::dsp::FRAME_20MS;
use tandem_hal::dsp::dtmf::DtmfTiming;
use tandem_hal::dsp::tones::{CHINA, ToneKind};
use tandem_hal::fxo::SupervisorConfig;
use tandem_hal::line::{LineCommand, LinePort};
use tandem_hal::sim::line::{FxoControl, FxoState, HangUp, IncomingCall, fxo};
use tandem_hal::sim::{Audio, Pace};
use tandem_node::calls::{
    CallUp, Cdr, CdrEventKind, EndCause, Hangup, ReleaseReason, ValidCenterConfig,
};
use tandem_node::ivr::Prompt;
use tandem_node::names::Site;
use tandem_node::routing::{AgentId, CallId, QueueId};

use super::line::{CallLine, LineOut, Sound};
use super::record::{decode_cdr, encode_cdr};

const DEMO: &str = include_str!("../../../center-configs/demo.toml");
/// Monday 2026-11-23 10:00 in Beijing.
const T0: u64 = 1_795_399_200_000;

/// The exchange line of the FXO rig.
struct Fxo {
    port: Box<dyn LinePort>,
    ctl: FxoControl,
}

type Rig = LineRig<Fxo>;

impl Rig {
    fn new(flow: &str) -> Self {
        let toml = DEMO.replace(
            "site = \"bj-01\"\nflow = \"branch\"",
            &format!("site = \"bj-01\"\nflow = \"{flow}\""),
        );
        let config = Arc::new(ValidCenterConfig::from_toml(&toml).unwrap());
        let (port, ctl) = fxo("fxo1", &CHINA, FRAME_20MS, Pace::Fast);
        let mut line = CallLine::new(
            Site::new("bj-01").unwrap(),
            "fxo1",
            SupervisorConfig::for_plan(&CHINA),
            Box::new(|ms| CallId(ms << 16)),
        );
        line.set_config(config);
        LineRig {
            io: Fxo {
                port: Box::new(port),
                ctl,
            },
            line,
            fake: Fake::new(T0),
        }
    }

    /// Rings from `number`, answers, selects `digits` in the menu.
    fn call_to_queue(&mut self, number: &str, digits: &str) -> LineOut {
        self.io
            .ctl
            .place_call(IncomingCall::from_number(number).unwrap())
            .unwrap();
        self.io.ctl.play(Audio::Silence { ms: 400 }).unwrap();
        self.io
            .ctl
            .play(Audio::Dtmf {
                digits: digits.into(),
                timing: DtmfTiming::default(),
            })
            .unwrap();
        self.until(10_000, |o| matches!(o, LineOut::Answered { .. }));
        assert_eq!(self.io.ctl.state(), FxoState::Connected);
        self.until(5_000, |o| matches!(o, LineOut::Up(CallUp::Arrived { .. })))
    }
}

/// The engine's side of a line-machine test: line time, the prompt
/// playing, and the outputs not yet waited for.
pub(super) struct Fake {
    pub now: u64,
    prompt_frames: Option<u32>,
    pub seen: Vec<LineOut>,
}

impl Fake {
    pub fn new(now: u64) -> Self {
        Fake {
            now,
            prompt_frames: None,
            seen: Vec::new(),
        }
    }
}

/// A line machine with its fake line and clock. The FXO and the E1 rigs
/// read and signal their own way ([`LineIo`]); playing the engine's part is
/// shared.
pub(super) struct LineRig<Io> {
    pub io: Io,
    pub line: CallLine,
    pub fake: Fake,
}

/// How a rig's line is read and signalled.
pub(super) trait LineIo {
    /// One frame from the line: the signalling's outputs and the audio.
    fn read(&mut self, line: &mut CallLine, now: u64) -> (Vec<LineOut>, [i16; FRAME_20MS]);
    /// Carries out a signalling output (hook, ABCD bits).
    fn signal(&mut self, out: &LineOut);
}

impl<Io: LineIo> LineRig<Io> {
    /// Plays the engine's part: signals, "plays" prompts for their length
    /// (tones) or 10 frames, and reports them finished.
    pub fn handle(&mut self, outs: Vec<LineOut>) {
        for out in outs {
            self.io.signal(&out);
            let f = &mut self.fake;
            match &out {
                LineOut::Play(Sound::Ivr(Prompt::Tone(t))) => {
                    f.prompt_frames = Some(t.duration_ms / 20)
                }
                LineOut::Play(_) => f.prompt_frames = Some(10),
                LineOut::StopPrompt => f.prompt_frames = None,
                _ => {}
            }
            f.seen.push(out);
        }
    }

    /// One 20 ms frame.
    pub fn step(&mut self) {
        let now = self.fake.now;
        let (mut outs, frame) = self.io.read(&mut self.line, now);
        outs.extend(self.line.on_audio(now, &frame));
        self.handle(outs);
        let f = &mut self.fake;
        let finished = match &mut f.prompt_frames {
            Some(0) => {
                f.prompt_frames = None;
                true
            }
            Some(n) => {
                *n -= 1;
                false
            }
            None => false,
        };
        if finished {
            let outs = self.line.prompt_finished(now);
            self.handle(outs);
        }
        self.fake.now += 20;
    }

    /// Steps until `pred` holds for an output, at most `ms` of line time.
    pub fn until(&mut self, ms: u64, pred: impl Fn(&LineOut) -> bool) -> LineOut {
        let end = self.fake.now + ms;
        while self.fake.now < end {
            self.step();
            if let Some(i) = self.fake.seen.iter().position(&pred) {
                return self.fake.seen.remove(i);
            }
        }
        panic!("not seen within {ms} ms; outputs: {:?}", self.fake.seen);
    }

    /// Steps until the call ends; its CDR.
    pub fn cdr(&mut self, ms: u64) -> Cdr {
        match self.until(ms, |o| matches!(o, LineOut::Ended(_))) {
            LineOut::Ended(cdr) => *cdr,
            _ => unreachable!(),
        }
    }
}

impl LineIo for Fxo {
    fn read(&mut self, line: &mut CallLine, now: u64) -> (Vec<LineOut>, [i16; FRAME_20MS]) {
        self.port.write_frame(&[0; FRAME_20MS]).unwrap();
        let mut frame = [0i16; FRAME_20MS];
        self.port.read_frame(&mut frame).unwrap();
        let mut outs = Vec::new();
        while let Some(e) = self.port.poll_event() {
            outs.extend(line.on_event(now, &e));
        }
        (outs, frame)
    }
    fn signal(&mut self, out: &LineOut) {
        if let LineOut::Hook(h) = out {
            self.port.command(LineCommand::SetHook(*h)).unwrap();
        }
    }
}

fn kinds(cdr: &Cdr) -> Vec<&CdrEventKind> {
    cdr.events.iter().map(|e| &e.kind).collect()
}

#[test]
fn ring_caller_id_answer_ivr_digit_routes_and_loop_break_ends_with_a_cdr() {
    let mut rig = Rig::new("branch");
    let route = rig.call_to_queue("+8613800000001", "2");
    let LineOut::Up(CallUp::Arrived {
        call,
        line,
        caller,
        queue,
        priority,
        ivr_path,
        ..
    }) = route
    else {
        unreachable!()
    };
    assert_eq!(line, "fxo1");
    assert_eq!(caller.as_deref(), Some("+8613800000001"));
    assert_eq!((queue, priority), (QueueId(2), 1));
    assert_eq!(ivr_path, ["hours", "welcome", "menu", "cards"]);
    assert!(rig.line.routed());
    rig.line.log(
        rig.fake.now,
        CdrEventKind::Queued {
            queue,
            local: false,
        },
    );
    rig.io.ctl.hang_up(HangUp::LoopBreak { ms: 1000 }).unwrap();
    let cdr = rig.cdr(3_000);
    assert_eq!(cdr.call, call);
    assert_eq!(cdr.cause, EndCause::AbandonedInQueue);
    assert_eq!(cdr.hangup, Hangup::Caller);
    assert_eq!(cdr.number.as_deref(), Some("+8613800000001"));
    assert_eq!(cdr.queue, Some(QueueId(2)));
    assert_eq!(cdr.ivr_path, ["hours", "welcome", "menu", "cards"]);
    let k = kinds(&cdr);
    assert_eq!(k[0], &CdrEventKind::LineSeized);
    assert_eq!(k[1], &CdrEventKind::LineAnswered);
    assert!(k.contains(&&CdrEventKind::Queued {
        queue: QueueId(2),
        local: false
    }));
    assert!(rig.line.call().is_none());
    // The CDR survives the outbox encoding.
    assert_eq!(decode_cdr(&encode_cdr(&cdr)).unwrap(), cdr);
}

#[test]
fn polarity_reversal_after_an_answer_completes_the_call() {
    let mut rig = Rig::new("branch");
    rig.call_to_queue("+8613800000002", "1");
    rig.line
        .log(rig.fake.now, CdrEventKind::Answered { agent: AgentId(1) });
    assert!(rig.line.answered());
    // Reversals just after the answer are answer supervision, not a hang-up.
    for _ in 0..60 {
        rig.step();
    }
    rig.io.ctl.hang_up(HangUp::PolarityReversal).unwrap();
    let cdr = rig.cdr(2_000);
    assert_eq!(cdr.cause, EndCause::Completed);
    assert_eq!(cdr.hangup, Hangup::Caller);
    assert_eq!(cdr.agents, [AgentId(1)]);
    assert!(cdr.answered_us.is_some());
}

#[test]
fn busy_tone_ends_the_call() {
    let mut rig = Rig::new("branch");
    rig.call_to_queue("+8613800000003", "1");
    rig.io.ctl.hang_up(HangUp::Tone(ToneKind::Busy)).unwrap();
    let cdr = rig.cdr(10_000);
    assert_eq!(cdr.cause, EndCause::AbandonedInQueue);
    assert_eq!(rig.io.ctl.state(), FxoState::Idle);
}

#[test]
fn release_after_blacklist_plays_the_message_then_hangs_up() {
    let mut rig = Rig::new("branch");
    rig.call_to_queue("+8617000000001", "1");
    let outs = rig.line.release(rig.fake.now, &ReleaseReason::Blacklisted);
    assert!(outs.contains(&LineOut::Play(Sound::ReleaseMessage)));
    assert!(!outs.iter().any(|o| matches!(o, LineOut::Hook(_))));
    rig.handle(outs);
    let cdr = rig.cdr(2_000);
    assert_eq!(cdr.cause, EndCause::Blacklisted);
    assert_eq!(cdr.hangup, Hangup::System);
    assert!(rig.io.ctl.gateway_released());
}

#[test]
fn closed_hours_play_the_closed_message_and_hang_up() {
    let mut rig = Rig::new("after-hours");
    rig.io
        .ctl
        .place_call(IncomingCall::from_number("+8613800000004").unwrap())
        .unwrap();
    rig.until(10_000, |o| matches!(o, LineOut::Answered { .. }));
    let played = rig.until(100, |o| matches!(o, LineOut::Play(_)));
    assert!(matches!(played, LineOut::Play(Sound::Ivr(Prompt::Tone(t))) if t.duration_ms == 500));
    let cdr = rig.cdr(2_000);
    assert_eq!(cdr.cause, EndCause::Closed);
    assert_eq!(cdr.hangup, Hangup::System);
    assert_eq!(cdr.ivr_path, ["hours", "closed"]);
    assert!(rig.io.ctl.gateway_released());
}

#[test]
fn a_caller_who_gives_up_while_ringing_leaves_a_cdr_without_an_answer() {
    let mut rig = Rig::new("branch");
    let mut call = IncomingCall::from_number("+8613800000005").unwrap();
    call.caller_id = None;
    rig.io.ctl.place_call(call).unwrap();
    for _ in 0..25 {
        rig.step();
    }
    assert!(rig.line.call().is_some());
    rig.io.ctl.hang_up(HangUp::Silent).unwrap();
    let cdr = rig.cdr(10_000);
    assert_eq!(cdr.cause, EndCause::AbandonedInIvr);
    assert!(cdr.answered_us.is_none());
    assert!(!rig.fake.seen.iter().any(|o| matches!(o, LineOut::Hook(_))));
}
