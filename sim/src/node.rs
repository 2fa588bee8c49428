//! `tandem-sim node`: one simulated branch as its own process — a gateway on a
//! simulated board with the callers ringing its lines and the agents seated at
//! its seats. Tests kill it with SIGKILL mid-call to check that nothing the line
//! side was told is lost; it prints its counters as they change so a test can
//! pick the moment.

use anyhow::{Context, Result};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;
use tandem_gateway::Gateway;
use tandem_hal::board::{BoardConfig, PortKind};
use tandem_node::calls::ValidCenterConfig;
use tandem_node::routing::QueueId;
use tokio::sync::Mutex;

use crate::people::{self, Desk, PeopleCounters};
use crate::traffic::{Traffic, TrafficConfig};
use crate::world::sim_devices;

/// Options of `tandem-sim node`.
#[derive(Debug, Clone)]
pub struct NodeOptions {
    /// The gateway's data directory (already enrolled).
    pub data: PathBuf,
    /// Board file.
    pub board: PathBuf,
    /// The deployment configuration, to know which agents sit here.
    pub config: PathBuf,
    /// Traffic on this branch's lines.
    pub traffic: TrafficConfig,
    /// Where agents transfer to.
    pub transfer_to: QueueId,
}

/// Runs the node until Ctrl-C (or SIGKILL).
pub async fn run(options: NodeOptions) -> Result<()> {
    let board = BoardConfig::load(&options.board)?;
    let text = std::fs::read_to_string(&options.config)
        .with_context(|| format!("reading {}", options.config.display()))?;
    let config = ValidCenterConfig::from_toml(&text)?;
    let (devices, exchange) = sim_devices(&board)?;
    let gateway = Arc::new(Gateway::start(&options.data, &board, devices)?);
    let site = gateway.identity().site.clone();
    let exchange = Arc::new(exchange);
    let stop = Arc::new(AtomicBool::new(false));
    let counters = Arc::new(PeopleCounters::default());
    let traffic = Arc::new(Mutex::new(Traffic::new(options.traffic.clone(), 1)));

    for seat in config.config().seats.iter().filter(|s| s.site == site) {
        let (gateway, exchange, traffic, stop, counters) = (
            gateway.clone(),
            exchange.clone(),
            traffic.clone(),
            stop.clone(),
            counters.clone(),
        );
        let desk_seat = seat.clone();
        let transfer_to = options.transfer_to;
        tokio::spawn(async move {
            let desk = Desk {
                agent: desk_seat.agent,
                gateway: &gateway,
                exchange: &exchange,
                seat: desk_seat.endpoint.clone(),
                expert: false,
                transfer_to,
            };
            people::agent(desk, &traffic, &stop, &counters).await;
        });
    }
    let lines: Vec<String> = board
        .ports
        .iter()
        .filter(|p| p.kind == PortKind::Fxo)
        .map(|p| p.id.clone())
        .collect();
    {
        let (exchange, traffic, stop, counters) = (
            exchange.clone(),
            traffic.clone(),
            stop.clone(),
            counters.clone(),
        );
        tokio::spawn(async move {
            let start = tokio::time::Instant::now();
            loop {
                let Some(plan) = traffic.lock().await.next_caller() else {
                    return;
                };
                tokio::time::sleep_until(start + plan.at).await;
                let ids: Vec<&str> = lines.iter().map(String::as_str).collect();
                people::ring(&exchange, &ids, plan, &stop, &counters);
            }
        });
    }

    let mut last = None;
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = tick.tick() => {
                let s = gateway.stats();
                let now = (s.calls_active, s.cdrs_written);
                if last != Some(now) {
                    last = Some(now);
                    println!("calls_active={} cdrs_written={}", s.calls_active, s.cdrs_written);
                }
            }
        }
    }
    Ok(())
}
