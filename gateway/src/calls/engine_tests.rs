//! The engine on a simulated board, driven through its command channel as the
//! uplink drives it: a call handed to the coordinator, the WAN dropping while
//! it waits (taken back by the local router, answered at a local seat), the
//! WAN returning (local agents announced again), and the CDR committed before
//! `Ended` is sent.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tandem_hal::audio::AudioDevice;
use tandem_hal::dsp::FRAME_20MS;
use tandem_hal::dsp::dtmf::DtmfTiming;
use tandem_hal::dsp::tones::CHINA;
use tandem_hal::sim::line::IncomingCall;
use tandem_hal::sim::{Audio, Pace, SimBoard};
use tandem_node::calls::{
    AgentCommand, AgentUpdate, AgentView, CallDown, CallUp, CdrEventKind, EndCause, Hangup,
    ValidCenterConfig,
};
use tandem_node::names::Site;
use tandem_node::routing::{AgentId, AgentState, QueueId};
use tokio::sync::mpsc::UnboundedReceiver;

use super::effects::Effect;
use super::engine::{EngineSetup, spawn};
use super::{AgentViews, Cmd, Stats};
use crate::media_link::MediaLink;

const DEMO: &str = include_str!("../../../center-configs/demo.toml");

fn next_effect(
    rx: &mut UnboundedReceiver<Effect>,
    what: &str,
    pred: impl Fn(&Effect) -> bool,
) -> Effect {
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

#[test]
fn a_waiting_call_is_taken_back_when_the_wan_drops_and_agents_reannounced_when_it_returns() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../board-configs/sim.toml");
    let board = tandem_hal::board::BoardConfig::load(&path).unwrap();
    let sim = SimBoard::new(&board, &CHINA, FRAME_20MS, Pace::RealTime).unwrap();
    let exchange = sim.exchange.clone();
    let (effects, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let views = AgentViews::default();
    let engine = spawn(EngineSetup {
        site: Site::new("bj-01").unwrap(),
        node: "gw-test".into(),
        lines: sim.lines,
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
        media: MediaLink::new(),
        effects,
        views: views.clone(),
        stats: Arc::new(Stats::default()),
    })
    .unwrap();
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

    let line = exchange.fxo("fxo2").unwrap();
    line.place_call(IncomingCall::from_number("+8613800000009").unwrap())
        .unwrap();
    line.play(Audio::Silence { ms: 500 }).unwrap();
    line.play(Audio::Dtmf {
        digits: "1".into(),
        timing: DtmfTiming::default(),
    })
    .unwrap();
    let Effect::Up(CallUp::Arrived {
        call,
        line: port,
        caller,
        queue,
        ..
    }) = next_effect(&mut rx, "Arrived", |e| {
        matches!(e, Effect::Up(CallUp::Arrived { .. }))
    })
    else {
        unreachable!()
    };
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
    let Effect::Cdr { cdr, ended } =
        next_effect(&mut rx, "CDR", |e| matches!(e, Effect::Cdr { .. }))
    else {
        unreachable!()
    };
    assert_eq!(
        ended,
        Some(CallUp::Ended {
            call,
            cause: EndCause::Completed
        })
    );
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
