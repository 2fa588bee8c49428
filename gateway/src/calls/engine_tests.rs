//! The engine on a simulated board, driven through its command channel as the
//! uplink drives it: a call handed to the coordinator, the WAN dropping while
//! it waits (taken back by the local router, answered at a local seat), the
//! WAN returning (local agents announced again, the coordinator's calls
//! reported), the CDR committed before
//! `Ended` is sent, and calls on E1 timeslots (in, out, span alarms).

use std::sync::Arc;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use tandem_hal::audio::AudioDevice;
use tandem_hal::dsp::FRAME_20MS;
use tandem_hal::dsp::dtmf::DtmfTiming;
use tandem_hal::dsp::tones::CHINA;
use tandem_hal::sim::line::IncomingCall;
use tandem_hal::sim::{Audio, Pace, SimBoard};
use tandem_node::calls::{
    AgentCommand, AgentUpdate, AgentView, AnchoredParty, AnchoredState, CallDown, CallUp, Cdr,
    CdrEventKind, EndCause, Endpoint, Hangup, PartyId, PartyRole, ReleaseReason, ValidCenterConfig,
};
use tandem_node::media::analysis::{goertzel_dbfs, tone};
use tandem_node::media::{CodecConfig, LegId, LegSender, MediaTotals, SampleRate};
use tandem_node::names::Site;
use tandem_node::proto::LegOpen;
use tandem_node::routing::{AgentId, AgentState, CallId, QueueId};

use super::cas::{ANSWER, CLEAR_BACK, IDLE, SEIZE, SEIZE_ACK, abcd};
use super::effects::Effect;
use super::engine::{EngineSetup, spawn};
use super::{AgentViews, Cmd, Stats};
use crate::media_link::{LegEvent, MediaLink};

const DEMO: &str = include_str!("../../../center-configs/demo.toml");

fn next_effect(rx: &mut Receiver<Effect>, what: &str, pred: impl Fn(&Effect) -> bool) -> Effect {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match rx.try_recv() {
            Ok(e) if pred(&e) => return e,
            Ok(_) => {}
            Err(_) => {
                assert!(Instant::now() < deadline, "no {what}");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// The next CDR the engine hands over, with the `Ended` to send once it is
/// committed.
fn next_cdr(rx: &mut Receiver<Effect>) -> (Box<Cdr>, Option<CallUp>) {
    match next_effect(rx, "CDR", |e| matches!(e, Effect::Cdr { .. })) {
        Effect::Cdr { cdr, ended } => (cdr, ended),
        _ => unreachable!(),
    }
}

/// The next call handed to the coordinator: id, line, caller, queue.
fn next_arrival(rx: &mut Receiver<Effect>) -> (CallId, String, Option<String>, QueueId) {
    match next_effect(rx, "Arrived", |e| {
        matches!(e, Effect::Up(CallUp::Arrived { .. }))
    }) {
        Effect::Up(CallUp::Arrived {
            call,
            line,
            caller,
            queue,
            ..
        }) => (call, line, caller, queue),
        _ => unreachable!(),
    }
}

fn completed(call: CallId) -> CallUp {
    CallUp::Ended {
        call,
        cause: EndCause::Completed,
    }
}

fn wait_view(views: &AgentViews, agent: AgentId, what: &str, pred: impl Fn(&AgentView) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !pred(&views.get(agent)) {
        assert!(
            Instant::now() < deadline,
            "agent never {what}: {:?}",
            views.get(agent)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

type Rig = (
    super::EngineHandle,
    tandem_hal::sim::SimExchange,
    AgentViews,
    Receiver<Effect>,
    MediaLink,
);

/// The engine on the sim board with the demo configuration, as site bj-01.
fn rig() -> Rig {
    rig_with(Arc::new(Stats::default()))
}

/// [`rig`] publishing its counters into `stats`.
fn rig_with(stats: Arc<Stats>) -> Rig {
    let media = MediaLink::new();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../board-configs/sim.toml");
    let board = tandem_hal::board::BoardConfig::load(&path).unwrap();
    let sim = SimBoard::new(&board, &CHINA, FRAME_20MS, Pace::RealTime).unwrap();
    let exchange = sim.exchange.clone();
    let (effects, rx) = std::sync::mpsc::channel();
    let views = AgentViews::default();
    let engine = spawn(EngineSetup {
        site: Site::new("bj-01").unwrap(),
        node: "gw-test".into(),
        lines: sim.lines,
        spans: sim
            .spans
            .into_iter()
            .map(|s| Box::new(s) as Box<dyn tandem_hal::e1::E1Span>)
            .collect(),
        r2_spans: Default::default(),
        seats: board
            .seats
            .iter()
            .map(|s| s.id.clone())
            .zip(
                sim.seats
                    .into_iter()
                    .map(|s| Box::new(s) as Box<dyn AudioDevice>),
            )
            .collect(),
        plan: &CHINA,
        prompt_dir: None,
        recordings_dir: std::env::temp_dir(),
        config: Some(Arc::new(ValidCenterConfig::from_toml(DEMO).unwrap())),
        media: media.clone(),
        effects,
        views: views.clone(),
        stats,
        // The sim board paces itself in real time, so the engine does too.
        clock: tandem_node_io::clock::SystemClock::shared(),
        rng: tandem_node::random::seeded(1),
    })
    .unwrap();
    (engine, exchange, views, rx, media)
}

/// Rings `port` from `number` and presses `digits` after the welcome.
fn call_in(
    exchange: &tandem_hal::sim::SimExchange,
    port: &str,
    number: &str,
    digits: &str,
) -> tandem_hal::sim::line::FxoControl {
    let line = exchange.fxo(port).unwrap();
    line.place_call(IncomingCall::from_number(number).unwrap())
        .unwrap();
    line.play(Audio::Silence { ms: 500 }).unwrap();
    line.play(Audio::Dtmf {
        digits: digits.into(),
        timing: DtmfTiming::default(),
    })
    .unwrap();
    line
}

#[test]
fn a_waiting_call_is_taken_back_when_the_wan_drops_and_agents_reannounced_when_it_returns() {
    let (engine, exchange, views, mut rx, _) = rig();
    let agent = AgentId(2);
    engine.send(Cmd::Online(true)).unwrap();
    // The coordinator says agent 2 (seat2) is ready.
    engine
        .send(Cmd::Down(CallDown::AgentUpdate(AgentUpdate {
            agent,
            view: AgentView {
                state: Some(AgentState::Ready),
                ..AgentView::default()
            },
            refused: None,
        })))
        .unwrap();
    // Online, agent commands go up.
    engine.send(Cmd::Agent(agent, AgentCommand::Ready)).unwrap();
    next_effect(&mut rx, "agent command sent up", |e| {
        matches!(
            e,
            Effect::Up(CallUp::Agent {
                command: AgentCommand::Ready,
                ..
            })
        )
    });

    call_in(&exchange, "fxo2", "+8613800000009", "1");
    let (call, port, caller, queue) = next_arrival(&mut rx);
    assert_eq!(
        (port.as_str(), caller.as_deref(), queue),
        ("fxo2", Some("+8613800000009"), QueueId(1))
    );

    // The WAN drops while the call waits in the coordinator's queue.
    engine.send(Cmd::Online(false)).unwrap();
    wait_view(&views, agent, "offered the call back locally", |v| {
        v.state == Some(AgentState::Reserved) && v.call == Some(call)
    });
    engine
        .send(Cmd::Agent(agent, AgentCommand::Answer))
        .unwrap();
    wait_view(&views, agent, "on the call", |v| {
        v.state == Some(AgentState::OnCall)
    });

    // The WAN returns: the local agent is announced again; the call stays local.
    engine.send(Cmd::Online(true)).unwrap();
    next_effect(
        &mut rx,
        "agent re-announced",
        |e| matches!(e, Effect::Up(CallUp::Agent { agent: a, command: AgentCommand::Login }) if *a == agent),
    );
    engine
        .send(Cmd::Agent(agent, AgentCommand::Hangup))
        .unwrap();
    let (cdr, ended) = next_cdr(&mut rx);
    assert_eq!(ended, Some(completed(call)));
    assert_eq!(cdr.hangup, Hangup::Agent(agent));
    assert_eq!(cdr.agents, [agent]);
    let kinds: Vec<_> = cdr.events.iter().map(|e| &e.kind).collect();
    let pos = |k: &CdrEventKind| {
        kinds
            .iter()
            .position(|x| *x == k)
            .unwrap_or_else(|| panic!("{k:?} missing: {kinds:?}"))
    };
    assert!(
        pos(&CdrEventKind::Queued {
            queue,
            local: false
        }) < pos(&CdrEventKind::WanLost)
    );
    assert!(pos(&CdrEventKind::WanLost) < pos(&CdrEventKind::Queued { queue, local: true }));
    assert!(
        pos(&CdrEventKind::Queued { queue, local: true }) < pos(&CdrEventKind::Answered { agent })
    );
    wait_view(&views, agent, "out of the call", |v| {
        v.state != Some(AgentState::OnCall)
    });
}

#[test]
fn calls_the_coordinator_routed_are_reported_when_a_session_starts_again() {
    let (engine, exchange, _views, mut rx, _) = rig();
    engine.send(Cmd::Online(true)).unwrap();
    let _line = call_in(&exchange, "fxo1", "+8613800000011", "1");
    let (call, _, _, queue) = next_arrival(&mut rx);
    let down = |d| engine.send(Cmd::Down(d)).unwrap();
    down(CallDown::Log {
        call,
        event: CdrEventKind::Answered { agent: AgentId(1) },
    });
    down(CallDown::Join {
        call,
        party: PartyId(1),
        endpoint: Endpoint::Local("seat1".into()),
        role: PartyRole::Party,
        agent: Some(AgentId(1)),
    });
    down(CallDown::Join {
        call,
        party: PartyId(2),
        endpoint: Endpoint::Leg(77),
        role: PartyRole::Monitor,
        agent: Some(AgentId(8)),
    });
    // The coordinator goes away (a restart) and comes back: the call is
    // still up here, and reported with its parties.
    engine.send(Cmd::Online(false)).unwrap();
    engine.send(Cmd::Online(true)).unwrap();
    let calls = match next_effect(&mut rx, "calls reported", |e| {
        matches!(e, Effect::Up(CallUp::Anchored(_)))
    }) {
        Effect::Up(CallUp::Anchored(calls)) => calls,
        _ => unreachable!(),
    };
    assert_eq!(calls.len(), 1, "{calls:?}");
    let c = &calls[0];
    assert_eq!(
        (c.call, c.line.as_str(), c.queue),
        (call, "fxo1", Some(queue))
    );
    assert_eq!(c.caller.as_deref(), Some("+8613800000011"));
    assert!(matches!(c.state, AnchoredState::Connected { .. }), "{c:?}");
    assert_eq!(
        c.parties,
        vec![
            AnchoredParty {
                party: PartyId(1),
                agent: Some(AgentId(1)),
                role: PartyRole::Party,
                endpoint: Endpoint::Local("seat1".into()),
            },
            AnchoredParty {
                party: PartyId(2),
                agent: Some(AgentId(8)),
                role: PartyRole::Monitor,
                endpoint: Endpoint::Leg(77),
            },
        ]
    );
}

#[test]
fn coordinator_commands_ring_join_hold_and_release_a_local_seat() {
    let (engine, exchange, _views, mut rx, _) = rig();
    engine.send(Cmd::Online(true)).unwrap();
    let line = call_in(&exchange, "fxo3", "+8613800000010", "2");
    let (call, _, _, queue) = next_arrival(&mut rx);
    assert_eq!(queue, QueueId(2));
    let seat = exchange.seat("seat1").unwrap();
    let agent = AgentId(1);
    let down = |d| engine.send(Cmd::Down(d)).unwrap();
    down(CallDown::Log {
        call,
        event: CdrEventKind::Offered { agent },
    });
    down(CallDown::Ring {
        call,
        agent,
        endpoint: "seat1".into(),
        caller: Some("+8613800000010".into()),
    });
    std::thread::sleep(Duration::from_millis(200));
    seat.take_heard();
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        goertzel_dbfs(&seat.take_heard(), 450.0, 16_000) > -30.0,
        "no ring tone"
    );
    down(CallDown::StopRing {
        call,
        agent,
        endpoint: "seat1".into(),
    });
    down(CallDown::Log {
        call,
        event: CdrEventKind::Answered { agent },
    });
    down(CallDown::Join {
        call,
        party: PartyId(1),
        endpoint: Endpoint::Local("seat1".into()),
        role: PartyRole::Party,
        agent: Some(agent),
    });
    // The caller speaks; the agent hears it.
    line.play(Audio::Samples(tone(700.0, -12.0, 8000, 0, 8000)))
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    seat.take_heard();
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        goertzel_dbfs(&seat.take_heard(), 700.0, 16_000) > -30.0,
        "the agent does not hear the caller"
    );
    // On hold the agent hears nothing of the caller, the caller hears music.
    down(CallDown::Hold { call, on: true });
    std::thread::sleep(Duration::from_millis(200));
    seat.take_heard();
    line.take_captured();
    std::thread::sleep(Duration::from_millis(400));
    assert!(
        goertzel_dbfs(&seat.take_heard(), 700.0, 16_000) < -50.0,
        "a held caller is heard"
    );
    let moh = line.take_captured();
    assert!(goertzel_dbfs(&moh, 523.0, 8000) > -40.0, "no music on hold");
    down(CallDown::Hold { call, on: false });
    down(CallDown::Release {
        call,
        reason: ReleaseReason::AgentHungUp(agent),
    });
    let (cdr, ended) = next_cdr(&mut rx);
    assert_eq!(ended, Some(completed(call)));
    assert_eq!(cdr.hangup, Hangup::Agent(agent));
    let kinds: Vec<_> = cdr.events.iter().map(|e| &e.kind).collect();
    for k in [
        CdrEventKind::Offered { agent },
        CdrEventKind::Answered { agent },
        CdrEventKind::Joined {
            party: PartyId(1),
            agent: Some(agent),
            role: PartyRole::Party,
            local: true,
        },
        CdrEventKind::Held,
        CdrEventKind::Resumed,
    ] {
        assert!(kinds.contains(&&k), "{k:?} missing: {kinds:?}");
    }
    // A command for a call the gateway does not have is reported.
    down(CallDown::Release {
        call,
        reason: ReleaseReason::QueueFull,
    });
    next_effect(&mut rx, "Failed", |e| {
        matches!(e, Effect::Up(CallUp::Failed { .. }))
    });
}

#[test]
fn alone_an_analog_phone_seat_rings_answers_by_lifting_and_hangs_up_by_hanging_up() {
    let (engine, exchange, views, mut rx, _) = rig();
    let agent = AgentId(3); // seated at fxs1
    engine.send(Cmd::Agent(agent, AgentCommand::Login)).unwrap();
    engine.send(Cmd::Agent(agent, AgentCommand::Ready)).unwrap();
    wait_view(&views, agent, "ready", |v| {
        v.state == Some(AgentState::Ready)
    });
    let line = call_in(&exchange, "fxo4", "+8613800000011", "1");
    let phone = exchange.phone("fxs1").unwrap();
    wait_view(&views, agent, "offered the call", |v| {
        v.state == Some(AgentState::Reserved)
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    while !phone.is_ringing() {
        assert!(Instant::now() < deadline, "the phone does not ring");
        std::thread::sleep(Duration::from_millis(20));
    }
    phone.off_hook().unwrap();
    wait_view(&views, agent, "on the call", |v| {
        v.state == Some(AgentState::OnCall)
    });
    phone.take_heard();
    line.take_captured();
    phone
        .say(Audio::Samples(tone(1000.0, -12.0, 8000, 0, 8000)))
        .unwrap();
    line.play(Audio::Samples(tone(700.0, -12.0, 8000, 0, 8000)))
        .unwrap();
    std::thread::sleep(Duration::from_millis(600));
    let tail = |x: Vec<i16>| x[x.len().saturating_sub(3200)..].to_vec();
    let at_line = tail(line.take_captured());
    let at_phone = tail(phone.take_heard());
    assert!(
        goertzel_dbfs(&at_line, 1000.0, 8000) > -30.0,
        "the caller does not hear the agent"
    );
    assert!(
        goertzel_dbfs(&at_phone, 700.0, 8000) > -30.0,
        "the agent does not hear the caller"
    );
    phone.on_hook().unwrap();
    let (cdr, ended) = next_cdr(&mut rx);
    // The coordinator never knew this call.
    assert_eq!(ended, None);
    assert_eq!(cdr.cause, EndCause::Completed);
    assert_eq!(cdr.hangup, Hangup::Agent(agent));
    assert!(cdr.events.iter().any(|e| e.kind
        == CdrEventKind::Queued {
            queue: QueueId(1),
            local: true
        }));
}

/// Sends `ms` of a `freq` tone over `leg` as the far end would, in real time.
fn far_end_speaks(media: &MediaLink, leg: u32, rate: SampleRate, freq: f64, ms: usize) {
    let mut tx = LegSender::new(LegId(leg), CodecConfig::voice(rate)).unwrap();
    let n = rate.hz() as usize / 50;
    for i in 0..ms / 20 {
        let pcm = tone(freq, -12.0, rate.hz(), i * n, n);
        if let Some(d) = tx.encode_frame(&pcm).unwrap() {
            media.deliver(bytes::Bytes::copy_from_slice(d));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn remote_legs_carry_audio_to_a_hosted_seat_and_into_an_anchored_call() {
    let (engine, exchange, _views, mut rx, media) = rig();
    // This box hosts seat2 for a call anchored elsewhere.
    media.event(LegEvent::Opened(LegOpen {
        leg: 77,
        call: "42".into(),
        endpoint: "seat2".into(),
    }));
    std::thread::sleep(Duration::from_millis(100));
    let seat = exchange.seat("seat2").unwrap();
    seat.take_heard();
    far_end_speaks(&media, 77, SampleRate::Wideband, 1000.0, 600);
    let heard = seat.take_heard();
    let tail = &heard[heard.len().saturating_sub(4800)..];
    assert!(
        goertzel_dbfs(tail, 1000.0, 16_000) > -30.0,
        "the hosted seat does not hear its leg"
    );
    media.event(LegEvent::Closed(LegId(77)));

    // The analog phone at fxs1 can be a hosted seat too.
    let phone = exchange.phone("fxs1").unwrap();
    phone.off_hook().unwrap();
    media.event(LegEvent::Opened(LegOpen {
        leg: 79,
        call: "43".into(),
        endpoint: "fxs1".into(),
    }));
    std::thread::sleep(Duration::from_millis(100));
    phone.take_heard();
    far_end_speaks(&media, 79, SampleRate::Narrowband, 1000.0, 600);
    let heard = phone.take_heard();
    let tail = &heard[heard.len().saturating_sub(2400)..];
    assert!(
        goertzel_dbfs(tail, 1000.0, 8000) > -30.0,
        "the phone does not hear its leg"
    );
    media.event(LegEvent::Closed(LegId(79)));

    // A call anchored here gets a remote party over leg 78.
    engine.send(Cmd::Online(true)).unwrap();
    let line = call_in(&exchange, "fxo1", "+8613800000012", "1");
    let (call, ..) = next_arrival(&mut rx);
    engine
        .send(Cmd::Down(CallDown::Join {
            call,
            party: PartyId(1),
            endpoint: Endpoint::Leg(78),
            role: PartyRole::Party,
            agent: Some(AgentId(8)),
        }))
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    line.take_captured();
    far_end_speaks(&media, 78, SampleRate::Narrowband, 1000.0, 600);
    let heard = line.take_captured();
    let tail = &heard[heard.len().saturating_sub(2400)..];
    assert!(
        goertzel_dbfs(tail, 1000.0, 8000) > -30.0,
        "the caller does not hear the remote agent"
    );
}

/// The media totals once the engine published ones matching `pred`.
fn wait_media(stats: &Stats, what: &str, pred: impl Fn(&MediaTotals) -> bool) -> MediaTotals {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let t = stats.media();
        if pred(&t) {
            return t;
        }
        assert!(
            Instant::now() < deadline,
            "media totals never {what}: {t:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The totals after the engine has certainly consumed what was sent and
/// published again (it publishes every second).
fn settled_media(stats: &Stats) -> MediaTotals {
    std::thread::sleep(Duration::from_millis(1_300));
    stats.media()
}

#[test]
fn every_received_leg_counts_once_in_the_media_totals() {
    let stats = Arc::new(Stats::default());
    let (engine, exchange, _views, mut rx, media) = rig_with(stats.clone());
    // A hosted seat's leg, live: counted while it plays.
    media.event(LegEvent::Opened(LegOpen {
        leg: 77,
        call: "42".into(),
        endpoint: "seat2".into(),
    }));
    std::thread::sleep(Duration::from_millis(100));
    far_end_speaks(&media, 77, SampleRate::Wideband, 1000.0, 400);
    let live = settled_media(&stats);
    assert!(live.received >= 15, "{live:?}");
    assert_eq!((live.legs_ended, live.lost), (0, 0), "{live:?}");
    // It ends: the same packets, now kept as an ended leg, not counted again.
    media.event(LegEvent::Closed(LegId(77)));
    let ended = wait_media(&stats, "the seat's leg ended", |t| t.legs_ended == 1);
    assert_eq!(
        (ended.received, ended.expected, ended.late),
        (live.received, live.expected, live.late)
    );

    // A call anchored here: a remote party that leaves, then one still there
    // when the call ends.
    engine.send(Cmd::Online(true)).unwrap();
    let line = call_in(&exchange, "fxo1", "+8613800000013", "1");
    let (call, ..) = next_arrival(&mut rx);
    for (party, leg) in [(1, 78), (2, 80)] {
        engine
            .send(Cmd::Down(CallDown::Join {
                call,
                party: PartyId(party),
                endpoint: Endpoint::Leg(leg),
                role: PartyRole::Party,
                agent: Some(AgentId(8)),
            }))
            .unwrap();
    }
    std::thread::sleep(Duration::from_millis(100));
    let (a, b) = (media.clone(), media.clone());
    let first =
        std::thread::spawn(move || far_end_speaks(&a, 78, SampleRate::Narrowband, 700.0, 400));
    far_end_speaks(&b, 80, SampleRate::Narrowband, 1000.0, 400);
    first.join().unwrap();
    let both = settled_media(&stats);
    assert!(
        both.received >= ended.received + 30,
        "two live legs: {both:?}"
    );
    assert_eq!(both.legs_ended, 1);
    engine
        .send(Cmd::Down(CallDown::Leave {
            call,
            party: PartyId(1),
        }))
        .unwrap();
    let left = wait_media(&stats, "the party left", |t| t.legs_ended == 2);
    assert_eq!(
        (left.received, left.expected),
        (both.received, both.expected)
    );
    line.hang_up(tandem_hal::sim::line::HangUp::LoopBreak { ms: 1000 })
        .unwrap();
    next_cdr(&mut rx);
    let done = wait_media(&stats, "the call's last leg ended", |t| t.legs_ended == 3);
    assert_eq!(
        (done.received, done.expected),
        (both.received, both.expected)
    );
    assert_eq!(
        settled_media(&stats),
        done,
        "no leg left to add: the totals stay put"
    );
}

#[test]
fn a_dial_command_seizes_a_line_dials_and_reports_the_answer() {
    let (engine, exchange, _views, mut rx, _) = rig();
    engine.send(Cmd::Online(true)).unwrap();
    let call = CallId(7 << 40);
    let agent = AgentId(1);
    engine
        .send(Cmd::Down(CallDown::Dial {
            call,
            line: Some("fxo4".into()),
            number: "+8613800000013".into(),
            agent,
        }))
        .unwrap();
    next_effect(
        &mut rx,
        "DialAnswered",
        |e| matches!(e, Effect::Up(CallUp::DialAnswered { call: c }) if *c == call),
    );
    let line = exchange.fxo("fxo4").unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while line.dialed() != "8613800000013" {
        assert!(Instant::now() < deadline, "dialled {:?}", line.dialed());
        std::thread::sleep(Duration::from_millis(20));
    }
    line.answer().unwrap();
    engine
        .send(Cmd::Down(CallDown::Join {
            call,
            party: PartyId(1),
            endpoint: Endpoint::Local("seat1".into()),
            role: PartyRole::Party,
            agent: Some(agent),
        }))
        .unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    line.hang_up(tandem_hal::sim::line::HangUp::LoopBreak { ms: 1000 })
        .unwrap();
    let (cdr, ended) = next_cdr(&mut rx);
    assert!(cdr.outbound);
    assert_eq!(cdr.number.as_deref(), Some("+8613800000013"));
    assert_eq!(cdr.hangup, Hangup::Caller);
    assert_eq!(ended, Some(completed(call)));
    // A second dial on a busy line is refused.
    engine
        .send(Cmd::Down(CallDown::Dial {
            call: CallId(8 << 40),
            line: Some("fxs1".into()),
            number: "1".into(),
            agent,
        }))
        .unwrap();
    next_effect(&mut rx, "Failed", |e| {
        matches!(e, Effect::Up(CallUp::Failed { .. }))
    });
}

/// Waits until the gateway sends `bits` on `channel` of the span.
fn gateway_sends(far: &tandem_hal::sim::e1::FarEnd, channel: u8, bits: u8) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while far.gateway_abcd(channel).unwrap() != abcd(bits) {
        assert!(
            Instant::now() < deadline,
            "gateway sends {:?}, not {bits:#06b}",
            far.gateway_abcd(channel)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_dial_command_on_an_e1_channel_seizes_dials_dtmf_and_waits_for_the_answer() {
    let (engine, exchange, _views, mut rx, _) = rig();
    engine.send(Cmd::Online(true)).unwrap();
    let far = exchange.far_end("e1a").unwrap();
    let call = CallId(9 << 40);
    engine
        .send(Cmd::Down(CallDown::Dial {
            call,
            line: Some("e1a/3".into()),
            number: "+8613800000015".into(),
            agent: AgentId(1),
        }))
        .unwrap();
    gateway_sends(&far, 3, SEIZE);
    far.take_captured(3).unwrap();
    far.set_abcd(3, abcd(SEIZE_ACK)).unwrap();
    // The digits go out as DTMF in the timeslot.
    let mut heard = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while tandem_hal::dsp::dtmf::DtmfDetector::decode(&heard) != "8613800000015" {
        assert!(
            Instant::now() < deadline,
            "dialled {:?}",
            tandem_hal::dsp::dtmf::DtmfDetector::decode(&heard)
        );
        std::thread::sleep(Duration::from_millis(100));
        heard.extend(far.take_captured(3).unwrap());
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !std::iter::from_fn(|| rx.try_recv().ok())
            .any(|e| matches!(e, Effect::Up(CallUp::DialAnswered { .. }))),
        "answered before the far end answered"
    );
    far.set_abcd(3, abcd(ANSWER)).unwrap();
    next_effect(
        &mut rx,
        "DialAnswered",
        |e| matches!(e, Effect::Up(CallUp::DialAnswered { call: c }) if *c == call),
    );
    far.set_abcd(3, abcd(CLEAR_BACK)).unwrap();
    let (cdr, ended) = next_cdr(&mut rx);
    assert!(cdr.outbound);
    assert_eq!(cdr.line, "e1a/3");
    assert_eq!(ended, Some(completed(call)));
    // Clear-forward.
    gateway_sends(&far, 3, IDLE);
}

#[test]
fn an_e1_span_alarm_ends_its_calls_as_line_faults() {
    let (engine, exchange, _views, mut rx, _) = rig();
    engine.send(Cmd::Online(true)).unwrap();
    let far = exchange.far_end("e1a").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    far.set_abcd(2, abcd(SEIZE)).unwrap();
    gateway_sends(&far, 2, ANSWER);
    far.play(2, Audio::Silence { ms: 500 }).unwrap();
    far.play(
        2,
        Audio::Dtmf {
            digits: "1".into(),
            timing: DtmfTiming::default(),
        },
    )
    .unwrap();
    let (call, line, caller, _) = next_arrival(&mut rx);
    assert_eq!((line.as_str(), caller), ("e1a/2", None));
    far.set_alarms(tandem_hal::e1::Alarms {
        los: true,
        ..Default::default()
    });
    let (cdr, ended) = next_cdr(&mut rx);
    assert_eq!(cdr.call, call);
    assert!(
        matches!(&cdr.cause, EndCause::LineFault(r) if r.contains("LOS")),
        "{:?}",
        cdr.cause
    );
    assert!(matches!(
        ended,
        Some(CallUp::Ended {
            cause: EndCause::LineFault(_),
            ..
        })
    ));
}
