//! A branch gateway alone (the coordinator was never reachable) on a simulated
//! board: the cached configuration runs the IVR, the local router offers the
//! call to the agent at seat1, the seat joins the line in the box's own mixer,
//! and the CDR lands in the outbox.

use std::path::Path;
use std::time::{Duration, Instant};

use tandem_gateway::Gateway;
use tandem_gateway::calls::Devices;
use tandem_gateway::calls::record::decode_cdr;
use tandem_gateway::identity::{GatewayStore, Identity};
use tandem_gateway::uplink::UplinkState;
use tandem_hal::board::BoardConfig;
use tandem_hal::dsp::FRAME_20MS;
use tandem_hal::dsp::dtmf::DtmfTiming;
use tandem_hal::dsp::tones::CHINA;
use tandem_hal::sim::line::{HangUp, IncomingCall};
use tandem_hal::sim::{Audio, Pace, SimBoard};
use tandem_node::calls::{
    AgentCommand, AgentView, CdrEventKind, ConfigPush, EndCause, ValidCenterConfig,
};
use tandem_node::media::analysis::{goertzel_dbfs, tone};
use tandem_node::names::{NodeId, Site};
use tandem_node::proto::RecordKind;
use tandem_node::routing::{AgentId, AgentState, QueueId};
use tandem_node_io::link::NodeKey;
use tokio::sync::watch;

const DEMO: &str = include_str!("../../center-configs/demo.toml");

/// An enrolled-looking identity whose coordinator never answers.
fn offline_identity() -> Identity {
    let key = NodeKey::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["gw.test".to_owned()])
        .unwrap()
        .self_signed(key.key_pair())
        .unwrap();
    Identity {
        node_id: NodeId::new("gw-bj-01").unwrap(),
        site: Site::new("bj-01").unwrap(),
        // Nothing listens on the discard port: the WAN is down.
        coordinator: "127.0.0.1:9".to_owned(),
        cert_der: cert.der().to_vec(),
        ca_der: cert.der().to_vec(),
        key_pem: key.to_pem(),
    }
}

async fn wait_view(
    view: &mut watch::Receiver<AgentView>,
    what: &str,
    pred: impl Fn(&AgentView) -> bool,
) {
    let ok = tokio::time::timeout(Duration::from_secs(15), view.wait_for(|v| pred(v)))
        .await
        .is_ok();
    assert!(ok, "agent never {what}: {:?}", *view.borrow());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alone_the_branch_answers_routes_to_its_own_seat_and_keeps_the_cdr() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = GatewayStore::open(dir.path()).unwrap();
        store.save_identity(&offline_identity()).unwrap();
        let body = ValidCenterConfig::from_toml(DEMO)
            .unwrap()
            .to_postcard()
            .unwrap();
        store
            .config_cache()
            .store(&ConfigPush { version: 1, body })
            .unwrap();
    }
    let board =
        BoardConfig::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../board-configs/sim.toml"))
            .unwrap();
    let sim = SimBoard::new(&board, &CHINA, FRAME_20MS, Pace::RealTime).unwrap();
    let (devices, exchange) = Devices::from_sim(sim);
    let gateway = Gateway::start(dir.path(), &board, devices).unwrap();
    assert!(!matches!(
        *gateway.state().borrow(),
        UplinkState::Online { .. }
    ));

    let agent = AgentId(1);
    let mut view = gateway.agent_view(agent);
    gateway.agent_command(agent, AgentCommand::Login).unwrap();
    gateway.agent_command(agent, AgentCommand::Ready).unwrap();
    wait_view(&mut view, "ready", |v| v.state == Some(AgentState::Ready)).await;

    let line = exchange.fxo("fxo1").unwrap();
    let seat = exchange.seat("seat1").unwrap();
    line.place_call(IncomingCall::from_number("+8613800000001").unwrap())
        .unwrap();
    line.play(Audio::Silence { ms: 500 }).unwrap();
    line.play(Audio::Dtmf {
        digits: "1".into(),
        timing: DtmfTiming::default(),
    })
    .unwrap();
    wait_view(&mut view, "offered the call", |v| {
        v.state == Some(AgentState::Reserved) && v.call.is_some()
    })
    .await;
    seat.take_heard();
    {
        let v = view.borrow();
        assert_eq!(v.caller.as_deref(), Some("+8613800000001"));
        assert_eq!(v.queue, Some(QueueId(1)));
    }
    // The headset rings.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ring = seat.take_heard();
    assert!(
        goertzel_dbfs(&ring, 450.0, 16_000) > -30.0,
        "no ring tone in the headset"
    );

    gateway.agent_command(agent, AgentCommand::Answer).unwrap();
    wait_view(&mut view, "on the call", |v| {
        v.state == Some(AgentState::OnCall)
    })
    .await;
    assert_eq!(gateway.calls_active(), 1);

    // Both talk at once, each with their own tone.
    line.take_captured();
    seat.take_heard();
    seat.say(Audio::Samples(tone(1000.0, -12.0, 8000, 0, 8000)))
        .unwrap();
    line.play(Audio::Samples(tone(700.0, -12.0, 8000, 0, 8000)))
        .unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    let at_line = line.take_captured();
    let at_seat = seat.take_heard();
    assert!(at_line.len() > 2000 && at_seat.len() > 4000);
    let tail = |x: &[i16], n: usize| x[x.len().saturating_sub(n)..].to_vec();
    let at_line = tail(&at_line, 4000);
    let at_seat = tail(&at_seat, 8000);
    assert!(
        goertzel_dbfs(&at_line, 1000.0, 8000) > -30.0,
        "the caller does not hear the agent"
    );
    assert!(
        goertzel_dbfs(&at_line, 700.0, 8000) < -50.0,
        "the caller hears themself"
    );
    assert!(
        goertzel_dbfs(&at_seat, 700.0, 16_000) > -30.0,
        "the agent does not hear the caller"
    );
    assert!(
        goertzel_dbfs(&at_seat, 1000.0, 16_000) < -50.0,
        "the agent hears themself"
    );

    line.hang_up(HangUp::LoopBreak { ms: 1000 }).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while gateway.stats().cdrs_written < 1 {
        assert!(Instant::now() < deadline, "no CDR: {:?}", gateway.stats());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(gateway.calls_active(), 0);
    wait_view(&mut view, "released by the call", |v| {
        v.state != Some(AgentState::OnCall)
    })
    .await;

    let records = gateway.outbox().pending(100, 1 << 20).unwrap();
    let cdrs: Vec<_> = records
        .iter()
        .filter(|r| r.kind == RecordKind::Cdr)
        .map(|r| decode_cdr(&r.body).unwrap())
        .collect();
    assert_eq!(cdrs.len(), 1, "{cdrs:?}");
    let cdr = &cdrs[0];
    assert_eq!(cdr.number.as_deref(), Some("+8613800000001"));
    assert_eq!(cdr.cause, EndCause::Completed);
    assert_eq!(cdr.agents, [agent]);
    let kinds: Vec<_> = cdr.events.iter().map(|e| &e.kind).collect();
    assert!(kinds.contains(&&CdrEventKind::Queued {
        queue: QueueId(1),
        local: true
    }));
    assert!(kinds.contains(&&CdrEventKind::Answered { agent }));
    assert!(
        kinds
            .iter()
            .any(|k| matches!(k, CdrEventKind::Joined { local: true, .. }))
    );
    // bj-01 records its calls: caller left, agent right.
    let file = cdr.recording.as_deref().expect("the call was recorded");
    assert!(kinds.contains(&&CdrEventKind::RecordingStarted {
        file: file.to_owned()
    }));
    gateway.stop().await.unwrap();
    let path = dir.path().join("recordings").join(file);
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::fs::metadata(&path).map_or(0, |m| m.len()) < 1000 {
        assert!(
            Instant::now() < deadline,
            "recording {} missing or empty",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
