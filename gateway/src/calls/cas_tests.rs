//! An E1 channel's call line driven over a simulated span with a fake clock:
//! real G.704 framing and CAS multiframes, DTMF in the timeslot audio, alarms
//! from the far end; no threads and no wall clock.

use std::sync::Arc;

use tandem_hal::dsp::FRAME_20MS;
use tandem_hal::dsp::dtmf::DtmfTiming;
use tandem_hal::dsp::g711::Law;
use tandem_hal::e1::{Alarms, E1Span, SpanEvent, VOICE_CHANNELS};
use tandem_hal::sim::e1::{FarEnd, SimSpan, span};
use tandem_hal::sim::{Audio, Pace};
use tandem_node::calls::{CallUp, CdrEventKind, EndCause, Hangup, ValidCenterConfig};
use tandem_node::names::Site;
use tandem_node::routing::{CallId, QueueId};

use tandem_hal::board::R2Settings;
use tandem_hal::dsp::r2::{Direction, R2Generator, R2Signal};
use tandem_hal::sim::r2::{R2Call, R2CallState};

use super::cas::{ANSWER, CLEAR_BACK, IDLE, SEIZE, abcd};
use super::line::{CallLine, LineOut};
use super::tests::{Fake, LineIo, LineRig};

const DEMO: &str = include_str!("../../../center-configs/demo.toml");
/// Monday 2026-11-23 10:00 in Beijing.
const T0: u64 = 1_795_399_200_000;
const CH: u8 = 5;

/// The span of the E1 rig; the line is channel [`CH`].
struct E1 {
    span: SimSpan,
    far: FarEnd,
    rx: Vec<u8>,
    /// The gateway's frame of every channel (channel [`CH`] carries the
    /// line's register tones, the rest silence).
    tx: Vec<u8>,
}

type Rig = LineRig<E1>;

impl Rig {
    fn new() -> Self {
        Self::with_register(None)
    }

    /// A rig whose span runs MFC/R2 China with 4-digit DNIS.
    fn r2() -> Self {
        Self::with_register(Some(R2Settings {
            dnis_digits: 4,
            ani_max_digits: 20,
        }))
    }

    fn with_register(register: Option<R2Settings>) -> Self {
        let config = Arc::new(ValidCenterConfig::from_toml(DEMO).unwrap());
        let (span, far) = span("e1a", FRAME_20MS, Pace::Fast);
        let mut line = CallLine::e1(
            Site::new("bj-01").unwrap(),
            "e1a/5",
            register,
            Box::new(|ms| CallId(ms << 16)),
        );
        line.set_config(config);
        LineRig {
            io: E1 {
                span,
                far,
                rx: vec![0; usize::from(VOICE_CHANNELS) * FRAME_20MS],
                tx: vec![Law::Alaw.silence(); usize::from(VOICE_CHANNELS) * FRAME_20MS],
            },
            line,
            fake: Fake::new(T0),
        }
    }

    /// The far end seizes the channel; the gateway answers; digit 2 of the
    /// branch menu routes the call.
    fn seize_to_queue(&mut self) -> LineOut {
        for _ in 0..3 {
            self.step();
        }
        self.io.far.set_abcd(CH, abcd(SEIZE)).unwrap();
        self.until(2_000, |o| matches!(o, LineOut::Answered { .. }));
        assert_eq!(self.io.far.gateway_abcd(CH).unwrap(), abcd(ANSWER));
        self.io.far.play(CH, Audio::Silence { ms: 400 }).unwrap();
        self.io
            .far
            .play(
                CH,
                Audio::Dtmf {
                    digits: "2".into(),
                    timing: DtmfTiming::default(),
                },
            )
            .unwrap();
        self.until(10_000, |o| matches!(o, LineOut::Up(CallUp::Arrived { .. })))
    }
}

impl LineIo for E1 {
    fn read(&mut self, line: &mut CallLine, now: u64) -> (Vec<LineOut>, [i16; FRAME_20MS]) {
        let start = usize::from(CH - 1) * FRAME_20MS;
        let mut out = [0i16; FRAME_20MS];
        line.register_tone(&mut out);
        Law::Alaw.encode(&out, &mut self.tx[start..start + FRAME_20MS]);
        self.span.write_frame(&self.tx).unwrap();
        self.span.read_frame(&mut self.rx).unwrap();
        let start = usize::from(CH - 1) * FRAME_20MS;
        let mut frame = [0i16; FRAME_20MS];
        Law::Alaw.decode(&self.rx[start..start + FRAME_20MS], &mut frame);
        let mut outs = Vec::new();
        while let Some(e) = self.span.poll_event() {
            match e {
                SpanEvent::Abcd { channel, bits } if channel == CH => {
                    outs.extend(line.on_abcd(now, bits))
                }
                SpanEvent::Abcd { .. } => {}
                SpanEvent::Status(s) => outs.extend(line.on_span_status(now, &s)),
            }
        }
        (outs, frame)
    }
    fn signal(&mut self, out: &LineOut) {
        if let LineOut::Abcd(bits) = out {
            self.span.set_abcd(CH, *bits).unwrap();
        }
    }
}

#[test]
fn seizure_answers_runs_the_ivr_and_clear_forward_ends_the_call() {
    let mut rig = Rig::new();
    let LineOut::Up(CallUp::Arrived {
        call,
        line,
        caller,
        queue,
        ..
    }) = rig.seize_to_queue()
    else {
        unreachable!()
    };
    assert_eq!(line, "e1a/5");
    assert_eq!(caller, None);
    assert_eq!(queue, QueueId(2));
    assert!(rig.line.routed());
    rig.io.far.set_abcd(CH, abcd(IDLE)).unwrap();
    let cdr = rig.cdr(2_000);
    assert_eq!(cdr.call, call);
    assert_eq!(cdr.line, "e1a/5");
    assert_eq!(cdr.cause, EndCause::AbandonedInQueue);
    assert_eq!(cdr.hangup, Hangup::Caller);
    assert_eq!(cdr.events[0].kind, CdrEventKind::LineSeized);
    assert_eq!(cdr.events[1].kind, CdrEventKind::LineAnswered);
    // The far end cleared first: the channel goes straight back to idle.
    assert_eq!(rig.io.far.gateway_abcd(CH).unwrap(), abcd(IDLE));
    assert!(rig.line.call().is_none());
}

#[test]
fn gateway_release_sends_clear_back_until_the_far_end_clears() {
    let mut rig = Rig::new();
    rig.seize_to_queue();
    let outs = rig.line.release(
        rig.fake.now,
        &tandem_node::calls::ReleaseReason::ForceReleased(tandem_node::routing::AgentId(1)),
    );
    rig.handle(outs);
    let cdr = rig.cdr(100);
    assert_eq!(cdr.cause, EndCause::ForceReleased);
    assert_eq!(rig.io.far.gateway_abcd(CH).unwrap(), abcd(CLEAR_BACK));
    rig.io.far.set_abcd(CH, abcd(IDLE)).unwrap();
    for _ in 0..5 {
        rig.step();
    }
    assert_eq!(rig.io.far.gateway_abcd(CH).unwrap(), abcd(IDLE));
    // The channel takes a new call.
    rig.io.far.set_abcd(CH, abcd(SEIZE)).unwrap();
    rig.until(2_000, |o| matches!(o, LineOut::Answered { .. }));
}

#[test]
fn a_span_alarm_ends_the_call_with_a_line_fault() {
    let mut rig = Rig::new();
    rig.seize_to_queue();
    rig.io.far.set_alarms(Alarms {
        ais: true,
        ..Alarms::default()
    });
    let cdr = rig.cdr(2_000);
    assert!(
        matches!(&cdr.cause, EndCause::LineFault(r) if r.contains("AIS")),
        "{:?}",
        cdr.cause
    );
    assert_eq!(cdr.hangup, Hangup::System);
    assert!(rig.line.call().is_none());
    // While in alarm, the channel takes no call.
    for _ in 0..10 {
        rig.step();
    }
    assert!(rig.line.call().is_none());
}

#[test]
fn an_outbound_call_seizes_dials_after_the_ack_and_ends_on_clear_back() {
    let mut rig = Rig::new();
    for _ in 0..3 {
        rig.step();
    }
    let call = CallId(42);
    let outs = rig
        .line
        .dial(rig.fake.now, call, "+86 138 0000 0001")
        .unwrap();
    rig.handle(outs);
    assert_eq!(rig.io.far.gateway_abcd(CH).unwrap(), abcd(SEIZE));
    // Nothing is dialled before the far end acknowledges.
    for _ in 0..10 {
        rig.step();
    }
    assert!(!rig.fake.seen.iter().any(|o| matches!(o, LineOut::Play(_))));
    rig.io.far.set_abcd(CH, abcd(CLEAR_BACK)).unwrap(); // seize-ack: same bits
    let played = rig.until(1_000, |o| matches!(o, LineOut::Play(_)));
    assert_eq!(
        played,
        LineOut::Play(super::line::Sound::Digits("8613800000001".into()))
    );
    // Dialled, not answered yet: no DialAnswered until the answer signal.
    for _ in 0..20 {
        rig.step();
    }
    assert!(
        !rig.fake
            .seen
            .iter()
            .any(|o| matches!(o, LineOut::Up(CallUp::DialAnswered { .. })))
    );
    rig.io.far.set_abcd(CH, abcd(ANSWER)).unwrap();
    rig.until(1_000, |o| *o == LineOut::Up(CallUp::DialAnswered { call }));
    rig.io.far.set_abcd(CH, abcd(CLEAR_BACK)).unwrap();
    let cdr = rig.cdr(1_000);
    assert!(cdr.outbound);
    assert_eq!(cdr.cause, EndCause::Completed);
    assert_eq!(cdr.line, "e1a/5");
    // Clear-forward, then the far end's idle frees the channel.
    assert_eq!(rig.io.far.gateway_abcd(CH).unwrap(), abcd(IDLE));
    rig.io.far.set_abcd(CH, abcd(IDLE)).unwrap();
    for _ in 0..5 {
        rig.step();
    }
    rig.io.far.set_abcd(CH, abcd(SEIZE)).unwrap();
    rig.until(2_000, |o| matches!(o, LineOut::Answered { .. }));
}

#[test]
fn an_outbound_call_unanswered_when_the_far_end_gives_up_is_no_answer() {
    let mut rig = Rig::new();
    for _ in 0..3 {
        rig.step();
    }
    let outs = rig.line.dial(rig.fake.now, CallId(7), "10086").unwrap();
    rig.handle(outs);
    rig.io.far.set_abcd(CH, abcd(CLEAR_BACK)).unwrap();
    rig.until(1_000, |o| matches!(o, LineOut::Play(_)));
    for _ in 0..20 {
        rig.step();
    }
    rig.io.far.set_abcd(CH, abcd(IDLE)).unwrap();
    let cdr = rig.cdr(1_000);
    assert_eq!(cdr.cause, EndCause::NoAnswer);
    assert_eq!(rig.io.far.gateway_abcd(CH).unwrap(), abcd(IDLE));
    // A busy channel refuses a second seizure; the idle one takes it.
    assert!(rig.line.dial(rig.fake.now, CallId(8), "10086").is_ok());
    assert!(rig.line.dial(rig.fake.now, CallId(9), "10086").is_err());
}

/// Line states with China's C/D bits 11, as R2 spans send them.
fn china(bits: u8) -> tandem_hal::e1::Abcd {
    abcd(bits | 0b0011)
}

impl Rig {
    /// The far end places an R2 call; the gateway collects the numbers,
    /// answers, and digit 2 of the branch menu routes the call.
    fn r2_call_to_queue(&mut self, ani: Option<&str>) -> LineOut {
        for _ in 0..3 {
            self.step();
        }
        self.io
            .far
            .place_r2_call(CH, R2Call::new("8001", ani).unwrap())
            .unwrap();
        self.until(10_000, |o| matches!(o, LineOut::Answered { .. }));
        assert_eq!(
            self.io.far.r2_state(CH).unwrap(),
            Some(R2CallState::Accepted)
        );
        assert_eq!(self.io.far.gateway_abcd(CH).unwrap(), china(ANSWER));
        assert_eq!(self.line.dialled(), Some("8001"));
        self.io.far.play(CH, Audio::Silence { ms: 400 }).unwrap();
        self.io
            .far
            .play(
                CH,
                Audio::Dtmf {
                    digits: "2".into(),
                    timing: DtmfTiming::default(),
                },
            )
            .unwrap();
        self.until(10_000, |o| matches!(o, LineOut::Up(CallUp::Arrived { .. })))
    }
}

#[test]
fn an_r2_call_arrives_with_the_callers_number_and_the_dialled_number() {
    let mut rig = Rig::r2();
    let LineOut::Up(CallUp::Arrived {
        caller, vars, line, ..
    }) = rig.r2_call_to_queue(Some("13800000001"))
    else {
        unreachable!()
    };
    assert_eq!(line, "e1a/5");
    assert_eq!(caller.as_deref(), Some("13800000001"));
    assert_eq!(
        vars.get(super::line::DNIS_VAR).map(String::as_str),
        Some("8001")
    );
    rig.io.far.clear_r2_call(CH).unwrap();
    let cdr = rig.cdr(2_000);
    assert_eq!(cdr.number.as_deref(), Some("13800000001"));
    assert_eq!(cdr.cause, EndCause::AbandonedInQueue);
    assert_eq!(rig.io.far.gateway_abcd(CH).unwrap(), china(IDLE));
}

#[test]
fn a_withheld_r2_caller_arrives_without_a_number() {
    let mut rig = Rig::r2();
    let LineOut::Up(CallUp::Arrived { caller, .. }) = rig.r2_call_to_queue(None) else {
        unreachable!()
    };
    assert_eq!(caller, None);
}

#[test]
fn an_r2_caller_hanging_up_mid_signalling_ends_the_call_unanswered() {
    let mut rig = Rig::r2();
    for _ in 0..3 {
        rig.step();
    }
    rig.io
        .far
        .place_r2_call(CH, R2Call::new("8001", Some("13800000001")).unwrap())
        .unwrap();
    for _ in 0..25 {
        rig.step();
    }
    assert!(rig.line.call().is_some());
    assert_eq!(
        rig.io.far.r2_state(CH).unwrap(),
        Some(R2CallState::Signalling)
    );
    rig.io.far.clear_r2_call(CH).unwrap();
    let cdr = rig.cdr(1_000);
    assert_eq!(cdr.hangup, Hangup::Caller);
    assert_eq!(cdr.answered_us, None);
    assert!(
        !cdr.events
            .iter()
            .any(|e| e.kind == CdrEventKind::LineAnswered)
    );
    assert_eq!(rig.io.far.gateway_abcd(CH).unwrap(), china(IDLE));
    // The channel's tones stopped with the call.
    let mut out = [7i16; FRAME_20MS];
    rig.line.register_tone(&mut out);
    assert!(out.iter().all(|&x| x == 7));
}

#[test]
fn a_seizure_without_register_signals_clears_back_after_the_5_s_timer() {
    let mut rig = Rig::r2();
    for _ in 0..3 {
        rig.step();
    }
    rig.io.far.set_abcd(CH, china(SEIZE)).unwrap();
    let cdr = rig.cdr(6_000);
    assert!(
        matches!(&cdr.cause, EndCause::LineFault(r) if r.contains("no forward signal")),
        "{:?}",
        cdr.cause
    );
    assert_eq!(cdr.hangup, Hangup::System);
    assert!(cdr.ended_us - cdr.started_us >= 5_000_000);
    assert_eq!(rig.io.far.gateway_abcd(CH).unwrap(), china(CLEAR_BACK));
}

#[test]
fn a_garbage_register_tone_clears_back() {
    let mut rig = Rig::r2();
    for _ in 0..3 {
        rig.step();
    }
    rig.io.far.set_abcd(CH, china(SEIZE)).unwrap();
    // Forward signal 13 is no digit.
    let tone = R2Generator::render(Direction::Forward, R2Signal::new(13).unwrap(), 300);
    rig.io.far.play(CH, Audio::Samples(tone)).unwrap();
    let cdr = rig.cdr(2_000);
    assert!(
        matches!(&cdr.cause, EndCause::LineFault(r) if r.contains("13 is not valid as a DNIS digit")),
        "{:?}",
        cdr.cause
    );
    assert_eq!(rig.io.far.gateway_abcd(CH).unwrap(), china(CLEAR_BACK));
}
