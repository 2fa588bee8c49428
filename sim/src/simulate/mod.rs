//! The whole network in one seeded simulation, in virtual time.
//!
//! `tandem-sim simulate --seed S` runs the coordinator's real call-control core
//! ([`tandem_coordinator::calls::CallControl`], with the real global
//! [`tandem_node::routing::Router`] inside), its real upload store
//! ([`tandem_coordinator::store::Store`] on redb's in-memory backend, so a
//! committed upload survives a coordinator crash), N branch gateways (the
//! [`branch`] model around the real local `Router`), simulated callers and
//! agents, and a simulated WAN ([`net`]) that carries the real wire messages
//! through the real envelope and frame codec. Nothing sleeps, opens a socket
//! or starts a thread: events run in time order from one queue, and all
//! randomness comes from one seeded generator, so a seed replays exactly.
//!
//! The invariants ([`check`]) run after every event; the first breach stops
//! the run with its seed and step.
//!
//! # Real code and models
//! Real, unchanged: `CallControl` (arrivals, offers, offer timeouts, answers,
//! hang-ups, blind transfers, wrap-up, not-ready, node offline/online, the
//! restore path from `CallUp::Anchored`), the global and the local `Router`,
//! `Store::ingest` (idempotent by `(node, seq)`), the `Message` envelope and
//! length-prefixed frames, `Cdr::to_record`/`from_record`, the generated
//! `ValidCenterConfig` and its `local_routing`.
//!
//! Modelled: the gateway around its local router ([`branch`]: lines, the IVR
//! as a delay and a digit, the mix as a party list, the outbox and the durable
//! start record of each call as maps with whole-or-nothing commits, a crash-cut
//! call's CDR with cause `LineFault("gateway-restart")`); the link session
//! (hello/welcome as one round trip, heartbeats as a fixed 3 s detection
//! delay, loss as retransmission delay on an ordered stream); media (legs are
//! not opened); callers and agents ([`world`]). A coordinator crash drops the
//! `CallControl` and keeps the `Store`; a gateway crash drops everything but
//! its outbox, start records and id counters.

mod branch;
pub mod center;
mod check;
mod net;
pub mod report;
mod rng;
mod world;

use serde::Serialize;

pub use branch::SeededBug;
pub use check::{Breach, InvariantCount};
pub use net::NetStats;

/// Which faults a run injects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Faults {
    /// WAN cuts of one branch (seconds to minutes).
    pub wan: bool,
    /// Partitions: several branches cut at once.
    pub partition: bool,
    /// Packet loss (retransmissions) and latency spread on every link.
    pub loss: bool,
    /// Gateway crashes and restarts.
    pub gateway_crash: bool,
    /// Coordinator crashes and restarts.
    pub coordinator_crash: bool,
}

/// Why a fault list did not parse.
#[derive(Debug, thiserror::Error)]
#[error(
    "unknown fault {0:?} (known: wan, partition, loss, gateway-crash, coordinator-crash, all, none)"
)]
pub struct UnknownFault(String);

impl std::str::FromStr for Faults {
    type Err = UnknownFault;

    /// A comma-separated list: `wan,loss,gateway-crash,coordinator-crash`,
    /// `partition`, `all` or `none`.
    fn from_str(s: &str) -> Result<Faults, UnknownFault> {
        let mut f = Faults::default();
        for name in s.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match name {
                "wan" => f.wan = true,
                "partition" => f.partition = true,
                "loss" => f.loss = true,
                "gateway-crash" => f.gateway_crash = true,
                "coordinator-crash" => f.coordinator_crash = true,
                "all" => f = Faults::all(),
                "none" => f = Faults::default(),
                other => return Err(UnknownFault(other.to_owned())),
            }
        }
        Ok(f)
    }
}

impl Faults {
    /// Every fault.
    pub fn all() -> Faults {
        Faults {
            wan: true,
            partition: true,
            loss: true,
            gateway_crash: true,
            coordinator_crash: true,
        }
    }
}

/// What to simulate.
#[derive(Debug, Clone)]
pub struct Options {
    /// The seed: the same seed gives the same run.
    pub seed: u64,
    /// Simulated hours of traffic (then the network heals and drains).
    pub hours: f64,
    /// Branch gateways.
    pub sites: usize,
    /// Agents, dealt over the branches.
    pub agents: usize,
    /// Faults to inject.
    pub faults: Faults,
    /// Offered load per agent, in Erlang (0.7 = busy but stable).
    pub load: f64,
    /// A deliberate bug, for the test that shows the invariants catch it.
    pub bug: Option<SeededBug>,
    /// Print every event and message to stderr (for replaying a seed).
    pub trace: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            seed: 1,
            hours: 1.0,
            sites: 3,
            agents: 30,
            faults: Faults::all(),
            load: 0.7,
            bug: None,
            trace: false,
        }
    }
}

/// Call counts.
#[derive(Debug, Default, Clone, Serialize)]
pub struct CallCounts {
    /// Callers who found every line busy (never entered a box).
    pub blocked: u64,
    /// Calls a line answered.
    pub entered: u64,
    /// Calls an agent talked to.
    pub answered: u64,
    /// Callers who hung up waiting.
    pub abandoned: u64,
    /// Blind transfers asked for.
    pub transfers: u64,
    /// Calls cut by a gateway crash (their CDR says so).
    pub cut_by_crash: u64,
    /// CDRs stored by the coordinator.
    pub cdrs_stored: u64,
}

/// Faults that happened.
#[derive(Debug, Default, Clone, Serialize)]
pub struct FaultCounts {
    pub wan_cuts: u64,
    pub partitions: u64,
    pub gateway_crashes: u64,
    pub coordinator_crashes: u64,
}

/// Upload figures.
#[derive(Debug, Default, Clone, Serialize)]
pub struct UploadCounts {
    /// Upload messages sent.
    pub batches: u64,
    /// Records sent (retries included).
    pub records_sent: u64,
    /// Records the store kept (each once).
    pub records_stored: u64,
}

/// The run's summary: the same seed gives byte-identical JSON.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub seed: u64,
    pub hours: f64,
    pub sites: usize,
    pub agents: usize,
    pub faults: Faults,
    pub bug: Option<SeededBug>,
    /// Simulated milliseconds, including the drain after healing.
    pub simulated_ms: u64,
    /// Events processed (each one a step followed by every invariant check).
    pub events: u64,
    pub calls: CallCounts,
    pub uploads: UploadCounts,
    pub injected: FaultCounts,
    pub network: NetStats,
    /// Each invariant and how often it was checked.
    pub invariants: Vec<InvariantCount>,
    /// Breaches (the run stops at the first).
    pub breaches: Vec<Breach>,
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    /// The generated center was refused.
    #[error(transparent)]
    Center(#[from] center::CenterError),
    /// The coordinator core or store refused to start.
    #[error("coordinator: {0}")]
    Coordinator(String),
}

/// Runs one simulation. A breach is in the summary (`breaches`), not an error.
pub fn run(options: &Options) -> Result<Summary, SimulateError> {
    world::World::new(options)?.run()
}
