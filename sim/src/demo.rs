//! `tandem-sim demo`: a whole virtual center on simulated lines, in one process.
//!
//! Today it federates: a coordinator, three branch gateways (Beijing, Shanghai,
//! Guangzhou) on the simulated board and a home agent's seat, each enrolled with a
//! one-time token over real QUIC, then connected with mTLS. Calls join in as the
//! call-control layer lands.

use anyhow::{Context, Result};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use tandem_coordinator::Coordinator;
use tandem_coordinator::admin::render_table;
use tandem_coordinator::server::ServeOptions;
use tandem_gateway::Gateway;
use tandem_gateway::identity::GatewayStore;
use tandem_gateway::uplink::UplinkState;
use tandem_hal::board::BoardConfig;
use tandem_node::names::Site;

const SIM_BOARD: &str = include_str!("../../board-configs/sim.toml");
const HOME_SEAT_BOARD: &str = include_str!("../../board-configs/home-seat.toml");

/// The demo's branches: site name and board.
const BRANCHES: [(&str, &str); 4] = [
    ("bj-01", SIM_BOARD),
    ("sh-01", SIM_BOARD),
    ("gz-01", SIM_BOARD),
    ("home", HOME_SEAT_BOARD),
];

/// Demo parameters.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub listen: SocketAddr,
    pub http: Option<SocketAddr>,
    /// Stop after this long; run until Ctrl-C if `None`.
    pub duration: Option<Duration>,
    /// Keep state here (reused across runs); a temporary directory if `None`.
    pub data: Option<PathBuf>,
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
    let coordinator = Coordinator::open(&root.join("coordinator"))?;
    let running = coordinator
        .serve(ServeOptions {
            listen: options.listen,
            http: options.http,
        })
        .await?;
    let addr = running.local_addr().context("coordinator has no address")?;
    println!(
        "coordinator listening on {addr} (QUIC){}",
        match running.http_addr() {
            Some(h) => format!(", HTTP on http://{h}/ (metrics at /metrics)"),
            None => String::new(),
        }
    );

    let mut gateways = Vec::new();
    for (site, board_toml) in BRANCHES {
        let board = BoardConfig::parse(board_toml, site)?;
        let dir = root.join("gateways").join(site);
        let store = GatewayStore::open(&dir)?;
        if store.identity()?.is_none() {
            let token = coordinator.create_token(Site::new(site)?, 600)?.encode();
            let identity =
                tandem_gateway::enroll::enroll(&store, &addr.to_string(), &token, false).await?;
            println!(
                "enrolled {site} as {} with a one-time token",
                identity.node_id
            );
        }
        drop(store);
        gateways.push(Gateway::start(&dir, &board)?);
    }
    for g in &gateways {
        let mut state = g.state();
        tokio::time::timeout(
            Duration::from_secs(10),
            state.wait_for(|s| matches!(s, UplinkState::Online { .. })),
        )
        .await
        .context("a gateway did not come online")??;
    }
    println!("all {} nodes online\n", gateways.len());

    let stop = async {
        match options.duration {
            Some(d) => tokio::time::sleep(d).await,
            None => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    };
    tokio::pin!(stop);
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = tick.tick() => {
                let c = coordinator.clone();
                let views = tokio::task::spawn_blocking(move || c.node_views()).await??;
                println!("{}", render_table(&views));
            }
        }
    }
    for g in gateways {
        g.stop().await?;
    }
    running.shutdown().await;
    println!("demo stopped");
    Ok(())
}
