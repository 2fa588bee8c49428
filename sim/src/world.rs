//! A whole simulated contact center in one process: a coordinator, branch
//! gateways and home seats on simulated boards, each enrolled with a one-time
//! token and connected over real QUIC on loopback, with the deployment
//! configuration loaded. The demo and the end-to-end tests build on it, so both
//! run exactly the code a production site runs.

use anyhow::{Context, Result};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tandem_coordinator::Coordinator;
use tandem_coordinator::accounts::{AccountSpec, Role};
use tandem_coordinator::server::{Running, ServeOptions};
use tandem_gateway::Gateway;
use tandem_gateway::calls::Devices;
use tandem_gateway::identity::GatewayStore;
use tandem_gateway::uplink::UplinkState;
use tandem_hal::board::BoardConfig;
use tandem_hal::dsp::tones::CHINA;
use tandem_hal::sim::{Pace, SimBoard, SimExchange};
use tandem_node::calls::{AgentCommand, AgentView, ValidCenterConfig};
use tandem_node::names::Site;
use tandem_node::routing::AgentId;

use crate::wan::WanLink;

/// The simulated branch board.
pub const SIM_BOARD: &str = include_str!("../../board-configs/sim.toml");
/// A remote agent's node: one headset.
pub const HOME_SEAT_BOARD: &str = include_str!("../../board-configs/home-seat.toml");
/// The demo deployment: three branches, two home agents, an expert pool.
pub const DEMO_CONFIG: &str = include_str!("../../center-configs/demo.toml");

/// A web account of a simulated world: username, password, role, agent.
pub type DemoAccount = (&'static str, &'static str, Role, Option<u32>);

/// The demo's web accounts (printed when the demo starts).
pub const DEMO_ACCOUNTS: [DemoAccount; 5] = [
    ("admin", "tandem-demo", Role::Admin, None),
    ("sun", "tandem-demo", Role::DutyManager, Some(10)),
    ("yang", "tandem-demo", Role::TeamLead, Some(5)),
    ("zhang", "tandem-demo", Role::Agent, Some(1)),
    ("li", "tandem-demo", Role::Agent, Some(8)),
];

/// The demo's nodes: site name and board.
pub const DEMO_SITES: [(&str, &str); 5] = [
    ("bj-01", SIM_BOARD),
    ("sh-01", SIM_BOARD),
    ("gz-01", SIM_BOARD),
    ("home-li", HOME_SEAT_BOARD),
    ("home-wang", HOME_SEAT_BOARD),
];

/// The simulated hardware of `board` in real time: the devices a gateway drives
/// and the far side the simulated people use.
pub fn sim_devices(board: &BoardConfig) -> Result<(Devices, SimExchange)> {
    let sim = SimBoard::new(board, &CHINA, tandem_hal::dsp::FRAME_20MS, Pace::RealTime)?;
    Ok(Devices::from_sim(sim))
}

/// How to build a world.
#[derive(Debug, Clone)]
pub struct WorldOptions {
    /// State directory (coordinator and gateways); reused across runs.
    pub root: PathBuf,
    /// QUIC address of the coordinator.
    pub listen: SocketAddr,
    /// HTTP address of the coordinator's API, if any.
    pub http: Option<SocketAddr>,
    /// Nodes to start: site name and board file text.
    pub sites: Vec<(String, String)>,
    /// The deployment configuration (TOML).
    pub config: String,
    /// Put a cuttable [`WanLink`] between every node and the coordinator.
    pub wan_links: bool,
}

impl WorldOptions {
    /// The demo's nodes and configuration under `root`, on ephemeral ports.
    pub fn demo(root: &Path) -> Self {
        WorldOptions {
            root: root.to_path_buf(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            http: None,
            sites: DEMO_SITES
                .iter()
                .map(|(s, b)| ((*s).to_owned(), (*b).to_owned()))
                .collect(),
            config: DEMO_CONFIG.to_owned(),
            wan_links: false,
        }
    }

    /// Only these demo sites.
    pub fn only(mut self, sites: &[&str]) -> Self {
        self.sites.retain(|(s, _)| sites.contains(&s.as_str()));
        self
    }
}

/// One simulated node: its gateway and the far side of its simulated hardware.
pub struct SimNode {
    /// Site name.
    pub site: String,
    /// The running gateway.
    pub gateway: Gateway,
    /// Callers on its FXO lines, phones on its FXS ports, agents at its seats.
    pub exchange: SimExchange,
    /// The cuttable path to the coordinator, when the world has them.
    pub wan: Option<WanLink>,
}

impl SimNode {
    /// The cuttable path to the coordinator (worlds started with `wan_links`).
    pub fn wan_link(&self) -> Result<&WanLink> {
        self.wan
            .as_ref()
            .with_context(|| format!("{} has no simulated WAN link", self.site))
    }
}

/// A running simulated center.
pub struct World {
    running: Running,
    config: ValidCenterConfig,
    /// Every node, in the order given.
    pub nodes: Vec<SimNode>,
}

impl World {
    /// Starts the coordinator, loads the configuration, enrolls (first run) and
    /// starts every node on a real-time simulated board, and waits until all are
    /// online with the configuration.
    pub async fn start(options: WorldOptions) -> Result<World> {
        let config = ValidCenterConfig::from_toml(&options.config)?;
        let coordinator = Coordinator::open(&options.root.join("coordinator"))?;
        let running = coordinator
            .serve(ServeOptions {
                listen: options.listen,
                http: options.http,
                http_tls: None,
            })
            .await?;
        let addr = running.local_addr().context("coordinator has no address")?;
        let text = options.config.clone();
        let c = coordinator.clone();
        let version = tokio::task::spawn_blocking(move || c.load_config(&text)).await??;
        tracing::info!(version, "configuration loaded");

        let mut nodes = Vec::new();
        for (site, board_toml) in &options.sites {
            let board = BoardConfig::parse(board_toml, site)?;
            let wan = if options.wan_links {
                Some(WanLink::start(addr).await?)
            } else {
                None
            };
            let dial = wan.as_ref().map_or(addr, WanLink::addr);
            let dir = options.root.join("gateways").join(site);
            let store = GatewayStore::open(&dir)?;
            if store.identity()?.is_none() {
                let token = coordinator.create_token(Site::new(site.as_str())?, 600)?;
                tandem_gateway::enroll::enroll(&store, &dial.to_string(), &token.encode(), false)
                    .await?;
            }
            drop(store);
            let (devices, exchange) = sim_devices(&board)?;
            let gateway = Gateway::start(&dir, &board, devices)?;
            nodes.push(SimNode {
                site: site.clone(),
                gateway,
                exchange,
                wan,
            });
        }
        let world = World {
            running,
            config,
            nodes,
        };
        wait_nodes(&world.nodes, true).await?;
        Ok(world)
    }

    /// Stops the coordinator and starts it again on the same data directory
    /// and addresses, as a deploy would; the gateways keep running (and their
    /// calls up) and reconnect by themselves. Returns once all are back online.
    pub async fn restart_coordinator(self) -> Result<World> {
        let World {
            running,
            config,
            nodes,
        } = self;
        let dir = running.coordinator().data_dir().to_path_buf();
        let listen = running.local_addr().context("coordinator has no address")?;
        let http = running.http_addr();
        running.shutdown().await;
        // The gateways notice before the new instance answers them.
        wait_nodes(&nodes, false).await?;
        let world = World {
            running: Coordinator::open(&dir)?
                .serve(ServeOptions {
                    listen,
                    http,
                    http_tls: None,
                })
                .await?,
            config,
            nodes,
        };
        wait_nodes(&world.nodes, true).await?;
        Ok(world)
    }

    /// The coordinator.
    pub fn coordinator(&self) -> &Coordinator {
        self.running.coordinator()
    }

    /// The coordinator's server (addresses).
    pub fn running(&self) -> &Running {
        &self.running
    }

    /// The configuration the world was started with.
    pub fn config(&self) -> &ValidCenterConfig {
        &self.config
    }

    /// The node of `site`.
    pub fn node(&self, site: &str) -> Result<&SimNode> {
        self.nodes
            .iter()
            .find(|n| n.site == site)
            .with_context(|| format!("no node {site} in this world"))
    }

    /// The node hosting `agent`'s seat.
    pub fn seat_node(&self, agent: u32) -> Result<&SimNode> {
        let seat = self
            .config
            .seat_of(AgentId(agent))
            .with_context(|| format!("agent {agent} has no seat"))?;
        self.node(seat.site.as_str())
    }

    /// The seat id (headset or FXS port) of `agent`.
    pub fn seat_of(&self, agent: u32) -> Result<String> {
        Ok(self
            .config
            .seat_of(AgentId(agent))
            .with_context(|| format!("agent {agent} has no seat"))?
            .endpoint
            .clone())
    }

    /// `agent` presses a button at their seat.
    pub fn agent(&self, agent: u32, command: AgentCommand) -> Result<()> {
        self.seat_node(agent)?
            .gateway
            .agent_command(AgentId(agent), command)?;
        Ok(())
    }

    /// What `agent`'s seat shows now.
    pub fn view(&self, agent: u32) -> Result<AgentView> {
        Ok(self
            .seat_node(agent)?
            .gateway
            .agent_view(AgentId(agent))
            .borrow()
            .clone())
    }

    /// Waits until `agent`'s seat shows a view matching `pred`.
    pub async fn wait_agent(
        &self,
        agent: u32,
        what: &str,
        limit: Duration,
        pred: impl Fn(&AgentView) -> bool,
    ) -> Result<AgentView> {
        let gateway = &self.seat_node(agent)?.gateway;
        crate::people::wait_view(gateway, AgentId(agent), what, limit, pred).await
    }

    /// Logs `agents` in and makes them ready, waiting for each to show ready.
    pub async fn login_ready(&self, agents: &[u32]) -> Result<()> {
        for &a in agents {
            self.agent(a, AgentCommand::Login)?;
            self.wait_agent(a, "logged in", Duration::from_secs(15), |v| {
                v.state.is_some()
            })
            .await?;
            self.agent(a, AgentCommand::Ready)?;
        }
        for &a in agents {
            self.wait_agent(a, "ready", Duration::from_secs(15), |v| {
                v.state == Some(tandem_node::routing::AgentState::Ready)
            })
            .await?;
        }
        Ok(())
    }

    /// Creates (or replaces, in a reused data directory) web accounts.
    pub async fn put_accounts(&self, accounts: &'static [DemoAccount]) -> Result<()> {
        let coordinator = self.coordinator().clone();
        let config = self.config.clone();
        // argon2 hashing and redb writes: off the async workers.
        tokio::task::spawn_blocking(move || -> Result<()> {
            let now = coordinator.now_secs();
            let store = coordinator.store();
            for (user, password, role, agent) in accounts {
                let spec = AccountSpec {
                    username: (*user).to_owned(),
                    password: Some((*password).to_owned()),
                    role: *role,
                    agent: agent.map(AgentId),
                    // Team leads lead the groups the configuration gives them.
                    groups: match (role, agent) {
                        (Role::TeamLead, Some(a)) => config
                            .supervisor(AgentId(*a))
                            .map(|s| s.groups.clone())
                            .unwrap_or_default(),
                        _ => Vec::new(),
                    },
                };
                let exists = store.account(user)?.is_some();
                store.put_account(&spec, !exists, now)?;
            }
            Ok(())
        })
        .await?
    }

    /// Stops every gateway, then the coordinator.
    pub async fn stop(self) -> Result<()> {
        for n in self.nodes {
            n.gateway.stop().await?;
        }
        self.running.shutdown().await;
        Ok(())
    }
}

/// Waits until every node's uplink is online (or, with `online` false, is not).
async fn wait_nodes(nodes: &[SimNode], online: bool) -> Result<()> {
    for n in nodes {
        let mut state = n.gateway.state();
        tokio::time::timeout(
            Duration::from_secs(15),
            state.wait_for(|s| matches!(s, UplinkState::Online { .. }) == online),
        )
        .await
        .with_context(|| format!("{} did not go online={online}", n.site))??;
    }
    Ok(())
}
