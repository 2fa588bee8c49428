//! The simulated people: callers on a branch's FXO lines and agents at their
//! seats. They only touch what a real person touches (the line's audio and hook,
//! the seat's buttons, the phone's handset), so everything between them is the
//! real gateway and coordinator code.

use anyhow::Result;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tandem_gateway::Gateway;
use tandem_gateway::uplink::UplinkState;
use tandem_hal::dsp::dtmf::DtmfTiming;
use tandem_hal::sim::line::{FxoControl, FxoState, HangUp, IncomingCall};
use tandem_hal::sim::{Audio, SimExchange};
use tandem_node::calls::{AgentCommand, AgentView, TransferTarget};
use tandem_node::media::analysis::{goertzel_dbfs, tone};
use tandem_node::routing::{AgentId, AgentState, QueueId};
use tokio::sync::Mutex;

use crate::traffic::{AgentPlan, CallerPlan, Traffic};

/// What simulated agents' voices sound like (a pure tone a caller can detect).
pub const AGENT_VOICE_HZ: f64 = 650.0;
/// What simulated callers' voices sound like.
pub const CALLER_VOICE_HZ: f64 = 1_050.0;
/// Level above which a caller takes the tone for an agent talking.
const HEARD_DBFS: f64 = -35.0;
const LINE_RATE: u32 = 8_000;

/// What the simulated people count themselves.
#[derive(Debug, Default)]
pub struct PeopleCounters {
    /// Callers who rang.
    pub callers: AtomicU64,
    /// Callers who found every line of their branch busy.
    pub lines_busy: AtomicU64,
    /// Callers who hung up before hearing an agent.
    pub abandons: AtomicU64,
    /// Transfers agents started.
    pub transfers: AtomicU64,
}

/// The first idle FXO line among `lines` of a branch.
pub fn free_line(exchange: &SimExchange, lines: &[&str]) -> Option<FxoControl> {
    lines.iter().find_map(|l| {
        let fxo = exchange.fxo(l).ok()?;
        (fxo.state() == FxoState::Idle).then_some(fxo)
    })
}

/// A caller from `plan` rings the first idle line among `lines` (counted as busy
/// when there is none) and lives in a task of their own.
pub fn ring(
    exchange: &SimExchange,
    lines: &[&str],
    plan: CallerPlan,
    stop: &Arc<AtomicBool>,
    counters: &Arc<PeopleCounters>,
) -> Option<tokio::task::JoinHandle<()>> {
    counters.callers.fetch_add(1, Ordering::Relaxed);
    let Some(fxo) = free_line(exchange, lines) else {
        counters.lines_busy.fetch_add(1, Ordering::Relaxed);
        return None;
    };
    let (stop, counters) = (stop.clone(), counters.clone());
    Some(tokio::spawn(async move {
        caller(
            fxo,
            plan.number,
            plan.digit,
            plan.patience,
            &stop,
            &counters,
        )
        .await;
    }))
}

/// One caller: rings, chooses, waits for an agent within their patience, talks
/// until the agent releases the line.
pub async fn caller(
    fxo: FxoControl,
    number: String,
    digit: Option<char>,
    patience: Duration,
    stop: &AtomicBool,
    counters: &PeopleCounters,
) {
    let Ok(call) = IncomingCall::from_number(&number) else {
        return;
    };
    if fxo.place_call(call).is_err() {
        return;
    }
    let rung = Instant::now();
    while fxo.state() != FxoState::Connected {
        if rung.elapsed() > Duration::from_secs(15) || stop.load(Ordering::SeqCst) {
            let _ = fxo.hang_up(HangUp::LoopBreak { ms: 800 });
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if let Some(d) = digit {
        let _ = fxo.play(Audio::Silence { ms: 300 });
        let _ = fxo.play(Audio::Dtmf {
            digits: d.to_string(),
            timing: DtmfTiming::default(),
        });
    }
    let _ = fxo.take_captured();
    let waiting = Instant::now();
    let mut answered = false;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let state = fxo.state();
        if state != FxoState::Connected {
            // The gateway released the line (agent hung up, closed, blacklisted).
            if state == FxoState::Released {
                let _ = fxo.hang_up(HangUp::LoopBreak { ms: 800 });
            }
            return;
        }
        let heard = fxo.take_captured();
        if !answered && goertzel_dbfs(&heard, AGENT_VOICE_HZ, LINE_RATE) > HEARD_DBFS {
            answered = true;
        }
        if answered {
            // Keep talking while connected.
            let _ = fxo.play(Audio::Samples(tone(
                CALLER_VOICE_HZ,
                -18.0,
                LINE_RATE,
                0,
                LINE_RATE as usize / 2,
            )));
        }
        let give_up = !answered && waiting.elapsed() > patience;
        if give_up {
            counters.abandons.fetch_add(1, Ordering::Relaxed);
        }
        if give_up || stop.load(Ordering::SeqCst) || waiting.elapsed() > Duration::from_secs(600) {
            let _ = fxo.hang_up(HangUp::LoopBreak { ms: 800 });
            return;
        }
    }
}

/// Where a simulated agent works.
pub struct Desk<'a> {
    /// The agent.
    pub agent: AgentId,
    /// The gateway hosting their seat.
    pub gateway: &'a Gateway,
    /// The far side of that gateway's simulated hardware.
    pub exchange: &'a SimExchange,
    /// Headset seat or FXS port id.
    pub seat: String,
    /// Experts never transfer onwards.
    pub expert: bool,
    /// Where non-experts transfer to.
    pub transfer_to: QueueId,
}

impl Desk<'_> {
    fn command(&self, command: AgentCommand) -> Result<()> {
        Ok(self.gateway.agent_command(self.agent, command)?)
    }

    fn view(&self) -> AgentView {
        self.gateway.agent_view(self.agent).borrow().clone()
    }

    async fn wait(&self, what: &str, pred: impl Fn(&AgentView) -> bool) -> Result<()> {
        wait_view(self.gateway, self.agent, what, Duration::from_secs(5), pred).await?;
        Ok(())
    }
}

/// Waits until `agent`'s seat on `gateway` shows a view matching `pred`; the
/// error names what was awaited and shows the last view.
pub async fn wait_view(
    gateway: &Gateway,
    agent: AgentId,
    what: &str,
    limit: Duration,
    pred: impl Fn(&AgentView) -> bool,
) -> Result<AgentView> {
    let mut rx = gateway.agent_view(agent);
    let waited = tokio::time::timeout(limit, rx.wait_for(|v| pred(v)))
        .await
        .map(|r| r.map(|view| view.clone()));
    match waited {
        Ok(Ok(view)) => Ok(view),
        Ok(Err(_)) => anyhow::bail!("agent {agent}: the gateway stopped while waiting for {what}"),
        Err(_) => anyhow::bail!(
            "agent {agent}: {what} not reached within {limit:?}; view {:?}",
            *rx.borrow()
        ),
    }
}

/// One agent: logs in, goes ready, answers what rings (headset: the answer
/// button; analog phone: lifting the handset), talks, sometimes transfers,
/// wraps up; until `stop`.
pub async fn agent(
    desk: Desk<'_>,
    traffic: &Mutex<Traffic>,
    stop: &AtomicBool,
    counters: &PeopleCounters,
) {
    if let Err(e) = work(&desk, traffic, stop, counters).await {
        tracing::warn!(agent = %desk.agent, "simulated agent stopped: {e:#}");
    }
}

async fn work(
    desk: &Desk<'_>,
    traffic: &Mutex<Traffic>,
    stop: &AtomicBool,
    counters: &PeopleCounters,
) -> Result<()> {
    let phone = desk.exchange.phone(&desk.seat).ok();
    let headset = desk.exchange.seat(&desk.seat).ok();
    let say = |ms: u64| {
        let samples = tone(AGENT_VOICE_HZ, -16.0, LINE_RATE, 0, (ms * 8) as usize);
        if let Some(h) = &headset {
            let _ = h.say(Audio::Samples(samples));
        } else if let Some(p) = &phone {
            let _ = p.say(Audio::Samples(samples));
        }
    };
    // Like a person at a desk: wait until the seat's node is up, and press
    // "log in" again if nothing happened.
    let mut state = desk.gateway.state();
    let online = |s: &UplinkState| matches!(s, UplinkState::Online { .. });
    let _ = tokio::time::timeout(Duration::from_secs(30), state.wait_for(online)).await;
    let mut logged_in = false;
    for _ in 0..5 {
        desk.command(AgentCommand::Login)?;
        if desk.wait("logged in", |v| v.state.is_some()).await.is_ok() {
            logged_in = true;
            break;
        }
    }
    if !logged_in {
        anyhow::bail!("agent {}: could not log in", desk.agent);
    }
    desk.command(AgentCommand::Ready)?;
    let mut plan: Option<AgentPlan> = None;
    let mut talking_since: Option<Instant> = None;
    while !stop.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let view = desk.view();
        match view.state {
            Some(AgentState::Reserved) => {
                let p = traffic.lock().await.agent_plan();
                tokio::time::sleep(p.answer_after).await;
                plan = Some(p);
                match &phone {
                    Some(phone) if phone.is_ringing() => phone.off_hook()?,
                    _ => desk.command(AgentCommand::Answer)?,
                }
                talking_since = Some(Instant::now());
            }
            Some(AgentState::OnCall) => {
                let since = *talking_since.get_or_insert_with(Instant::now);
                let p = match plan {
                    Some(p) => p,
                    None => {
                        let p = traffic.lock().await.agent_plan();
                        plan = Some(p);
                        p
                    }
                };
                say(300);
                if since.elapsed() >= p.talk && view.consulting.is_none() {
                    if p.transfer && !desk.expert {
                        counters.transfers.fetch_add(1, Ordering::Relaxed);
                        desk.command(AgentCommand::Transfer {
                            to: TransferTarget::Queue(desk.transfer_to),
                            consult: false,
                        })?;
                    } else {
                        match &phone {
                            Some(phone) => phone.on_hook()?,
                            None => desk.command(AgentCommand::Hangup)?,
                        }
                    }
                    plan = None;
                    talking_since = None;
                }
            }
            Some(AgentState::WrapUp) => {
                if let Some(phone) = &phone {
                    let _ = phone.on_hook();
                }
                let wrap = plan.map_or(Duration::from_secs(1), |p| p.wrap_up);
                tokio::time::sleep(wrap).await;
                let _ = desk.command(AgentCommand::WrapUp {
                    disposition: "resolved".into(),
                    note: String::new(),
                });
                plan = None;
                talking_since = None;
            }
            Some(AgentState::NotReady(_)) => {
                // Missed offers or a refused command: back to work.
                desk.command(AgentCommand::Ready)?;
            }
            _ => {}
        }
    }
    Ok(())
}
