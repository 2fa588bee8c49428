//! `tandem-sim demo`: a whole virtual contact center on simulated lines, in one
//! process, running the real coordinator and gateway code over real QUIC.
//!
//! Three branches (Beijing, Shanghai, Guangzhou), two agents at home and an
//! expert pool at Guangzhou, configured by `center-configs/demo.toml`. Simulated
//! callers ring the branches' FXO lines (Poisson arrivals), choose in the IVR by
//! DTMF and hang up when their patience runs out before they hear an agent.
//! Simulated agents answer (headsets through their seat, analog phones by lifting
//! the handset), talk, sometimes transfer to the expert pool, and wrap up. A
//! summary per queue and site prints every five seconds; with `--duration` the
//! demo ends, lets the last records upload and prints the final summary (as JSON
//! with `--json`).

use anyhow::{Context, Result};
use serde::Serialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tandem_coordinator::calls::CenterSummary;
use tandem_hal::dsp::dtmf::DtmfTiming;
use tandem_hal::sim::Audio;
use tandem_hal::sim::line::{FxoControl, FxoState, HangUp, IncomingCall};
use tandem_node::calls::{AgentCommand, TransferTarget};
use tandem_node::media::analysis::{goertzel_dbfs, tone};
use tandem_node::routing::{AgentState, QueueId};
use tokio::sync::Mutex;

use crate::traffic::{AgentPlan, Traffic, TrafficConfig};
use crate::world::{World, WorldOptions};

/// Branches whose FXO lines callers ring.
const BRANCHES: [&str; 3] = ["bj-01", "sh-01", "gz-01"];
/// FXO lines of the simulated board.
const LINES: [&str; 4] = ["fxo1", "fxo2", "fxo3", "fxo4"];
/// The expert pool's queue in the demo configuration.
const EXPERT_QUEUE: QueueId = QueueId(3);
/// What simulated agents' voices sound like (a pure tone a caller can detect).
const AGENT_VOICE_HZ: f64 = 650.0;
/// What simulated callers' voices sound like.
const CALLER_VOICE_HZ: f64 = 1_050.0;
/// Level above which a caller takes the tone for an agent talking.
const HEARD_DBFS: f64 = -35.0;
const LINE_RATE: u32 = 8_000;

/// Demo parameters.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub listen: SocketAddr,
    pub http: Option<SocketAddr>,
    /// Stop after this long; run until Ctrl-C if `None`.
    pub duration: Option<Duration>,
    /// Keep state here (reused across runs); a temporary directory if `None`.
    pub data: Option<PathBuf>,
    /// Print the final summary as JSON.
    pub json: bool,
    /// The simulated traffic.
    pub traffic: TrafficConfig,
}

/// Totals the simulated world counts itself, beside the coordinator's figures.
#[derive(Debug, Default)]
struct WorldCounters {
    callers: AtomicU64,
    lines_busy: AtomicU64,
    caller_abandons: AtomicU64,
    agent_transfers: AtomicU64,
}

/// The final summary (`--json`).
#[derive(Debug, Serialize)]
pub struct DemoSummary {
    pub duration_s: f64,
    pub callers: u64,
    pub lines_busy: u64,
    pub offered: u64,
    pub answered: u64,
    pub abandoned: u64,
    pub transferred: u64,
    pub service_level_percent: Option<f64>,
    pub asa_ms: Option<f64>,
    pub cdrs_written: u64,
    pub cdrs_stored: u64,
    pub cdrs_lost: u64,
    pub center: CenterSummary,
}

/// Runs the demo.
pub async fn run(options: DemoOptions) -> Result<()> {
    let temp;
    let root = match &options.data {
        Some(dir) => dir.clone(),
        None => {
            temp = tempfile::tempdir()?;
            temp.path().to_path_buf()
        }
    };
    let mut world_options = WorldOptions::demo(&root);
    world_options.listen = options.listen;
    world_options.http = options.http;
    let world = Arc::new(World::start(world_options).await?);
    let running = world.running();
    println!(
        "coordinator on {} (QUIC){}; {} nodes online: {}",
        running.local_addr().context("no address")?,
        running
            .http_addr()
            .map(|h| format!(", HTTP on http://{h}/"))
            .unwrap_or_default(),
        world.nodes.len(),
        world
            .nodes
            .iter()
            .map(|n| n.site.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );

    let stop = Arc::new(AtomicBool::new(false));
    let counters = Arc::new(WorldCounters::default());
    let traffic = Arc::new(Mutex::new(Traffic::new(
        options.traffic.clone(),
        BRANCHES.len(),
    )));
    let mut tasks = Vec::new();
    for seat in &world.config().config().seats {
        tasks.push(tokio::spawn(agent(
            world.clone(),
            seat.agent.0,
            traffic.clone(),
            stop.clone(),
            counters.clone(),
        )));
    }
    tasks.push(tokio::spawn(callers(
        world.clone(),
        traffic.clone(),
        stop.clone(),
        counters.clone(),
    )));

    let started = Instant::now();
    let end = async {
        match options.duration {
            Some(d) => tokio::time::sleep(d).await,
            None => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    };
    tokio::pin!(end);
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = &mut end => break,
            _ = tick.tick() => {
                let summary = center_summary(&world).await?;
                if !options.json {
                    println!("{}", render(&summary, started.elapsed()));
                }
            }
        }
    }
    stop.store(true, Ordering::SeqCst);
    for t in tasks {
        let _ = t.await;
    }
    let summary = final_summary(&world, &counters, started.elapsed()).await?;
    if options.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!("{}", render(&summary.center, started.elapsed()));
        println!(
            "CDRs written {} · stored {} · lost {}",
            summary.cdrs_written, summary.cdrs_stored, summary.cdrs_lost
        );
    }
    match Arc::try_unwrap(world) {
        Ok(world) => world.stop().await?,
        Err(_) => tracing::warn!("world still shared at shutdown"),
    }
    Ok(())
}

async fn center_summary(world: &World) -> Result<CenterSummary> {
    let c = world.coordinator().clone();
    Ok(tokio::task::spawn_blocking(move || c.summary()).await?)
}

/// Waits for the outboxes to drain (bounded), then adds everything up.
async fn final_summary(
    world: &World,
    counters: &WorldCounters,
    elapsed: Duration,
) -> Result<DemoSummary> {
    let written = || -> u64 {
        world
            .nodes
            .iter()
            .map(|n| n.gateway.stats().cdrs_written)
            .sum()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut center = center_summary(world).await?;
    while Instant::now() < deadline {
        let pending: u64 = world
            .nodes
            .iter()
            .map(|n| n.gateway.outbox().len().unwrap_or(0))
            .sum();
        let active: usize = world
            .nodes
            .iter()
            .map(|n| n.gateway.stats().calls_active)
            .sum();
        center = center_summary(world).await?;
        if pending == 0 && active == 0 && center.cdrs_stored >= written() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let cdrs_written = written();
    let t = &center.totals;
    Ok(DemoSummary {
        duration_s: elapsed.as_secs_f64(),
        callers: counters.callers.load(Ordering::Relaxed),
        lines_busy: counters.lines_busy.load(Ordering::Relaxed),
        offered: t.offered,
        answered: t.answered,
        abandoned: t.abandoned,
        transferred: t.transferred.max(counters.agent_transfers.load(Ordering::Relaxed)),
        service_level_percent: t.service_level_percent,
        asa_ms: t.asa_ms,
        cdrs_written,
        cdrs_stored: center.cdrs_stored,
        cdrs_lost: cdrs_written.saturating_sub(center.cdrs_stored),
        center,
    })
}

fn render(s: &CenterSummary, elapsed: Duration) -> String {
    let pct = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.0}%"));
    let secs = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{:.1}s", v / 1000.0));
    let mut out = format!(
        "── {:>4.0}s ── config v{} ──────────────────────────────────────────\n{:<22} {:>7} {:>8} {:>9} {:>11} {:>6} {:>7} {:>7}\n",
        elapsed.as_secs_f64(),
        s.config_version,
        "queue",
        "offered",
        "answered",
        "abandoned",
        "transferred",
        "SL",
        "ASA",
        "waiting"
    );
    for q in s.queues.iter().chain(std::iter::once(&s.totals)) {
        out.push_str(&format!(
            "{:<22} {:>7} {:>8} {:>9} {:>11} {:>6} {:>7} {:>7}\n",
            if q.queue.0 == 0 { "all queues" } else { q.name.as_str() },
            q.offered,
            q.answered,
            q.abandoned,
            q.transferred,
            pct(q.service_level_percent),
            secs(q.asa_ms),
            q.waiting_now
        ));
    }
    let sites: Vec<String> = s
        .sites
        .iter()
        .map(|site| {
            format!(
                "{} {} ({} up)",
                site.site,
                if site.online { "online" } else { "OFFLINE" },
                site.calls_up
            )
        })
        .collect();
    out.push_str(&format!(
        "sites: {} · CDRs stored {}",
        sites.join(" · "),
        s.cdrs_stored
    ));
    out
}

/// Rings the branches' lines as the traffic plan says.
async fn callers(
    world: Arc<World>,
    traffic: Arc<Mutex<Traffic>>,
    stop: Arc<AtomicBool>,
    counters: Arc<WorldCounters>,
) {
    let start = Instant::now();
    let mut callers = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        let Some(plan) = traffic.lock().await.next_caller() else {
            break;
        };
        let wait = plan.at.saturating_sub(start.elapsed());
        let mut slept = Duration::ZERO;
        while slept < wait && !stop.load(Ordering::SeqCst) {
            let step = (wait - slept).min(Duration::from_millis(200));
            tokio::time::sleep(step).await;
            slept += step;
        }
        if stop.load(Ordering::SeqCst) {
            break;
        }
        counters.callers.fetch_add(1, Ordering::Relaxed);
        let Ok(node) = world.node(BRANCHES[plan.site]) else {
            continue;
        };
        let free = LINES.iter().find_map(|l| {
            let fxo = node.exchange.fxo(l).ok()?;
            (fxo.state() == FxoState::Idle).then_some(fxo)
        });
        let Some(fxo) = free else {
            counters.lines_busy.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        callers.push(tokio::spawn(caller(
            fxo,
            plan.number,
            plan.digit,
            plan.patience,
            stop.clone(),
            counters.clone(),
        )));
    }
    for c in callers {
        let _ = c.await;
    }
}

/// One caller: rings, chooses, waits for an agent within their patience, talks
/// until the agent releases the line.
async fn caller(
    fxo: FxoControl,
    number: String,
    digit: Option<char>,
    patience: Duration,
    stop: Arc<AtomicBool>,
    counters: Arc<WorldCounters>,
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
            counters.caller_abandons.fetch_add(1, Ordering::Relaxed);
        }
        if give_up || stop.load(Ordering::SeqCst) || waiting.elapsed() > Duration::from_secs(600) {
            let _ = fxo.hang_up(HangUp::LoopBreak { ms: 800 });
            return;
        }
    }
}

/// One agent: logs in, goes ready, answers what rings, talks, sometimes
/// transfers to the expert pool, wraps up.
async fn agent(
    world: Arc<World>,
    agent: u32,
    traffic: Arc<Mutex<Traffic>>,
    stop: Arc<AtomicBool>,
    counters: Arc<WorldCounters>,
) {
    if let Err(e) = work(&world, agent, &traffic, &stop, &counters).await {
        tracing::warn!(agent, "simulated agent stopped: {e:#}");
    }
}

async fn work(
    world: &World,
    agent: u32,
    traffic: &Mutex<Traffic>,
    stop: &AtomicBool,
    counters: &WorldCounters,
) -> Result<()> {
    let node = world.seat_node(agent)?;
    let seat_id = world.seat_of(agent)?;
    let phone = node.exchange.phone(&seat_id).ok();
    let headset = node.exchange.seat(&seat_id).ok();
    let expert = world
        .config()
        .config()
        .routing
        .groups
        .iter()
        .any(|g| g.kind == tandem_node::routing::GroupKind::ExpertPool && g.members.iter().any(|m| m.agent.0 == agent));
    let say = |ms: u64| {
        let samples = tone(AGENT_VOICE_HZ, -16.0, LINE_RATE, 0, (ms * 8) as usize);
        if let Some(h) = &headset {
            let _ = h.say(Audio::Samples(samples));
        } else if let Some(p) = &phone {
            let _ = p.say(Audio::Samples(samples));
        }
    };
    world.login_ready(&[agent]).await?;
    let mut plan: Option<AgentPlan> = None;
    let mut talking_since: Option<Instant> = None;
    while !stop.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let view = world.view(agent)?;
        match view.state {
            Some(AgentState::Reserved) => {
                let p = traffic.lock().await.agent_plan();
                tokio::time::sleep(p.answer_after).await;
                plan = Some(p);
                match &phone {
                    Some(phone) if phone.is_ringing() => phone.off_hook()?,
                    _ => world.agent(agent, AgentCommand::Answer)?,
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
                    if p.transfer && !expert {
                        counters.agent_transfers.fetch_add(1, Ordering::Relaxed);
                        world.agent(
                            agent,
                            AgentCommand::Transfer {
                                to: TransferTarget::Queue(EXPERT_QUEUE),
                                consult: false,
                            },
                        )?;
                    } else {
                        match &phone {
                            Some(phone) => phone.on_hook()?,
                            None => world.agent(agent, AgentCommand::Hangup)?,
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
                let _ = world.agent(
                    agent,
                    AgentCommand::WrapUp {
                        disposition: "resolved".into(),
                        note: String::new(),
                    },
                );
                plan = None;
                talking_since = None;
            }
            Some(AgentState::NotReady(_)) => {
                // Missed offers or a refused command: back to work.
                world.agent(agent, AgentCommand::Ready)?;
            }
            _ => {}
        }
    }
    Ok(())
}
