//! The gateway's call engine against the real coordinator: a call on a branch
//! line goes through the IVR, is routed by the coordinator to the agent whose
//! seat is on the same box, joins locally (audio never leaves the box), and the
//! CDR reaches the coordinator through the outbox. Calls come in on analog FXO
//! lines and on E1 timeslots alike, with or without MFC/R2 register signalling.

use std::time::Duration;

use anyhow::{Result, ensure};
use tandem_gateway::calls::cas;
use tandem_gateway::uplink::UplinkState;
use tandem_hal::dsp::dtmf::DtmfTiming;
use tandem_hal::sim::Audio;
use tandem_hal::sim::line::{HangUp, IncomingCall};
use tandem_node::calls::{AgentCommand, CdrEventKind, EndCause};
use tandem_node::routing::{AgentId, QueueId};
use tandem_tests::*;

/// The one CDR the coordinator received, once it arrives.
async fn uploaded_cdr(coord: &TestCoordinator) -> Result<tandem_node::calls::Cdr> {
    let c = coord.coordinator().clone();
    eventually(
        Duration::from_secs(15),
        "CDR at the coordinator",
        move || {
            let got = !c.cdrs().is_empty();
            async move { got }
        },
    )
    .await?;
    let mut cdrs = coord.coordinator().cdrs();
    ensure!(cdrs.len() == 1, "{cdrs:?}");
    Ok(cdrs.remove(0))
}

/// The CDR shows the call queued in queue 1 by the coordinator.
fn queued_at_the_coordinator(cdr: &tandem_node::calls::Cdr) -> Result<()> {
    ensure!(
        cdr.events.iter().any(|e| e.kind
            == CdrEventKind::Queued {
                queue: QueueId(1),
                local: false
            }),
        "{cdr:?}"
    );
    Ok(())
}

/// Voice channel `.1` of the span whose far end is `.0`.
struct Timeslot(tandem_hal::sim::e1::FarEnd, u8);

impl CallerEnd for Timeslot {
    fn say(&self, audio: Audio) -> Result<()> {
        Ok(self.0.play(self.1, audio)?)
    }
    fn heard(&self) -> Result<Vec<i16>> {
        Ok(self.0.take_captured(self.1)?)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_branch_call_is_routed_by_the_coordinator_to_a_seat_on_the_same_box() -> Result<()> {
    init_logs();
    let (coord, _dir, gateway, exchange) = demo_branch().await?;
    let agent = AgentId(1); // seat1 on bj-01
    let mut view = ready(&gateway, agent).await?;
    let line = exchange.fxo("fxo1")?;
    let seat = exchange.seat("seat1")?;
    call_in(&line, "+8613800000001", "1")?;
    take_offer(&gateway, agent, &mut view).await?;

    talk(&line, &seat, 16_000).await?;

    line.hang_up(HangUp::LoopBreak { ms: 1000 })?;
    let cdr = uploaded_cdr(&coord).await?;
    ensure!(cdr.cause == EndCause::Completed, "{cdr:?}");
    ensure!(cdr.agents == [agent], "{cdr:?}");
    queued_at_the_coordinator(&cdr)?;
    let kinds: Vec<_> = cdr.events.iter().map(|e| &e.kind).collect();
    ensure!(
        kinds
            .iter()
            .any(|k| matches!(k, CdrEventKind::Joined { local: true, .. })),
        "{kinds:?}"
    );
    gateway.stop().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_home_agent_talks_to_a_branch_caller_through_the_relay() -> Result<()> {
    init_logs();
    let (coord, _b, branch, bj) = demo_branch().await?;
    let home_board = tandem_hal::board::BoardConfig::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../board-configs/home-seat.toml"),
    )?;
    let (_h, home, at_home) = sim_gateway(&coord, "home-li", &home_board).await?;
    let agent = AgentId(8); // Li Na, headset at home-li
    let mut view = ready(&home, agent).await?;
    let line = bj.fxo("fxo2")?;
    call_in(&line, "+8613800000002", "1")?;
    take_offer(&home, agent, &mut view).await?;
    talk(&line, &at_home.seat("headset")?, 16_000).await?;
    home.agent_command(agent, AgentCommand::Hangup)?;
    let cdr = uploaded_cdr(&coord).await?;
    ensure!(cdr.agents == [agent], "{cdr:?}");
    ensure!(
        cdr.events
            .iter()
            .any(|e| matches!(e.kind, CdrEventKind::Joined { local: false, .. })),
        "{cdr:?}"
    );
    branch.stop().await?;
    home.stop().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_coordinator_goes_away_the_branch_routes_its_calls_to_its_ready_agents()
-> Result<()> {
    init_logs();
    let (coord, _d, gateway, exchange) = demo_branch().await?;
    let agent = AgentId(2); // seat2 on bj-01, ready through the coordinator
    let mut view = ready(&gateway, agent).await?;
    coord.running.shutdown().await;
    let state = gateway.state();
    eventually(Duration::from_secs(10), "gateway offline", || {
        let down = !matches!(*state.borrow(), UplinkState::Online { .. });
        async move { down }
    })
    .await?;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let line = exchange.fxo("fxo3")?;
    call_in(&line, "+8613800000003", "1")?;
    take_offer(&gateway, agent, &mut view).await?;
    talk(&line, &exchange.seat("seat2")?, 16_000).await?;
    line.hang_up(HangUp::LoopBreak { ms: 1000 })?;
    let g = &gateway;
    eventually(Duration::from_secs(10), "CDR in the outbox", || {
        let written = g.stats().cdrs_written == 1;
        async move { written }
    })
    .await?;
    let cdrs: Vec<_> = gateway
        .outbox()
        .pending(100, 1 << 20)?
        .iter()
        .filter(|r| r.kind == tandem_node::proto::RecordKind::Cdr)
        .map(|r| tandem_node::calls::Cdr::from_record(&r.body))
        .collect::<Result<_, _>>()?;
    ensure!(cdrs.len() == 1, "{cdrs:?}");
    ensure!(
        cdrs[0].events.iter().any(|e| e.kind
            == CdrEventKind::Queued {
                queue: QueueId(1),
                local: true
            }),
        "{cdrs:?}"
    );
    gateway.stop().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_chosen_in_the_ivr_is_dialled_out_when_an_agent_takes_it() -> Result<()> {
    init_logs();
    let (_coord, _d, gateway, exchange) = demo_branch().await?;
    let line = exchange.fxo("fxo1")?;
    // 9 in the menu, then 1 to accept the callback; the IVR confirms and hangs up.
    line.place_call(IncomingCall::from_number("+8613800000014")?)?;
    line.play(Audio::Silence { ms: 500 })?;
    line.play(Audio::Dtmf {
        digits: "9".into(),
        timing: DtmfTiming::default(),
    })?;
    line.play(Audio::Silence { ms: 400 })?;
    line.play(Audio::Dtmf {
        digits: "1".into(),
        timing: DtmfTiming::default(),
    })?;
    let l = line.clone();
    eventually(Duration::from_secs(15), "the IVR hangs up", move || {
        let done = l.gateway_released();
        async move { done }
    })
    .await?;
    let agent = AgentId(1);
    let mut view = ready(&gateway, agent).await?;
    take_offer(&gateway, agent, &mut view).await?;
    let l = line.clone();
    eventually(
        Duration::from_secs(10),
        "the caller's number dialled",
        move || {
            let dialled = l.dialed() == "8613800000014";
            async move { dialled }
        },
    )
    .await?;
    line.answer()?;
    talk(&line, &exchange.seat("seat1")?, 16_000).await?;
    gateway.stop().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_e1_timeslot_call_is_routed_to_a_seat_on_the_same_box() -> Result<()> {
    init_logs();
    let (coord, _dir, gateway, exchange) = demo_branch().await?;
    let agent = AgentId(1); // seat1 on bj-01
    let mut view = ready(&gateway, agent).await?;
    let far = exchange.far_end("e1a")?;
    // Line signalling only (no MFC/R2 digits): the call has no caller number.
    far.set_abcd(1, cas::abcd(cas::SEIZE))?;
    let f = far.clone();
    eventually(Duration::from_secs(5), "the gateway answers", move || {
        let answered = f.gateway_abcd(1).ok() == Some(cas::abcd(cas::ANSWER));
        async move { answered }
    })
    .await?;
    let timeslot = Timeslot(far.clone(), 1);
    timeslot.press("1")?;
    take_offer(&gateway, agent, &mut view).await?;

    talk(&timeslot, &exchange.seat("seat1")?, 16_000).await?;

    far.set_abcd(1, cas::abcd(cas::IDLE))?;
    let cdr = uploaded_cdr(&coord).await?;
    ensure!(cdr.line == "e1a/1", "{cdr:?}");
    ensure!(cdr.cause == EndCause::Completed, "{cdr:?}");
    ensure!(cdr.agents == [agent], "{cdr:?}");
    queued_at_the_coordinator(&cdr)?;
    // The far end cleared forward: the channel is idle again.
    ensure!(far.gateway_abcd(1)? == cas::abcd(cas::IDLE));
    gateway.stop().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mfc_r2_caller_on_e1_reaches_an_agent_with_their_number() -> Result<()> {
    init_logs();
    let coord = TestCoordinator::start().await?;
    coord.coordinator().load_config(DEMO)?;
    let mut board = sim_board();
    board.spans[0].register = tandem_hal::board::Register::MfcR2China;
    board.spans[0].dnis_digits = 4;
    let (_dir, gateway, exchange) = sim_gateway(&coord, "bj-01", &board).await?;
    let agent = AgentId(1); // seat1 on bj-01
    let mut view = ready(&gateway, agent).await?;
    let far = exchange.far_end("e1a")?;
    let ani = "13800000001";
    far.place_r2_call(3, tandem_hal::sim::r2::R2Call::new("8001", Some(ani))?)?;
    let f = far.clone();
    eventually(
        Duration::from_secs(15),
        "the gateway accepts and answers",
        move || {
            let answered = f.r2_state(3).ok().flatten()
                == Some(tandem_hal::sim::r2::R2CallState::Accepted)
                && f.gateway_abcd(3).ok().map(|b| b.bits() & 0b1100) == Some(cas::ANSWER & 0b1100);
            async move { answered }
        },
    )
    .await?;
    let timeslot = Timeslot(far.clone(), 3);
    timeslot.press("1")?;
    take_offer(&gateway, agent, &mut view).await?;
    // The screen pop shows the caller's number.
    ensure!(
        view.borrow().caller.as_deref() == Some(ani),
        "{:?}",
        *view.borrow()
    );
    talk(&timeslot, &exchange.seat("seat1")?, 16_000).await?;

    far.clear_r2_call(3)?;
    let cdr = uploaded_cdr(&coord).await?;
    ensure!(cdr.line == "e1a/3", "{cdr:?}");
    ensure!(cdr.number.as_deref() == Some(ani), "{cdr:?}");
    ensure!(cdr.cause == EndCause::Completed, "{cdr:?}");
    ensure!(cdr.agents == [agent], "{cdr:?}");
    queued_at_the_coordinator(&cdr)?;
    gateway.stop().await?;
    Ok(())
}
