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

struct Rig {
    port: Box<dyn LinePort>,
    ctl: FxoControl,
    line: CallLine,
    now: u64,
    prompt_frames: Option<u32>,
    seen: Vec<LineOut>,
}

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
        Rig {
            port: Box::new(port),
            ctl,
            line,
            now: T0,
            prompt_frames: None,
            seen: Vec::new(),
        }
    }

    /// Plays the engine's part: executes hook commands, "plays" prompts for
    /// their length, and reports them finished.
    fn handle(&mut self, outs: Vec<LineOut>) {
        for out in outs {
            match &out {
                LineOut::Hook(h) => self.port.command(LineCommand::SetHook(*h)).unwrap(),
                LineOut::Play(Sound::Ivr(Prompt::Tone(t))) => {
                    self.prompt_frames = Some(t.duration_ms / 20)
                }
                LineOut::Play(_) => self.prompt_frames = Some(10),
                LineOut::StopPrompt => self.prompt_frames = None,
                _ => {}
            }
            self.seen.push(out);
        }
    }

    fn step(&mut self) {
        let mut frame = [0i16; FRAME_20MS];
        self.port.read_frame(&mut frame).unwrap();
        let mut outs = Vec::new();
        while let Some(e) = self.port.poll_event() {
            outs.extend(self.line.on_event(self.now, &e));
        }
        outs.extend(self.line.on_audio(self.now, &frame));
        self.handle(outs);
        if let Some(n) = &mut self.prompt_frames {
            if *n == 0 {
                self.prompt_frames = None;
                let outs = self.line.prompt_finished(self.now);
                self.handle(outs);
            } else {
                *n -= 1;
            }
        }
        self.port.write_frame(&[0; FRAME_20MS]).unwrap();
        self.now += 20;
    }

    /// Steps until `pred` holds for an output, at most `ms` of line time.
    fn until(&mut self, ms: u64, pred: impl Fn(&LineOut) -> bool) -> LineOut {
        let end = self.now + ms;
        while self.now < end {
            self.step();
            if let Some(i) = self.seen.iter().position(&pred) {
                return self.seen.remove(i);
            }
        }
        panic!("not seen within {ms} ms; outputs: {:?}", self.seen);
    }

    fn cdr(&mut self, ms: u64) -> Cdr {
        match self.until(ms, |o| matches!(o, LineOut::Ended(_))) {
            LineOut::Ended(cdr) => *cdr,
            _ => unreachable!(),
        }
    }

    /// Rings from `number`, answers, selects `digits` in the menu.
    fn call_to_queue(&mut self, number: &str, digits: &str) -> LineOut {
        self.ctl
            .place_call(IncomingCall::from_number(number).unwrap())
            .unwrap();
        self.ctl.play(Audio::Silence { ms: 400 }).unwrap();
        self.ctl
            .play(Audio::Dtmf {
                digits: digits.into(),
                timing: DtmfTiming::default(),
            })
            .unwrap();
        self.until(10_000, |o| matches!(o, LineOut::Answered { .. }));
        assert_eq!(self.ctl.state(), FxoState::Connected);
        self.until(5_000, |o| matches!(o, LineOut::Up(CallUp::Arrived { .. })))
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
        rig.now,
        CdrEventKind::Queued {
            queue,
            local: false,
        },
    );
    rig.ctl.hang_up(HangUp::LoopBreak { ms: 1000 }).unwrap();
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
        .log(rig.now, CdrEventKind::Answered { agent: AgentId(1) });
    assert!(rig.line.answered());
    // Reversals just after the answer are answer supervision, not a hang-up.
    for _ in 0..60 {
        rig.step();
    }
    rig.ctl.hang_up(HangUp::PolarityReversal).unwrap();
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
    rig.ctl.hang_up(HangUp::Tone(ToneKind::Busy)).unwrap();
    let cdr = rig.cdr(10_000);
    assert_eq!(cdr.cause, EndCause::AbandonedInQueue);
    assert_eq!(rig.ctl.state(), FxoState::Idle);
}

#[test]
fn release_after_blacklist_plays_the_message_then_hangs_up() {
    let mut rig = Rig::new("branch");
    rig.call_to_queue("+8617000000001", "1");
    let outs = rig.line.release(rig.now, &ReleaseReason::Blacklisted);
    assert!(outs.contains(&LineOut::Play(Sound::ReleaseMessage)));
    assert!(!outs.iter().any(|o| matches!(o, LineOut::Hook(_))));
    rig.handle(outs);
    let cdr = rig.cdr(2_000);
    assert_eq!(cdr.cause, EndCause::Blacklisted);
    assert_eq!(cdr.hangup, Hangup::System);
    assert!(rig.ctl.gateway_released());
}

#[test]
fn closed_hours_play_the_closed_message_and_hang_up() {
    let mut rig = Rig::new("after-hours");
    rig.ctl
        .place_call(IncomingCall::from_number("+8613800000004").unwrap())
        .unwrap();
    rig.until(10_000, |o| matches!(o, LineOut::Answered { .. }));
    let played = rig.until(100, |o| matches!(o, LineOut::Play(_)));
    assert!(matches!(played, LineOut::Play(Sound::Ivr(Prompt::Tone(t))) if t.duration_ms == 500));
    let cdr = rig.cdr(2_000);
    assert_eq!(cdr.cause, EndCause::Closed);
    assert_eq!(cdr.hangup, Hangup::System);
    assert_eq!(cdr.ivr_path, ["hours", "closed"]);
    assert!(rig.ctl.gateway_released());
}

#[test]
fn a_caller_who_gives_up_while_ringing_leaves_a_cdr_without_an_answer() {
    let mut rig = Rig::new("branch");
    let mut call = IncomingCall::from_number("+8613800000005").unwrap();
    call.caller_id = None;
    rig.ctl.place_call(call).unwrap();
    for _ in 0..25 {
        rig.step();
    }
    assert!(rig.line.call().is_some());
    rig.ctl.hang_up(HangUp::Silent).unwrap();
    let cdr = rig.cdr(10_000);
    assert_eq!(cdr.cause, EndCause::AbandonedInIvr);
    assert!(cdr.answered_us.is_none());
    assert!(!rig.seen.iter().any(|o| matches!(o, LineOut::Hook(_))));
}
