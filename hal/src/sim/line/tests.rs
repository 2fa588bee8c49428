use super::*;
use crate::dsp::FRAME_20MS;
use crate::dsp::callerid::AbsentReason;
use crate::dsp::dtmf::DtmfGenerator;
use crate::dsp::level::dbm0;
use crate::dsp::progress::{ProgressConfig, ProgressDetector};
use crate::dsp::tones::{CHINA, NORTH_AMERICA};

/// A minimal gateway loop: read a frame, drain events, write `send`.
struct Gw {
    heard: Vec<i16>,
    events: Vec<(usize, LineEvent)>,
    frames: usize,
}

impl Gw {
    fn new() -> Self {
        Self {
            heard: Vec::new(),
            events: Vec::new(),
            frames: 0,
        }
    }

    fn run(&mut self, port: &mut dyn LinePort, ms: u32, send: &[i16]) {
        let mut frame = [0i16; FRAME_20MS];
        for i in 0..(ms / 20) as usize {
            port.read_frame(&mut frame).unwrap();
            self.heard.extend_from_slice(&frame);
            while let Some(e) = port.poll_event() {
                self.events.push((self.frames, e));
            }
            let mut out: Vec<i16> = send
                .iter()
                .copied()
                .skip(i * FRAME_20MS)
                .take(FRAME_20MS)
                .collect();
            out.resize(FRAME_20MS, 0);
            port.write_frame(&out).unwrap();
            self.frames += 1;
        }
    }

    fn kinds(&self) -> Vec<LineEvent> {
        self.events.iter().map(|e| e.1.clone()).collect()
    }
}

fn decode_cid(x: &[i16]) -> Vec<Received> {
    let mut rx = CallerIdReceiver::new();
    let mut out = Vec::new();
    rx.process(x, |r| out.extend(r.ok()));
    out
}

#[test]
fn incoming_call_with_bell202_caller_id_answer_talk_and_busy_tone_hang_up() {
    let (mut port, ex) = fxo("fxo1", &CHINA, FRAME_20MS, Pace::Fast);
    let call = IncomingCall {
        caller_id: Some(
            CallerId::with_number("13800138000")
                .unwrap()
                .named("LI SI")
                .unwrap(),
        ),
        standard: CidStandard::Bell202,
        max_rings: None,
    };
    ex.place_call(call).unwrap();
    ex.play(Audio::Dtmf {
        digits: "123".into(),
        timing: DtmfTiming::default(),
    })
    .unwrap();
    assert_eq!(ex.state(), FxoState::Alerting);
    let mut gw = Gw::new();
    gw.run(&mut port, 5000, &[]);
    // China ring cadence 1 s on / 4 s off: one burst in 5 s, caller ID after it.
    assert_eq!(gw.kinds(), [LineEvent::RingStart, LineEvent::RingStop]);
    let cid = decode_cid(&gw.heard);
    assert_eq!(cid.len(), 1);
    assert_eq!(cid[0].id.number, "13800138000");
    assert_eq!(cid[0].id.name, "LI SI");
    assert_eq!(cid[0].standard, CidStandard::Bell202);

    port.command(LineCommand::SetHook(Hook::Off)).unwrap();
    assert_eq!(ex.state(), FxoState::Connected);
    let mut talk = Gw::new();
    let mut voice = vec![0i16; 8000];
    crate::dsp::oscillator::Sine::new(700.0, -12.0).fill(&mut voice);
    talk.run(&mut port, 1000, &voice);
    assert_eq!(talk.kinds(), [LineEvent::LoopCurrent { present: true }]);
    assert_eq!(DtmfDetector::decode(&talk.heard), "123");
    let captured = ex.take_captured();
    assert_eq!(captured.len(), 8000);
    assert!((dbm0(&captured) + 12.0).abs() < 0.1);

    ex.hang_up(HangUp::Tone(ToneKind::Busy)).unwrap();
    let mut after = Gw::new();
    after.run(&mut port, 4000, &[]);
    let mut det = ProgressDetector::new(&CHINA, ProgressConfig::default());
    let mut tones = Vec::new();
    det.process(&after.heard, |k| tones.push(k));
    assert_eq!(tones, [ToneKind::Busy]);
    port.command(LineCommand::SetHook(Hook::On)).unwrap();
    assert_eq!(ex.state(), FxoState::Idle);
    assert!(!ex.gateway_released());
}

#[test]
fn dtmf_caller_id_comes_after_polarity_reversal_and_before_the_first_ring() {
    let (mut port, ex) = fxo("fxo1", &CHINA, FRAME_20MS, Pace::Fast);
    let call = IncomingCall {
        caller_id: Some(CallerId::with_number("02812345678").unwrap()),
        standard: CidStandard::Dtmf,
        max_rings: None,
    };
    ex.place_call(call).unwrap();
    let mut gw = Gw::new();
    gw.run(&mut port, 3000, &[]);
    assert_eq!(gw.events[0], (0, LineEvent::PolarityReversal));
    let (ring_frame, _) = gw
        .events
        .iter()
        .find(|e| e.1 == LineEvent::RingStart)
        .unwrap();
    let before_ring = &gw.heard[..ring_frame * FRAME_20MS];
    assert_eq!(DtmfDetector::decode(before_ring), "A02812345678C");
    assert_eq!(decode_cid(before_ring)[0].standard, CidStandard::Dtmf);
}

#[test]
fn loop_break_and_polarity_disconnects_are_signalled() {
    let (mut port, ex) = fxo("fxo1", &CHINA, FRAME_20MS, Pace::Fast);
    ex.place_call(IncomingCall {
        caller_id: None,
        standard: CidStandard::Bell202,
        max_rings: None,
    })
    .unwrap();
    port.command(LineCommand::SetHook(Hook::Off)).unwrap();
    ex.hang_up(HangUp::LoopBreak { ms: 600 }).unwrap();
    let mut gw = Gw::new();
    gw.run(&mut port, 1000, &[]);
    let drops: Vec<_> = gw
        .events
        .iter()
        .filter(|e| matches!(e.1, LineEvent::LoopCurrent { .. }))
        .collect();
    assert_eq!(drops.len(), 3, "{drops:?}");
    assert_eq!(drops[1].1, LineEvent::LoopCurrent { present: false });
    assert_eq!(drops[2].1, LineEvent::LoopCurrent { present: true });
    // 600 ms = 30 frames, give or take the frame the drop fell into.
    assert!((29..=30).contains(&(drops[2].0 - drops[1].0)));
    assert_eq!(ex.state(), FxoState::Released);
    port.command(LineCommand::SetHook(Hook::On)).unwrap();

    ex.place_call(IncomingCall {
        caller_id: None,
        standard: CidStandard::V23,
        max_rings: None,
    })
    .unwrap();
    port.command(LineCommand::SetHook(Hook::Off)).unwrap();
    ex.hang_up(HangUp::PolarityReversal).unwrap();
    let mut gw = Gw::new();
    gw.run(&mut port, 100, &[]);
    assert!(gw.kinds().contains(&LineEvent::PolarityReversal));
    assert!(ex.hang_up(HangUp::Silent).is_err(), "already released");
}

#[test]
fn caller_who_gives_up_stops_the_rings() {
    let (mut port, ex) = fxo("fxo1", &NORTH_AMERICA, FRAME_20MS, Pace::Fast);
    ex.place_call(IncomingCall {
        caller_id: None,
        standard: CidStandard::Bell202,
        max_rings: Some(2),
    })
    .unwrap();
    let mut gw = Gw::new();
    gw.run(&mut port, 20_000, &[]);
    let starts = gw
        .kinds()
        .iter()
        .filter(|e| **e == LineEvent::RingStart)
        .count();
    assert_eq!(starts, 2);
    assert_eq!(ex.state(), FxoState::Idle);
    // North American cadence: second ring starts 6 s after the first.
    let ring_frames: Vec<_> = gw
        .events
        .iter()
        .filter(|e| e.1 == LineEvent::RingStart)
        .map(|e| e.0)
        .collect();
    assert_eq!(ring_frames[1] - ring_frames[0], 300);
    // Hanging up while alerting works too.
    ex.place_call(IncomingCall {
        caller_id: None,
        standard: CidStandard::Bell202,
        max_rings: None,
    })
    .unwrap();
    gw.run(&mut port, 100, &[]);
    ex.hang_up(HangUp::Silent).unwrap();
    assert_eq!(ex.state(), FxoState::Idle);
}

#[test]
fn gateway_dials_out_and_the_exchange_answers() {
    let (mut port, ex) = fxo("fxo2", &CHINA, FRAME_20MS, Pace::Fast);
    port.command(LineCommand::SetHook(Hook::Off)).unwrap();
    let mut gw = Gw::new();
    gw.run(&mut port, 2000, &[]);
    let mut det = ProgressDetector::new(&CHINA, ProgressConfig::default());
    let mut tones = Vec::new();
    det.process(&gw.heard, |k| tones.push(k));
    assert_eq!(tones, [ToneKind::Dial]);
    let digits = DtmfGenerator::render("95511", DtmfTiming::default()).unwrap();
    gw.run(&mut port, (digits.len() / 8) as u32 + 200, &digits);
    assert_eq!(ex.dialed(), "95511");
    // The number is complete after a second of silence: ringback until answered.
    let mut ringing = Gw::new();
    ringing.run(&mut port, 12_000, &[]);
    let mut det = ProgressDetector::new(&CHINA, ProgressConfig::default());
    let mut tones = Vec::new();
    det.process(&ringing.heard, |k| tones.push(k));
    assert_eq!(tones, [ToneKind::Ringback]);
    ex.play(Audio::Samples(vec![1000; 160])).unwrap();
    ex.answer().unwrap();
    let mut talk = Gw::new();
    talk.run(&mut port, 20, &[]);
    assert_eq!(talk.heard, vec![1000; 160]);
    port.command(LineCommand::SetHook(Hook::On)).unwrap();
    assert!(ex.gateway_released());
    assert!(ex.answer().is_err());
}

#[test]
fn fxs_phone_rings_shows_caller_id_answers_and_dials() {
    let (mut port, phone) = fxs("fxs1", &CHINA, FRAME_20MS, Pace::Fast);
    let id = CallerId {
        name_absent: Some(AbsentReason::Private),
        ..CallerId::with_number("8001").unwrap()
    };
    port.command(LineCommand::Ring {
        caller_id: Some((id.clone(), CidStandard::V23)),
    })
    .unwrap();
    let mut gw = Gw::new();
    gw.run(&mut port, 6000, &[]);
    assert!(phone.is_ringing());
    assert_eq!(phone.rings(), 2);
    let shown = phone.caller_id().unwrap();
    assert_eq!(shown.id, id);
    assert_eq!(shown.standard, CidStandard::V23);

    phone.off_hook().unwrap();
    assert!(!phone.is_ringing());
    assert!(port.command(LineCommand::Ring { caller_id: None }).is_err());
    phone.dial("42").unwrap();
    let mut tone = vec![0i16; 4800];
    crate::dsp::oscillator::Sine::new(450.0, -10.0).fill(&mut tone);
    let mut talk = Gw::new();
    talk.run(&mut port, 600, &tone);
    assert_eq!(talk.kinds(), [LineEvent::Hook(Hook::Off)]);
    assert_eq!(DtmfDetector::decode(&talk.heard), "42");
    assert_eq!(phone.take_heard().len(), 600 * 8);
    phone.flash().unwrap();
    port.command(LineCommand::ReversePolarity).unwrap();
    assert!(phone.polarity_reversed());
    phone.on_hook().unwrap();
    assert_eq!(phone.hook(), Hook::On);
    assert!(phone.on_hook().is_err());
    assert!(phone.dial("1").is_err());
    assert_eq!(
        std::iter::from_fn(|| port.poll_event()).collect::<Vec<_>>(),
        [LineEvent::Flash, LineEvent::Hook(Hook::On)]
    );
}

#[test]
fn dtmf_caller_id_to_an_fxs_phone_is_shown_before_the_first_ring() {
    let (mut port, phone) = fxs("fxs1", &CHINA, FRAME_20MS, Pace::Fast);
    let id = CallerId::with_number("075588889999").unwrap();
    port.command(LineCommand::Ring {
        caller_id: Some((id.clone(), CidStandard::Dtmf)),
    })
    .unwrap();
    let mut gw = Gw::new();
    gw.run(&mut port, 2200, &[]);
    assert_eq!(
        phone.rings(),
        0,
        "14 digits of DTMF caller ID come before the ring"
    );
    gw.run(&mut port, 1000, &[]);
    assert_eq!(phone.rings(), 1);
    assert_eq!(phone.caller_id().unwrap().id, id);
    port.command(LineCommand::StopRing).unwrap();
    assert!(!phone.is_ringing());
}

#[test]
fn wrong_commands_and_frame_sizes_are_errors() {
    let (mut fxo_port, ex) = fxo("fxo1", &CHINA, FRAME_20MS, Pace::Fast);
    let (mut fxs_port, _) = fxs("fxs1", &CHINA, FRAME_20MS, Pace::Fast);
    assert!(matches!(
        fxo_port.command(LineCommand::StopRing),
        Err(LineError::WrongKind { .. })
    ));
    assert!(matches!(
        fxs_port.command(LineCommand::SetHook(Hook::Off)),
        Err(LineError::WrongKind { .. })
    ));
    let mut small = [0i16; 80];
    let err = fxo_port.read_frame(&mut small).unwrap_err();
    assert_eq!(
        err.to_string(),
        "port fxo1: frame of 80 samples, the port uses 160"
    );
    assert!(fxo_port.write_frame(&small).is_err());
    assert!(ex.hang_up(HangUp::Silent).is_err());
    ex.place_call(IncomingCall {
        caller_id: None,
        standard: CidStandard::Bell202,
        max_rings: None,
    })
    .unwrap();
    assert!(
        ex.place_call(IncomingCall {
            caller_id: None,
            standard: CidStandard::Bell202,
            max_rings: None
        })
        .is_err()
    );
    assert!(ex.play(Audio::Wav("/nonexistent.wav".into())).is_err());
    assert_eq!(fxo_port.id(), "fxo1");
    assert_eq!(fxs_port.kind(), PortKind::Fxs);
}

#[test]
fn wav_prompts_play_into_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prompt.wav");
    let x = DtmfGenerator::render("7#", DtmfTiming::default()).unwrap();
    crate::wav::write_line_audio(&path, &x).unwrap();
    let (mut port, ex) = fxo("fxo1", &CHINA, FRAME_20MS, Pace::Fast);
    ex.place_call(IncomingCall {
        caller_id: None,
        standard: CidStandard::Bell202,
        max_rings: None,
    })
    .unwrap();
    ex.play(Audio::Wav(path)).unwrap();
    port.command(LineCommand::SetHook(Hook::Off)).unwrap();
    let mut gw = Gw::new();
    gw.run(&mut port, 600, &[]);
    assert_eq!(DtmfDetector::decode(&gw.heard), "7#");
}

#[test]
fn real_time_pace_waits_for_each_frame_and_fast_does_not() {
    let (mut slow, _) = fxo("a", &CHINA, FRAME_20MS, Pace::RealTime);
    let (mut fast, _) = fxo("b", &CHINA, FRAME_20MS, Pace::Fast);
    let mut frame = [0i16; FRAME_20MS];
    let t = std::time::Instant::now();
    for _ in 0..10 {
        slow.read_frame(&mut frame).unwrap();
    }
    let slow_ms = t.elapsed().as_millis();
    assert!(
        (190..400).contains(&slow_ms),
        "{slow_ms} ms for 10 real-time frames"
    );
    let t = std::time::Instant::now();
    for _ in 0..500 {
        fast.read_frame(&mut frame).unwrap();
    }
    assert!(
        t.elapsed().as_millis() < 1000,
        "500 fast frames took {:?}",
        t.elapsed()
    );
}
