//! Calls survive the coordinator losing them: real coordinator and gateways
//! over QUIC on loopback, simulated lines and headsets in real time, the demo
//! configuration. The coordinator is stopped and started again on the same
//! data directory and port while a branch caller talks to a home agent
//! (through the relay) and another to an agent at the branch; and a branch is
//! cut off mid-call with a home agent, then comes back.

use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::time::Duration;
use tandem_hal::dsp::dtmf::DtmfTiming;
use tandem_hal::sim::Audio;
use tandem_hal::sim::line::{FxoControl, FxoState, IncomingCall};
use tandem_node::calls::{AgentCommand, AgentView, Hangup};
use tandem_node::media::analysis::{goertzel_dbfs, tone};
use tandem_node::routing::{AgentId, AgentState, CallId};
use tandem_sim::world::{World, WorldOptions};
use tandem_tests::{eventually, init_logs};

const LINE_RATE: u32 = 8_000;
const SEAT_RATE: u32 = 16_000;
const LONG: Duration = Duration::from_secs(20);

/// Rings `line` at bj-01 from `number`, waits for the answer, picks queue 1.
async fn call(world: &World, line: &str, number: &str) -> Result<FxoControl> {
    let fxo = world.node("bj-01")?.exchange.fxo(line)?;
    fxo.place_call(IncomingCall::from_number(number)?)?;
    let f = fxo.clone();
    eventually(Duration::from_secs(10), "gateway answers", move || {
        let s = f.state();
        async move { s == FxoState::Connected }
    })
    .await?;
    fxo.play(Audio::Silence { ms: 200 })?;
    fxo.play(Audio::Dtmf {
        digits: "1".into(),
        timing: DtmfTiming::default(),
    })?;
    Ok(fxo)
}

/// Waits for `agent` to ring, answers, and returns the call they are on.
async fn answer(world: &World, agent: u32) -> Result<CallId> {
    world
        .wait_agent(agent, "ringing", LONG, |v| {
            v.state == Some(AgentState::Reserved)
        })
        .await?;
    world.agent(agent, AgentCommand::Answer)?;
    let view = on_call(world, agent, "on call").await?;
    view.call.context("no call in the view")
}

async fn on_call(world: &World, agent: u32, what: &str) -> Result<AgentView> {
    world
        .wait_agent(agent, what, LONG, |v| {
            v.state == Some(AgentState::OnCall) && v.call.is_some()
        })
        .await
}

/// Levels (dBFS) each side hears of the other's tone.
async fn talk(world: &World, fxo: &FxoControl, agent: u32) -> Result<(f64, f64)> {
    let (f_caller, f_agent) = (1_000.0, 700.0);
    let seat = world
        .seat_node(agent)?
        .exchange
        .seat(&world.seat_of(agent)?)?;
    let _ = seat.take_heard();
    let _ = fxo.take_captured();
    fxo.play(Audio::Samples(tone(f_caller, -16.0, LINE_RATE, 0, 16_000)))?;
    seat.say(Audio::Samples(tone(f_agent, -16.0, LINE_RATE, 0, 16_000)))?;
    tokio::time::sleep(Duration::from_millis(1_800)).await;
    let tail = |s: Vec<i16>, rate: u32, f: f64| {
        goertzel_dbfs(&s[s.len().saturating_sub(rate as usize)..], f, rate)
    };
    Ok((
        tail(seat.take_heard(), SEAT_RATE, f_caller),
        tail(fxo.take_captured(), LINE_RATE, f_agent),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn calls_keep_their_agents_and_audio_across_a_coordinator_restart() -> Result<()> {
    init_logs();
    let dir = tempfile::tempdir()?;
    let world = World::start(WorldOptions::demo(dir.path()).only(&["bj-01", "home-li"])).await?;
    // One agent ready at a time, so each call goes where the test wants it.
    world.login_ready(&[8]).await?;
    let remote = call(&world, "fxo1", "+8613800000001").await?;
    let remote_call = answer(&world, 8).await?;
    world.login_ready(&[1]).await?;
    let local = call(&world, "fxo2", "+8613800000002").await?;
    let local_call = answer(&world, 1).await?;
    world.login_ready(&[2]).await?;

    let world = world.restart_coordinator().await?;

    // The agents' screens show them on their calls again.
    for (agent, call) in [(8, remote_call), (1, local_call)] {
        let view = on_call(&world, agent, "on the call after the restart").await?;
        assert_eq!(view.call, Some(call), "agent {agent}");
    }
    // Audio both ways, through the new coordinator's relay for the home agent.
    for (agent, fxo) in [(8, &remote), (1, &local)] {
        let (at_seat, at_line) = talk(&world, fxo, agent).await?;
        assert!(
            at_seat > -30.0 && at_line > -30.0,
            "agent {agent} and the caller hear each other: {at_seat:.1} / {at_line:.1} dBFS"
        );
    }
    assert!(
        world.coordinator().relay_counters().forwarded > 50,
        "the home agent's leg is relayed again"
    );

    // A new call goes to the free agent, never to the two still talking.
    world
        .wait_agent(2, "ready again", LONG, |v| {
            v.state == Some(AgentState::Ready)
        })
        .await?;
    let _third = call(&world, "fxo3", "+8613800000003").await?;
    let third_call = answer(&world, 2).await?;
    for agent in [8, 1] {
        assert_eq!(
            world.view(agent)?.call,
            Some(if agent == 8 { remote_call } else { local_call }),
            "agent {agent} was not offered the new call"
        );
    }

    // The agents hang up through the coordinator; one CDR per call.
    for agent in [8, 1, 2] {
        world.agent(agent, AgentCommand::Hangup)?;
    }
    let c = world.coordinator().clone();
    eventually(LONG, "three CDRs uploaded", || {
        let c = c.clone();
        async move {
            tokio::task::spawn_blocking(move || c.cdrs().len())
                .await
                .unwrap_or(0)
                >= 3
        }
    })
    .await?;
    // Late duplicates would show up by now.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let c = world.coordinator().clone();
    let cdrs = tokio::task::spawn_blocking(move || c.cdrs()).await?;
    let mut per_call = BTreeMap::new();
    for cdr in &cdrs {
        *per_call.entry(cdr.call).or_insert(0) += 1;
    }
    assert_eq!(
        per_call,
        BTreeMap::from([(remote_call, 1), (local_call, 1), (third_call, 1)]),
        "exactly one CDR per call"
    );
    for (call, agent) in [(remote_call, 8), (local_call, 1)] {
        let cdr = cdrs.iter().find(|c| c.call == call).context("CDR")?;
        assert_eq!(cdr.hangup, Hangup::Agent(AgentId(agent)), "{cdr:?}");
    }
    world.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_branch_cut_off_mid_call_with_a_home_agent_gets_the_call_back_when_the_link_returns()
-> Result<()> {
    init_logs();
    let dir = tempfile::tempdir()?;
    let mut options = WorldOptions::demo(dir.path()).only(&["bj-01", "home-li"]);
    options.wan_links = true;
    let world = World::start(options).await?;
    world.login_ready(&[8]).await?;
    let fxo = call(&world, "fxo1", "+8613800000004").await?;
    let remote_call = answer(&world, 8).await?;
    let (at_seat, at_line) = talk(&world, &fxo, 8).await?;
    assert!(
        at_seat > -30.0 && at_line > -30.0,
        "{at_seat:.1} / {at_line:.1}"
    );

    // The branch is cut off: the coordinator forgets the call and closes its
    // leg (the home seat detaches), the branch keeps the line up.
    let bj = world.node("bj-01")?;
    bj.wan_link()?.set_cut(true);
    let mut state = bj.gateway.state();
    tokio::time::timeout(
        LONG,
        state.wait_for(|s| !matches!(s, tandem_gateway::uplink::UplinkState::Online { .. })),
    )
    .await??;
    world
        .wait_agent(8, "off the call while the branch is away", LONG, |v| {
            v.state != Some(AgentState::OnCall)
        })
        .await?;
    bj.wan_link()?.set_cut(false);

    // Back: the branch reports the call, the home agent is on it again, and
    // both hear each other through a leg relayed again (the seat's new stream
    // starts over; the anchor receives it afresh).
    let view = on_call(&world, 8, "on the call again").await?;
    assert_eq!(view.call, Some(remote_call));
    let (at_seat, at_line) = talk(&world, &fxo, 8).await?;
    assert!(
        at_seat > -30.0 && at_line > -30.0,
        "audio resumed: {at_seat:.1} / {at_line:.1} dBFS"
    );
    world.agent(8, AgentCommand::Hangup)?;
    let c = world.coordinator().clone();
    eventually(LONG, "the CDR uploaded", || {
        let c = c.clone();
        async move {
            tokio::task::spawn_blocking(move || c.cdrs().len())
                .await
                .unwrap_or(0)
                >= 1
        }
    })
    .await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let c = world.coordinator().clone();
    let cdrs = tokio::task::spawn_blocking(move || c.cdrs()).await?;
    assert_eq!(cdrs.len(), 1, "{cdrs:?}");
    assert_eq!(cdrs[0].hangup, Hangup::Agent(AgentId(8)));
    world.stop().await
}
