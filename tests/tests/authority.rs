//! Site authority against the real coordinator over real QUIC: a node of site
//! sh-01 acting on a call of branch bj-01 (talking to a home agent through the
//! relay) is refused at every entry point, its attempts change nothing, the
//! refusals are counted per node and kind, and after repeated attempts its
//! session is dropped while the branch and the home seat keep working.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use tandem_coordinator::authority::{AuthorityKind, STRIKES_BEFORE_DROP};
use tandem_hal::board::BoardConfig;
use tandem_node::calls::{
    AgentCommand, AnchoredCall, AnchoredParty, AnchoredState, CallUp, Cdr, EndCause, Endpoint,
    Hangup, PartyId, PartyRole,
};
use tandem_node::link::close;
use tandem_node::media::LegId;
use tandem_node::media::datagram::{Flags, Header};
use tandem_node::names::{NodeId, Site};
use tandem_node::proto::{Message, RecordKind, UploadRecord};
use tandem_node::routing::{AgentId, AgentState, CallId, Event, EventKind, QueueId, Timestamp};
use tandem_node_io::link::ControlStream;
use tandem_tests::*;

/// Li Na, headset at home-li.
const AGENT: AgentId = AgentId(8);

/// The first relay leg call control allocates (`calls::FIRST_LEG`): the leg of
/// the only call up, which an attacker can guess as easily.
const FIRST_LEG: u32 = 1 << 30;

fn home_board() -> Result<BoardConfig> {
    Ok(BoardConfig::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../board-configs/home-seat.toml"),
    )?)
}

/// Waits until `node` has `n` refusals of `kind`.
async fn refusals(
    coord: &TestCoordinator,
    node: &NodeId,
    kind: AuthorityKind,
    n: u64,
) -> Result<()> {
    let c = coord.coordinator().clone();
    let id = node.clone();
    eventually(
        Duration::from_secs(5),
        &format!("{n} {kind:?} refusals"),
        move || {
            let got = c.authority_refusals().get(&id, kind);
            async move { got >= n }
        },
    )
    .await?;
    Ok(())
}

/// The branch call is untouched: the agent still talks on it and no CDR came.
fn still_up(coord: &TestCoordinator, call: CallId) -> Result<()> {
    let view = coord
        .coordinator()
        .agent_view(AGENT)
        .context("the agent has a view")?;
    ensure!(
        view.state == Some(AgentState::OnCall) && view.call == Some(call),
        "the branch call was disturbed: {view:?}"
    );
    ensure!(coord.coordinator().cdrs().is_empty(), "a CDR appeared");
    Ok(())
}

fn upload(seq: u64, kind: RecordKind, body: Vec<u8>) -> UploadRecord {
    UploadRecord {
        seq,
        kind,
        created_at_us: 1,
        body,
    }
}

/// Sends `message` and waits long enough for the coordinator to act on it.
async fn say(control: &mut ControlStream, message: Message) -> Result<()> {
    control.send(&message).await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_cannot_act_on_another_sites_call() -> Result<()> {
    init_logs();
    let (coord, _b, branch, bj) = demo_branch().await?;
    let (_h, home, at_home) = sim_gateway(&coord, "home-li", &home_board()?).await?;
    let mut view = ready(&home, AGENT).await?;
    let line = bj.fxo("fxo2")?;
    call_in(&line, "+8613800000002", "1")?;
    take_offer(&home, AGENT, &mut view).await?;
    let call = view.borrow().call.context("the agent is on a call")?;
    let seat = at_home.seat("headset")?;
    talk(&line, &seat, 16_000).await?;

    let (_a, attacker) = coord.enroll("sh-01").await?;
    let node = attacker.node_id.clone();
    let (_endpoint, conn, mut control) = session_as(&coord, &attacker).await?;

    // Media on the branch's relay leg: refused per datagram, one strike.
    for seq in 0..20u16 {
        let mut datagram = Vec::new();
        Header {
            leg: LegId(FIRST_LEG),
            seq,
            timestamp: u32::from(seq) * 960,
            flags: Flags::empty(),
        }
        .write(&[0xfc, 0xff, 0xfe], &mut datagram)?;
        conn.send_datagram(datagram.into())?;
    }
    refusals(&coord, &node, AuthorityKind::Media, 20).await?;
    ensure!(coord.coordinator().relay_counters().not_owner >= 20);

    // Ending, answering and re-injecting the branch's call.
    let ended = CallUp::Ended {
        call,
        cause: EndCause::Completed,
    };
    say(&mut control, Message::CallUp(ended)).await?;
    refusals(&coord, &node, AuthorityKind::Call, 1).await?;
    still_up(&coord, call)?;
    say(&mut control, Message::CallUp(CallUp::DialAnswered { call })).await?;
    refusals(&coord, &node, AuthorityKind::Call, 2).await?;
    still_up(&coord, call)?;
    let restore = AnchoredCall {
        call,
        line: "fxo1".into(),
        caller: Some("+8613800000099".into()),
        queue: Some(QueueId(1)),
        priority: 9,
        state: AnchoredState::Connected { talk_ms: 1 },
        held: false,
        parties: vec![AnchoredParty {
            party: PartyId(1),
            agent: Some(AGENT),
            role: PartyRole::Party,
            endpoint: Endpoint::Leg(FIRST_LEG),
        }],
    };
    say(
        &mut control,
        Message::CallUp(CallUp::Anchored(vec![restore])),
    )
    .await?;
    refusals(&coord, &node, AuthorityKind::Restore, 1).await?;
    still_up(&coord, call)?;

    // A CDR labelled bj-01 and an event about bj-01's call, in one batch with
    // one honest record: only the honest one is stored and acknowledged.
    let forged = Cdr {
        call,
        site: Site::new("bj-01")?,
        line: "fxo2".into(),
        outbound: false,
        number: Some("+8613800000002".into()),
        started_us: 1,
        answered_us: None,
        ended_us: 2,
        hangup: Hangup::Caller,
        cause: EndCause::AbandonedInQueue,
        ivr_path: vec![],
        queue: Some(QueueId(1)),
        agents: vec![],
        recording: None,
        events: vec![],
    };
    let event = Event {
        at: Timestamp(1),
        kind: EventKind::Held { call },
    };
    let honest = Cdr {
        call: CallId(42),
        site: Site::new("sh-01")?,
        ..forged.clone()
    };
    let records = vec![
        upload(1, RecordKind::Cdr, forged.to_record()),
        upload(2, RecordKind::QueueEvent, event.to_record()),
        upload(3, RecordKind::Cdr, honest.to_record()),
    ];
    control.send(&Message::Upload { records }).await?;
    let acked = upload_ack(&mut control).await?;
    ensure!(
        acked == [3],
        "only the honest record is acknowledged: {acked:?}"
    );
    refusals(&coord, &node, AuthorityKind::Upload, 1).await?;
    let cdrs = coord.coordinator().cdrs();
    ensure!(
        cdrs.len() == 1 && cdrs[0].site.as_str() == "sh-01",
        "only sh-01's own CDR is stored: {cdrs:?}"
    );

    // Five refused acts: the session is dropped, saying why.
    ensure!(STRIKES_BEFORE_DROP == 5);
    let closed = tokio::time::timeout(Duration::from_secs(5), conn.closed()).await?;
    match closed {
        quinn::ConnectionError::ApplicationClosed(c) => {
            ensure!(c.error_code == quinn::VarInt::from_u32(close::PROTOCOL_VIOLATION));
            let reason = String::from_utf8_lossy(&c.reason);
            ensure!(reason.contains("site authority"), "{reason}");
        }
        other => anyhow::bail!("expected the coordinator to close the session, got {other}"),
    }
    ensure!(coord.coordinator().registry().get(&node).is_none());

    // A new session starts clean; speaking for bj-01's agent is refused too.
    let (_endpoint2, _conn2, mut control2) = session_as(&coord, &attacker).await?;
    let hangup = CallUp::Agent {
        agent: AGENT,
        command: AgentCommand::Hangup,
    };
    say(&mut control2, Message::CallUp(hangup)).await?;
    refusals(&coord, &node, AuthorityKind::Agent, 1).await?;
    let view = coord.coordinator().agent_view(AGENT).context("view")?;
    ensure!(view.state == Some(AgentState::OnCall), "{view:?}");

    // The branch and the home seat never noticed: audio still flows both
    // ways, and the call ends with its one CDR, from bj-01.
    talk(&line, &seat, 16_000).await?;
    home.agent_command(AGENT, AgentCommand::Hangup)?;
    let c = coord.coordinator().clone();
    eventually(Duration::from_secs(15), "bj-01's CDR", move || {
        let got = c.cdrs().iter().any(|cdr| cdr.site.as_str() == "bj-01");
        async move { got }
    })
    .await?;
    let from_bj: Vec<_> = coord
        .coordinator()
        .cdrs()
        .into_iter()
        .filter(|c| c.site.as_str() == "bj-01")
        .collect();
    ensure!(
        from_bj.len() == 1 && from_bj[0].call == call && from_bj[0].agents == [AGENT],
        "{from_bj:?}"
    );
    branch.stop().await?;
    home.stop().await?;
    Ok(())
}

/// The acknowledged sequence numbers of the next `UploadAck` (the config push
/// and heartbeats come and go meanwhile).
async fn upload_ack(control: &mut ControlStream) -> Result<Vec<u64>> {
    loop {
        let env = tokio::time::timeout(Duration::from_secs(5), control.recv()).await??;
        if let Message::UploadAck { seqs } = env.message {
            return Ok(seqs);
        }
    }
}
