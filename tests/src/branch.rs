//! A branch and its seats on the simulated board against the real
//! coordinator, and a raw node session: what the call, relay and authority
//! tests share.

use std::time::Duration;

use anyhow::{Result, ensure};
use tandem_gateway::Gateway;
use tandem_gateway::calls::Devices;
use tandem_gateway::uplink::UplinkState;
use tandem_hal::dsp::FRAME_20MS;
use tandem_hal::dsp::dtmf::DtmfTiming;
use tandem_hal::dsp::tones::CHINA;
use tandem_hal::sim::line::IncomingCall;
use tandem_hal::sim::{Audio, Pace, SimBoard};
use tandem_node::calls::{AgentCommand, AgentView};
use tandem_node::link::COORDINATOR_SERVER_NAME;
use tandem_node::media::analysis::{goertzel_dbfs, tone};
use tandem_node::proto::{Hello, Message};
use tandem_node::routing::{AgentId, AgentState};
use tandem_node_io::link::ControlStream;
use tokio::sync::watch;

use crate::{TestCoordinator, eventually, sim_board};

/// The demo center: sites bj-01, sh-01, gz-01 and two home seats.
pub const DEMO: &str = include_str!("../../center-configs/demo.toml");

/// Waits until `view` satisfies `pred`, naming `what` if it never does.
pub async fn view_reaches(
    view: &mut watch::Receiver<AgentView>,
    what: &str,
    pred: impl Fn(&AgentView) -> bool,
) -> Result<()> {
    let reached = tokio::time::timeout(Duration::from_secs(15), view.wait_for(|v| pred(v)))
        .await
        .is_ok();
    ensure!(reached, "agent never {what}: {:?}", *view.borrow());
    Ok(())
}

/// Starts a gateway enrolled as `site` on a simulated `board` (real time) and
/// waits until it is online and its engine knows it.
pub async fn sim_gateway(
    coord: &TestCoordinator,
    site: &str,
    board: &tandem_hal::board::BoardConfig,
) -> Result<(tempfile::TempDir, Gateway, tandem_hal::sim::SimExchange)> {
    let (dir, _) = coord.enroll(site).await?;
    let sim = SimBoard::new(board, &CHINA, FRAME_20MS, Pace::RealTime)?;
    let (devices, exchange) = Devices::from_sim(sim);
    let gateway = Gateway::start(dir.path(), board, devices)?;
    let state = gateway.state();
    eventually(Duration::from_secs(10), "gateway online", || {
        let up = matches!(*state.borrow(), UplinkState::Online { .. });
        async move { up }
    })
    .await?;
    // The engine hears of the link within a frame.
    tokio::time::sleep(Duration::from_millis(200)).await;
    Ok((dir, gateway, exchange))
}

/// A coordinator with the demo configuration and branch bj-01 on the
/// simulated board, online.
pub async fn demo_branch() -> Result<(
    TestCoordinator,
    tempfile::TempDir,
    Gateway,
    tandem_hal::sim::SimExchange,
)> {
    let coord = TestCoordinator::start().await?;
    coord.coordinator().load_config(DEMO)?;
    let (dir, gateway, exchange) = sim_gateway(&coord, "bj-01", &sim_board()).await?;
    Ok((coord, dir, gateway, exchange))
}

/// Logs `agent` in at their seat's gateway and makes them ready.
pub async fn ready(gateway: &Gateway, agent: AgentId) -> Result<watch::Receiver<AgentView>> {
    let mut view = gateway.agent_view(agent);
    gateway.agent_command(agent, AgentCommand::Login)?;
    view_reaches(&mut view, "logged in", |v| {
        v.state
            .as_ref()
            .is_some_and(|s| *s != AgentState::LoggedOut)
    })
    .await?;
    gateway.agent_command(agent, AgentCommand::Ready)?;
    // A waiting call may be offered at once.
    view_reaches(&mut view, "ready", |v| {
        matches!(v.state, Some(AgentState::Ready | AgentState::Reserved))
    })
    .await?;
    Ok(view)
}

/// Waits for the offer to ring at `agent`'s seat, answers it, and waits until
/// the agent is on the call.
pub async fn take_offer(
    gateway: &Gateway,
    agent: AgentId,
    view: &mut watch::Receiver<AgentView>,
) -> Result<()> {
    view_reaches(view, "offered the call", |v| {
        v.state == Some(AgentState::Reserved) && v.call.is_some()
    })
    .await?;
    gateway.agent_command(agent, AgentCommand::Answer)?;
    view_reaches(view, "on the call", |v| v.state == Some(AgentState::OnCall)).await?;
    // Joining reaches the mixer within a few frames.
    tokio::time::sleep(Duration::from_millis(300)).await;
    Ok(())
}

/// Rings `line` from `number` and picks `digit` in the IVR menu.
pub fn call_in(line: &tandem_hal::sim::line::FxoControl, number: &str, digit: &str) -> Result<()> {
    line.place_call(IncomingCall::from_number(number)?)?;
    line.press(digit)
}

/// The caller's end of a call: an analog exchange line or an E1 channel of
/// the exchange's span.
pub trait CallerEnd {
    /// Queues audio towards the gateway.
    fn say(&self, audio: Audio) -> Result<()>;
    /// Drains what the gateway sent towards the caller.
    fn heard(&self) -> Result<Vec<i16>>;
    /// Presses `digits` once the IVR's welcome has started.
    fn press(&self, digits: &str) -> Result<()> {
        self.say(Audio::Silence { ms: 500 })?;
        self.say(Audio::Dtmf {
            digits: digits.into(),
            timing: DtmfTiming::default(),
        })
    }
}

impl CallerEnd for tandem_hal::sim::line::FxoControl {
    fn say(&self, audio: Audio) -> Result<()> {
        Ok(self.play(audio)?)
    }
    fn heard(&self) -> Result<Vec<i16>> {
        Ok(self.take_captured())
    }
}

/// Caller and agent speak at once; each must hear the other.
pub async fn talk(
    line: &dyn CallerEnd,
    seat: &tandem_hal::sim::audio::SeatControl,
    seat_rate: u32,
) -> Result<()> {
    line.heard()?;
    seat.take_heard();
    seat.say(Audio::Samples(tone(1000.0, -12.0, 8000, 0, 8000)))?;
    line.say(Audio::Samples(tone(700.0, -12.0, 8000, 0, 8000)))?;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let at_line = line.heard()?;
    let at_seat = seat.take_heard();
    let tail = |x: &[i16], n: usize| x[x.len().saturating_sub(n)..].to_vec();
    ensure!(
        goertzel_dbfs(&tail(&at_line, 3200), 1000.0, 8000) > -30.0,
        "the caller does not hear the agent"
    );
    ensure!(
        goertzel_dbfs(
            &tail(&at_seat, seat_rate as usize * 2 / 5),
            700.0,
            seat_rate
        ) > -30.0,
        "the agent does not hear the caller"
    );
    Ok(())
}

/// Connects as a node with a real identity, says hello and returns the
/// control stream after the welcome: a node speaking the raw protocol.
pub async fn session_as(
    coord: &TestCoordinator,
    identity: &tandem_gateway::identity::Identity,
) -> Result<(quinn::Endpoint, quinn::Connection, ControlStream)> {
    let endpoint = quinn::Endpoint::client("127.0.0.1:0".parse()?)?;
    let conn = endpoint
        .connect_with(
            identity.client_config()?,
            coord.addr().parse()?,
            COORDINATOR_SERVER_NAME,
        )?
        .await?;
    let mut control = ControlStream::open(&conn).await?;
    control.send(&Message::Hello(hello(identity))).await?;
    let welcome = control.recv().await?;
    ensure!(
        matches!(welcome.message, Message::Welcome(_)),
        "{welcome:?}"
    );
    Ok((endpoint, conn, control))
}

/// The hello `identity`'s node says.
pub fn hello(identity: &tandem_gateway::identity::Identity) -> Hello {
    Hello {
        node_id: identity.node_id.clone(),
        site: identity.site.clone(),
        software_version: "test".into(),
        capabilities: vec![],
        inventory: Default::default(),
    }
}
