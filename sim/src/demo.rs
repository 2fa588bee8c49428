//! `tandem-sim demo`: a whole virtual contact center on simulated lines, in one
//! process, running the real coordinator and gateway code over real QUIC.
//!
//! Three branches (Beijing, Shanghai, Guangzhou), two agents at home and an
//! expert pool at Guangzhou, configured by `center-configs/demo.toml`. Simulated
//! callers ring the branches' FXO lines (Poisson arrivals), choose in the IVR by
//! DTMF and hang up when their patience runs out before they hear an agent.
//! Simulated agents answer (headsets through their seat, analog phones by lifting
//! the handset), talk, sometimes transfer to the expert pool, and wrap up. The
//! agents with a web account (agents, the team lead, the duty manager) are left
//! to the person trying the demo: no robot logs them in. A summary per queue and
//! site prints every five seconds; with `--duration` the
//! demo ends, lets the last records upload and prints the final summary (as JSON
//! with `--json`).

use anyhow::{Context, Result};
use serde::Serialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tandem_coordinator::calls::CenterSummary;
use tandem_node::routing::{AgentId, GroupKind, QueueId};
use tokio::sync::Mutex;

use crate::people::{self, Desk, PeopleCounters};
use crate::traffic::{Traffic, TrafficConfig};
use crate::world::{DEMO_ACCOUNTS, World, WorldOptions};

/// Branches whose FXO lines callers ring.
const BRANCHES: [&str; 3] = ["bj-01", "sh-01", "gz-01"];
/// FXO lines of the simulated board.
const LINES: [&str; 4] = ["fxo1", "fxo2", "fxo3", "fxo4"];
/// The expert pool's queue in the demo configuration.
const EXPERT_QUEUE: QueueId = QueueId(3);

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

/// Whether `agent` has a demo web account: the person trying the demo drives
/// it, so no robot may log it in, answer or go not ready in its place.
fn left_to_people(agent: AgentId) -> bool {
    DEMO_ACCOUNTS.iter().any(|a| a.3 == Some(agent.0))
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
    // With --json, stdout carries only the final summary.
    let banner = format!(
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
    world.put_accounts(&DEMO_ACCOUNTS).await?;
    let accounts: Vec<String> = DEMO_ACCOUNTS
        .iter()
        .map(|(user, _, role, agent)| match agent {
            Some(agent) => format!("{user} ({role}, agent {agent})"),
            None => format!("{user} ({role})"),
        })
        .collect();
    let banner = format!(
        "{banner}\nweb accounts (password {:?}): {}\n\
         robots drive every other agent; the agents above are yours to log in on /desk",
        DEMO_ACCOUNTS[0].1,
        accounts.join(", ")
    );
    if options.json {
        eprintln!("{banner}");
    } else {
        println!("{banner}");
    }

    let stop = Arc::new(AtomicBool::new(false));
    let counters = Arc::new(PeopleCounters::default());
    let traffic = Arc::new(Mutex::new(Traffic::new(
        options.traffic.clone(),
        BRANCHES.len(),
    )));
    let mut tasks = Vec::new();
    for seat in world
        .config()
        .config()
        .seats
        .iter()
        .filter(|seat| !left_to_people(seat.agent))
    {
        let (world, traffic, stop, counters) = (
            world.clone(),
            traffic.clone(),
            stop.clone(),
            counters.clone(),
        );
        let agent = seat.agent;
        tasks.push(tokio::spawn(async move {
            let Ok(node) = world.seat_node(agent.0) else {
                return;
            };
            let expert = world.config().config().routing.groups.iter().any(|g| {
                g.kind == GroupKind::ExpertPool && g.members.iter().any(|m| m.agent == agent)
            });
            let desk = Desk {
                agent,
                gateway: &node.gateway,
                exchange: &node.exchange,
                seat: world.seat_of(agent.0).unwrap_or_default(),
                expert,
                transfer_to: EXPERT_QUEUE,
            };
            people::agent(desk, &traffic, &stop, &counters).await;
        }));
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
    counters: &PeopleCounters,
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
        transferred: t
            .transferred
            .max(counters.transfers.load(Ordering::Relaxed)),
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
            if q.queue.0 == 0 {
                "all queues"
            } else {
                q.name.as_str()
            },
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
    counters: Arc<PeopleCounters>,
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
        let Ok(node) = world.node(BRANCHES[plan.site]) else {
            continue;
        };
        callers.extend(people::ring(&node.exchange, &LINES, plan, &stop, &counters));
    }
    for c in callers {
        let _ = c.await;
    }
}
