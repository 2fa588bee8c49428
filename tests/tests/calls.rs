//! Calls end to end: real coordinator and gateway code over real QUIC on loopback,
//! simulated lines, phones and headsets in real time, the demo configuration.

use anyhow::{Context, Result, bail};
use std::time::Duration;
use tandem_hal::dsp::dtmf::DtmfTiming;
use tandem_hal::sim::Audio;
use tandem_hal::sim::line::{FxoControl, FxoState, HangUp, IncomingCall};
use tandem_node::calls::{AgentCommand, CdrEventKind, EndCause, TransferTarget};
use tandem_node::media::analysis::{goertzel_dbfs, tone};
use tandem_node::routing::{AgentState, QueueId};
use tandem_sim::world::{DEMO_CONFIG, World, WorldOptions};
use tandem_tests::{eventually, init_logs};

const LINE_RATE: u32 = 8_000;
const SEAT_RATE: u32 = 16_000;
const LONG: Duration = Duration::from_secs(20);

/// A world of the demo's `sites` with `config`.
async fn world(dir: &tempfile::TempDir, sites: &[&str], config: &str) -> Result<World> {
    init_logs();
    let mut options = WorldOptions::demo(dir.path()).only(sites);
    options.config = config.to_owned();
    World::start(options).await
}

/// Rings `line` at `site` from `number`, waits for the gateway to answer and
/// presses `digit` at the menu.
async fn call(
    world: &World,
    site: &str,
    line: &str,
    number: &str,
    digit: Option<char>,
) -> Result<FxoControl> {
    let fxo = world.node(site)?.exchange.fxo(line)?;
    fxo.place_call(IncomingCall::from_number(number)?)?;
    let f = fxo.clone();
    eventually(
        Duration::from_secs(10),
        "gateway answers the line",
        move || {
            let s = f.state();
            async move { s == FxoState::Connected }
        },
    )
    .await?;
    if let Some(d) = digit {
        fxo.play(Audio::Silence { ms: 200 })?;
        fxo.play(Audio::Dtmf {
            digits: d.to_string(),
            timing: DtmfTiming::default(),
        })?;
    }
    Ok(fxo)
}

/// Two seconds of a pure tone at -16 dBFS, 8 kHz (what a simulated voice plays).
fn voice(freq: f64) -> Audio {
    Audio::Samples(tone(freq, -16.0, LINE_RATE, 0, LINE_RATE as usize * 2))
}

/// Level of `freq` in the last second of `samples`.
fn level(samples: &[i16], freq: f64, rate: u32) -> f64 {
    let tail = &samples[samples.len().saturating_sub(rate as usize)..];
    goertzel_dbfs(tail, freq, rate)
}

/// Speaks `freq` into the caller's line and checks what the seat of `agent` hears,
/// then the other way; `expect` says whether each side should hear the other.
async fn talk(
    world: &World,
    fxo: &FxoControl,
    agent: u32,
    freq_caller: f64,
    freq_agent: f64,
) -> Result<(f64, f64)> {
    let seat = world
        .seat_node(agent)?
        .exchange
        .seat(&world.seat_of(agent)?)?;
    let _ = seat.take_heard();
    let _ = fxo.take_captured();
    fxo.play(voice(freq_caller))?;
    seat.say(voice(freq_agent))?;
    tokio::time::sleep(Duration::from_millis(1_800)).await;
    let at_seat = level(&seat.take_heard(), freq_caller, SEAT_RATE);
    let at_line = level(&fxo.take_captured(), freq_agent, LINE_RATE);
    Ok((at_seat, at_line))
}

async fn wait_ringing(world: &World, agent: u32) -> Result<()> {
    world
        .wait_agent(agent, "ringing", LONG, |v| {
            v.state == Some(AgentState::Reserved)
        })
        .await?;
    Ok(())
}

async fn answer(world: &World, agent: u32) -> Result<()> {
    wait_ringing(world, agent).await?;
    world.agent(agent, AgentCommand::Answer)?;
    world
        .wait_agent(agent, "on call", LONG, |v| {
            v.state == Some(AgentState::OnCall)
        })
        .await?;
    // Let the legs settle (jitter buffers prime).
    tokio::time::sleep(Duration::from_millis(400)).await;
    Ok(())
}

async fn cdrs(world: &World, n: usize) -> Result<Vec<tandem_node::calls::Cdr>> {
    let c = world.coordinator().clone();
    eventually(LONG, "CDRs uploaded", || {
        let c = c.clone();
        async move {
            tokio::task::spawn_blocking(move || c.cdrs().len())
                .await
                .unwrap_or(0)
                >= n
        }
    })
    .await?;
    let c = world.coordinator().clone();
    Ok(tokio::task::spawn_blocking(move || c.cdrs()).await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_branch_caller_reaches_a_home_agent_with_audio_both_ways() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let world = world(&dir, &["bj-01", "home-li"], DEMO_CONFIG).await?;
    world.login_ready(&[8]).await?;
    let fxo = call(&world, "bj-01", "fxo1", "+8613800000001", Some('1')).await?;
    answer(&world, 8).await?;
    let view = world.view(8)?;
    assert_eq!(view.caller.as_deref(), Some("+8613800000001"));
    assert_eq!(view.queue, Some(QueueId(1)));

    let (at_seat, at_line) = talk(&world, &fxo, 8, 1_000.0, 700.0).await?;
    assert!(
        at_seat > -30.0,
        "the home agent hears the caller: {at_seat:.1} dBFS"
    );
    assert!(
        at_line > -30.0,
        "the caller hears the home agent: {at_line:.1} dBFS"
    );
    assert!(
        world.coordinator().relay_counters().forwarded > 50,
        "audio crossed the relay"
    );

    fxo.hang_up(HangUp::LoopBreak { ms: 800 })?;
    world
        .wait_agent(8, "wrap-up after the caller hung up", LONG, |v| {
            matches!(v.state, Some(AgentState::WrapUp) | Some(AgentState::Ready))
        })
        .await?;
    let cdrs = cdrs(&world, 1).await?;
    let cdr = &cdrs[0];
    assert_eq!(cdr.number.as_deref(), Some("+8613800000001"));
    assert_eq!(cdr.agents, vec![tandem_node::routing::AgentId(8)]);
    assert_eq!(cdr.cause, EndCause::Completed);
    assert!(
        cdr.events
            .iter()
            .any(|e| matches!(e.kind, CdrEventKind::Joined { local: false, .. }))
    );
    world.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_same_site_call_keeps_its_audio_on_the_box() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let world = world(&dir, &["bj-01"], DEMO_CONFIG).await?;
    world.login_ready(&[1]).await?;
    let fxo = call(&world, "bj-01", "fxo2", "+8613800000002", Some('1')).await?;
    answer(&world, 1).await?;
    let (at_seat, at_line) = talk(&world, &fxo, 1, 1_000.0, 700.0).await?;
    assert!(
        at_seat > -30.0 && at_line > -30.0,
        "{at_seat:.1} / {at_line:.1} dBFS"
    );
    let relay = world.coordinator().relay_counters();
    assert_eq!(
        relay.forwarded, 0,
        "no datagram crossed the relay: {relay:?}"
    );
    world.agent(1, AgentCommand::Hangup)?;
    let cdrs = cdrs(&world, 1).await?;
    assert!(
        cdrs[0]
            .events
            .iter()
            .any(|e| matches!(e.kind, CdrEventKind::Joined { local: true, .. }))
    );
    assert_eq!(
        cdrs[0].hangup,
        tandem_node::calls::Hangup::Agent(tandem_node::routing::AgentId(1))
    );
    world.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn consult_transfer_to_the_expert_pool_then_conference_then_blind_transfer() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let world = world(&dir, &["bj-01", "gz-01"], DEMO_CONFIG).await?;
    world.login_ready(&[1, 6]).await?;
    let fxo = call(&world, "bj-01", "fxo1", "+8613800000003", Some('1')).await?;
    answer(&world, 1).await?;

    // Consult: the caller holds while agent 1 talks to the expert.
    world.agent(
        1,
        AgentCommand::Transfer {
            to: TransferTarget::Queue(QueueId(3)),
            consult: true,
        },
    )?;
    answer(&world, 6).await?;
    let (expert_hears_caller, caller_hears_expert) = talk(&world, &fxo, 6, 1_000.0, 900.0).await?;
    assert!(
        expert_hears_caller < -45.0,
        "the held caller is not heard in the consult: {expert_hears_caller:.1}"
    );
    assert!(
        caller_hears_expert < -45.0,
        "the held caller does not hear the consult: {caller_hears_expert:.1}"
    );

    // Conference: all three hear each other.
    world.agent(1, AgentCommand::Conference)?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (expert_hears_caller, caller_hears_expert) = talk(&world, &fxo, 6, 1_000.0, 900.0).await?;
    assert!(
        expert_hears_caller > -30.0,
        "conference: expert hears caller {expert_hears_caller:.1}"
    );
    assert!(
        caller_hears_expert > -30.0,
        "conference: caller hears expert {caller_hears_expert:.1}"
    );

    // Agent 1 leaves; caller and expert stay connected.
    world.agent(1, AgentCommand::Hangup)?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (expert_hears_caller, _) = talk(&world, &fxo, 6, 1_000.0, 900.0).await?;
    assert!(
        expert_hears_caller > -30.0,
        "after agent 1 left: {expert_hears_caller:.1}"
    );

    // The expert blind-transfers back to the general queue; agent 1 wraps up and takes it.
    world.agent(
        1,
        AgentCommand::WrapUp {
            disposition: "escalated".into(),
            note: "to expert".into(),
        },
    )?;
    world
        .wait_agent(1, "ready again", LONG, |v| {
            v.state == Some(AgentState::Ready)
        })
        .await?;
    world.agent(
        6,
        AgentCommand::Transfer {
            to: TransferTarget::Queue(QueueId(1)),
            consult: false,
        },
    )?;
    answer(&world, 1).await?;
    let (at_seat, _) = talk(&world, &fxo, 1, 1_000.0, 700.0).await?;
    assert!(
        at_seat > -30.0,
        "blind transfer: agent 1 hears the caller {at_seat:.1}"
    );
    fxo.hang_up(HangUp::LoopBreak { ms: 800 })?;
    let cdrs = cdrs(&world, 1).await?;
    let cdr = &cdrs[0];
    let transfers = cdr
        .events
        .iter()
        .filter(|e| matches!(e.kind, CdrEventKind::Transferred { .. }))
        .count();
    assert_eq!(
        transfers, 1,
        "the blind transfer is recorded: {:?}",
        cdr.events
    );
    let expert_joined = cdr.events.iter().any(|e| {
        matches!(
            e.kind,
            CdrEventKind::Joined {
                agent: Some(tandem_node::routing::AgentId(6)),
                local: false,
                ..
            }
        )
    });
    assert!(
        expert_joined,
        "the expert joined over the relay: {:?}",
        cdr.events
    );
    assert!(
        cdr.events.iter().any(|e| e.kind == CdrEventKind::Held),
        "the consult held the caller"
    );
    world.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn supervisors_monitor_whisper_barge_and_force_release_within_their_authority() -> Result<()>
{
    let dir = tempfile::tempdir()?;
    let world = world(&dir, &["bj-01", "sh-01"], DEMO_CONFIG).await?;
    world.login_ready(&[1]).await?;
    // The team lead of the general team (agent 5, Shanghai) and a duty manager's
    // authority are checked by the coordinator; a team lead may not touch a duty manager.
    world.agent(5, AgentCommand::Login)?;
    world
        .wait_agent(5, "logged in", LONG, |v| v.state.is_some())
        .await?;
    let fxo = call(&world, "bj-01", "fxo1", "+8613800000004", Some('1')).await?;
    answer(&world, 1).await?;
    let lead = world.seat_node(5)?.exchange.seat(&world.seat_of(5)?)?;
    let agent_seat = world.seat_node(1)?.exchange.seat(&world.seat_of(1)?)?;

    let matrix = |lead_heard: &[i16], agent_heard: &[i16], caller_heard: &[i16]| {
        (
            level(lead_heard, 1_000.0, SEAT_RATE),
            level(agent_heard, 500.0, SEAT_RATE),
            level(caller_heard, 500.0, LINE_RATE),
        )
    };
    for (command, lead_hears, agent_hears_lead, caller_hears_lead) in [
        (
            AgentCommand::Monitor {
                agent: tandem_node::routing::AgentId(1),
            },
            true,
            false,
            false,
        ),
        (
            AgentCommand::Whisper {
                agent: tandem_node::routing::AgentId(1),
            },
            true,
            true,
            false,
        ),
        (
            AgentCommand::Barge {
                agent: tandem_node::routing::AgentId(1),
            },
            true,
            true,
            true,
        ),
    ] {
        world.agent(5, command.clone())?;
        world
            .wait_agent(5, "supervising", LONG, |v| v.supervising.is_some())
            .await?;
        tokio::time::sleep(Duration::from_millis(600)).await;
        let _ = (
            lead.take_heard(),
            agent_seat.take_heard(),
            fxo.take_captured(),
        );
        fxo.play(voice(1_000.0))?;
        lead.say(voice(500.0))?;
        tokio::time::sleep(Duration::from_millis(1_800)).await;
        let (l, a, c) = matrix(
            &lead.take_heard(),
            &agent_seat.take_heard(),
            &fxo.take_captured(),
        );
        assert_eq!(
            l > -30.0,
            lead_hears,
            "{command:?}: lead hears caller {l:.1}"
        );
        assert_eq!(
            a > -30.0,
            agent_hears_lead,
            "{command:?}: agent hears lead {a:.1}"
        );
        assert_eq!(
            c > -30.0,
            caller_hears_lead,
            "{command:?}: caller hears lead {c:.1}"
        );
    }
    world.agent(
        5,
        AgentCommand::ForceRelease {
            agent: tandem_node::routing::AgentId(1),
        },
    )?;
    let f = fxo.clone();
    eventually(LONG, "line released by force-release", move || {
        let done = f.state() == FxoState::Idle || f.gateway_released();
        async move { done }
    })
    .await?;
    // A team lead has no authority over the duty manager.
    world.agent(
        5,
        AgentCommand::Monitor {
            agent: tandem_node::routing::AgentId(10),
        },
    )?;
    let v = world
        .wait_agent(5, "refusal shown", LONG, |v| v.supervising.is_none())
        .await?;
    assert!(v.supervising.is_none());
    world.stop().await
}

/// The demo configuration with a short ring time, for timeout tests.
fn short_offers() -> String {
    DEMO_CONFIG.replace("offer_timeout_ms = 12000", "offer_timeout_ms = 1500")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rejected_and_unanswered_offers_return_the_call_and_missed_offers_make_the_agent_not_ready()
-> Result<()> {
    let dir = tempfile::tempdir()?;
    let world = world(&dir, &["bj-01"], &short_offers()).await?;
    world.login_ready(&[1]).await?;
    let _fxo = call(&world, "bj-01", "fxo1", "+8613800000005", Some('1')).await?;
    wait_ringing(&world, 1).await?;
    world.agent(1, AgentCommand::Reject)?;
    // Nobody else is ready: the call waits; after the retry delay it comes back to agent 1.
    world
        .wait_agent(1, "no longer ringing", LONG, |v| {
            v.state != Some(AgentState::Reserved)
        })
        .await?;
    // Let three offers time out: the agent is set not ready.
    world
        .wait_agent(
            1,
            "not ready after missed offers",
            Duration::from_secs(60),
            |v| matches!(&v.state, Some(AgentState::NotReady(_))),
        )
        .await?;
    let c = world.coordinator().clone();
    let summary = tokio::task::spawn_blocking(move || c.summary()).await?;
    let general = summary
        .queues
        .iter()
        .find(|q| q.queue == QueueId(1))
        .context("queue 1")?;
    assert_eq!(
        general.waiting_now, 1,
        "the call is still waiting in its place"
    );
    // Another agent takes it.
    world.login_ready(&[2]).await?;
    answer(&world, 2).await?;
    world.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn blacklisted_callers_are_refused_and_closed_hours_get_the_closed_message() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let config = DEMO_CONFIG.replace(
        "site = \"sh-01\"\nflow = \"branch\"",
        "site = \"sh-01\"\nflow = \"after-hours\"",
    );
    let world = world(&dir, &["bj-01", "sh-01"], &config).await?;
    world.login_ready(&[1]).await?;
    let black = call(&world, "bj-01", "fxo1", "+8617000000001", Some('1')).await?;
    let closed = call(&world, "sh-01", "fxo1", "+8613800000006", None).await?;
    for fxo in [&black, &closed] {
        let f = fxo.clone();
        eventually(LONG, "line released", move || {
            let done = f.gateway_released() || f.state() == FxoState::Idle;
            async move { done }
        })
        .await?;
    }
    let cdrs = cdrs(&world, 2).await?;
    let cause = |n: &str| {
        cdrs.iter()
            .find(|c| c.number.as_deref() == Some(n))
            .map(|c| c.cause.clone())
    };
    assert_eq!(cause("+8617000000001"), Some(EndCause::Blacklisted));
    assert_eq!(cause("+8613800000006"), Some(EndCause::Closed));
    assert_eq!(
        world.view(1)?.state,
        Some(AgentState::Ready),
        "nobody was offered the refused calls"
    );
    world.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_branch_cut_off_keeps_its_calls_serves_new_ones_locally_and_uploads_everything_once()
-> Result<()> {
    init_logs();
    let dir = tempfile::tempdir()?;
    let mut options = WorldOptions::demo(dir.path()).only(&["bj-01"]);
    options.wan_links = true;
    let world = World::start(options).await?;
    world.login_ready(&[1, 2]).await?;
    let first = call(&world, "bj-01", "fxo1", "+8613800000007", Some('1')).await?;
    answer(&world, 1).await?;

    let bj = world.node("bj-01")?;
    bj.wan_link()?.set_cut(true);
    let mut state = bj.gateway.state();
    tokio::time::timeout(
        LONG,
        state.wait_for(|s| !matches!(s, tandem_gateway::uplink::UplinkState::Online { .. })),
    )
    .await??;
    let c = world.coordinator().clone();
    let before = tokio::task::spawn_blocking(move || c.summary().totals).await?;
    // The call in progress keeps its audio.
    let (at_seat, at_line) = talk(&world, &first, 1, 1_000.0, 700.0).await?;
    assert!(
        at_seat > -30.0 && at_line > -30.0,
        "local call survives the cut: {at_seat:.1} / {at_line:.1}"
    );
    // A new call is served by the other local agent.
    let second = call(&world, "bj-01", "fxo2", "+8613800000008", Some('1')).await?;
    answer(&world, 2).await?;
    let (at_seat, at_line) = talk(&world, &second, 2, 1_000.0, 700.0).await?;
    assert!(
        at_seat > -30.0 && at_line > -30.0,
        "new call served locally: {at_seat:.1} / {at_line:.1}"
    );
    first.hang_up(HangUp::LoopBreak { ms: 800 })?;
    second.hang_up(HangUp::LoopBreak { ms: 800 })?;
    eventually(LONG, "both CDRs committed on the box", || {
        let n = bj.gateway.stats().cdrs_written;
        async move { n >= 2 }
    })
    .await?;
    let written = bj.gateway.stats().cdrs_written;

    bj.wan_link()?.set_cut(false);
    tokio::time::timeout(
        Duration::from_secs(30),
        state.wait_for(|s| matches!(s, tandem_gateway::uplink::UplinkState::Online { .. })),
    )
    .await??;
    let cdrs = cdrs(&world, 2).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let c = world.coordinator().clone();
    let again = tokio::task::spawn_blocking(move || c.cdrs()).await?;
    assert_eq!(again.len(), cdrs.len(), "nothing duplicated");
    assert_eq!(
        again.len() as u64,
        written,
        "every CDR arrived exactly once"
    );
    let local = again
        .iter()
        .filter(|c| {
            c.events
                .iter()
                .any(|e| matches!(e.kind, CdrEventKind::Queued { local: true, .. }))
        })
        .count();
    assert_eq!(
        local, 1,
        "the call that arrived during the cut was routed locally"
    );
    if bj.gateway.outbox().len()? != 0 {
        bail!("outbox not drained");
    }
    // The local router's queue events came up too, each once.
    let node = bj.gateway.identity().node_id.clone();
    let uploads = world.coordinator().store().uploads(&node)?;
    let events: Vec<_> = uploads
        .iter()
        .filter(|(_, u)| u.kind == tandem_node::proto::RecordKind::QueueEvent)
        .map(|(_, u)| tandem_node::routing::Event::from_record(&u.body))
        .collect::<Result<_, _>>()?;
    use tandem_node::routing::EventKind;
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::Queued { .. }))
            .count(),
        1,
        "{events:?}"
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::Answered { .. }))
            .count(),
        1,
        "{events:?}"
    );
    // ...and the wallboard counts the call the branch served alone.
    let c = world.coordinator().clone();
    let after = tokio::task::spawn_blocking(move || c.summary().totals).await?;
    assert_eq!(
        (after.offered, after.answered),
        (before.offered + 1, before.answered + 1),
        "{before:?} → {after:?}"
    );
    world.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_agent_dials_out_through_a_branch_line() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let world = world(&dir, &["bj-01", "home-li"], DEMO_CONFIG).await?;
    world.login_ready(&[8]).await?;
    world.agent(
        8,
        AgentCommand::Dial {
            site: tandem_node::names::Site::new("bj-01")?,
            number: "88001234".into(),
        },
    )?;
    let exchange = world.node("bj-01")?.exchange.clone();
    let line = {
        let exchange = exchange.clone();
        let mut found = None;
        let start = std::time::Instant::now();
        while found.is_none() && start.elapsed() < LONG {
            found = ["fxo1", "fxo2", "fxo3", "fxo4"]
                .into_iter()
                .find(|l| exchange.fxo(l).is_ok_and(|f| f.dialed() == "88001234"));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        found.context("no line dialled the number")?
    };
    let fxo = exchange.fxo(line)?;
    fxo.answer()?;
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let (at_seat, at_line) = talk(&world, &fxo, 8, 1_000.0, 700.0).await?;
    assert!(
        at_seat > -30.0 && at_line > -30.0,
        "outbound audio: {at_seat:.1} / {at_line:.1}"
    );
    world.agent(8, AgentCommand::Hangup)?;
    world
        .wait_agent(8, "ready again", LONG, |v| {
            v.state == Some(AgentState::Ready) && v.call.is_none()
        })
        .await?;
    let cdrs = cdrs(&world, 1).await?;
    assert!(cdrs[0].outbound);
    assert_eq!(cdrs[0].number.as_deref(), Some("88001234"));
    world.stop().await
}

/// The body of the coordinator's `/metrics`, fetched over plain HTTP/1.1 as a
/// Prometheus server would.
async fn scrape(world: &World) -> Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = world
        .running()
        .http_addr()
        .context("the coordinator serves no HTTP")?;
    let mut tcp = tokio::net::TcpStream::connect(addr).await?;
    tcp.write_all(b"GET /metrics HTTP/1.1\r\nHost: tandem\r\nConnection: close\r\n\r\n")
        .await?;
    let mut reply = String::new();
    tcp.read_to_string(&mut reply).await?;
    let (head, body) = reply.split_once("\r\n\r\n").context("no HTTP header end")?;
    if !head.starts_with("HTTP/1.1 200") {
        bail!("/metrics answered {head}");
    }
    Ok(body.to_owned())
}

/// The sample of a media metric for node `node` at `site` (and `outcome`, for
/// `tandem_media_frames_total`).
fn media_sample(
    body: &str,
    name: &str,
    (node, site): (&str, &str),
    outcome: Option<&str>,
) -> Option<u64> {
    let outcome = outcome.map_or(String::new(), |o| format!(",outcome=\"{o}\""));
    let series = format!("{name}{{node=\"{node}\",site=\"{site}\"{outcome}}} ");
    body.lines()
        .find_map(|l| l.strip_prefix(&series))
        .and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn jitter_buffer_loss_on_a_lossy_wan_shows_on_the_coordinators_metrics_per_node() -> Result<()>
{
    init_logs();
    let dir = tempfile::tempdir()?;
    let mut options = WorldOptions::demo(dir.path()).only(&["bj-01", "home-li"]);
    options.wan_links = true;
    options.http = Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
    let world = World::start(options).await?;
    world.login_ready(&[8]).await?;
    let fxo = call(&world, "bj-01", "fxo1", "+8613800000021", Some('1')).await?;
    answer(&world, 8).await?;
    // The branch's access line loses a tenth of what comes down to it: the
    // agent's audio reaches the call's anchor with gaps. The caller's audio
    // goes up that line and down the home seat's clean one.
    let (bj, home) = (world.node("bj-01")?, world.node("home-li")?);
    bj.wan_link()?
        .set_loss(tandem_sim::wan::Direction::Down, 10);
    talk(&world, &fxo, 8, 1_000.0, 700.0).await?;
    talk(&world, &fxo, 8, 1_000.0, 700.0).await?;
    fxo.hang_up(HangUp::LoopBreak { ms: 800 })?;
    bj.wan_link()?.set_loss(tandem_sim::wan::Direction::Down, 0);

    // Each gateway reports within 10 s of its leg ending.
    let (bj_id, home_id) = (
        bj.gateway.identity().node_id.to_string(),
        home.gateway.identity().node_id.to_string(),
    );
    let (bj_node, home_node) = ((bj_id.as_str(), "bj-01"), (home_id.as_str(), "home-li"));
    let frames = "tandem_media_frames_total";
    let expected = "tandem_media_packets_expected_total";
    let ended = "tandem_media_legs_ended_total";
    let deadline = std::time::Instant::now() + Duration::from_secs(25);
    let body = loop {
        let body = scrape(&world).await?;
        let reported = |node| media_sample(&body, ended, node, None).unwrap_or(0) >= 1;
        if reported(bj_node) && reported(home_node) {
            break body;
        }
        if std::time::Instant::now() > deadline {
            bail!("no media report after the call from both nodes:\n{body}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let get = |node: (&str, &str), name: &str, outcome: Option<&str>| {
        media_sample(&body, name, node, outcome)
            .with_context(|| format!("{name} {outcome:?} of {node:?} missing in\n{body}"))
    };
    let bj_expected = get(bj_node, expected, None)?;
    let bj_lost = get(bj_node, frames, Some("lost"))?;
    assert!(
        bj_expected >= 100,
        "the anchor received the agent: {bj_expected}\n{body}"
    );
    assert!(
        bj_lost > 0 && bj_lost * 3 < bj_expected,
        "the lossy line shows loss: {bj_lost} of {bj_expected}\n{body}"
    );
    assert!(get(bj_node, frames, Some("received"))? > 0);
    assert!(
        get(bj_node, frames, Some("concealed"))? + get(bj_node, frames, Some("fec_recovered"))? > 0,
        "lost frames were concealed or rebuilt\n{body}"
    );
    let home_expected = get(home_node, expected, None)?;
    let home_lost = get(home_node, frames, Some("lost"))?;
    tracing::info!(
        bj_expected,
        bj_lost,
        home_expected,
        home_lost,
        "media loss on /metrics"
    );
    assert!(
        home_expected >= 100,
        "the seat received the caller: {home_expected}\n{body}"
    );
    assert!(
        home_lost * 50 <= home_expected,
        "the clean line shows (almost) no loss: {home_lost} of {home_expected}\n{body}"
    );
    world.stop().await
}
