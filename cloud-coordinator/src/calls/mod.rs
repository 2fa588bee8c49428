//! Call control: the coordinator half of the [`tandem_node::calls`] contract.
//!
//! [`CallControl`] is sans-IO and deterministic: it wraps one global
//! [`Router`] and turns what gateways report ([`CallUp`]), what agents ask
//! ([`AgentCommand`]), node presence and the passing of time into [`Output`]s:
//! [`CallDown`] commands for sites, relay legs to open or close, and records to
//! persist. Every entry point takes the current [`Timestamp`], so the unit tests
//! drive it with a fake clock and the demo configuration. [`service`] is the thin
//! async shell that owns it in the running coordinator.
//!
//! # Calls, visits and parties
//! A real call (the anchor's [`CallId`]) may visit queues more than once: a blind
//! transfer re-queues it, a consult queues a second request for an expert while
//! the first agent keeps the caller. The Router needs a fresh call id for every
//! visit, so each visit gets a *routing id* and `routes` maps it back to the real
//! call. Parties are numbered per call; party 0 is the line.
//!
//! Module map: `dispatch` (gateway reports and agent commands to their
//! handlers), `decisions` (the Router's actions and events), `control`
//! (arrivals, answers, hold, hang-up, wrap-up), `parties` (joining and leaving,
//! relay legs, tear-down), `restore` (calls rebuilt from their anchors' reports
//! after a restart), `transfer`, `supervision`, `views` (agent views and the
//! center summary), [`service`] (the async shell).

mod control;
mod decisions;
pub mod desk;
mod dispatch;
pub mod journal;
pub mod latency;
mod parties;
pub mod records;
mod restore;
pub mod service;
mod supervision;
mod transfer;
mod views;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use tandem_node::calls::{
    AgentCommand, AgentView, CallDown, CallUp, CenterConfigError, PartyId, PartyRole,
    TransferTarget, ValidCenterConfig,
};
use tandem_node::names::Site;
use tandem_node::routing::{
    AgentId, CallId, Input, OfferId, QueueId, RouteError, Router, Timestamp,
};

pub use records::{Disposition, QueueEvent};
pub use views::{AgentSummary, CenterSummary, QueueSummary, SiteSummary};

/// Caller priority given to a transferred or consulted call, so the caller who
/// already waited once is served before fresh arrivals.
pub const TRANSFER_PRIORITY: u8 = 9;

/// Not-ready reason the Router holds for an agent reserved by a direct (named)
/// transfer, so it offers them nothing else meanwhile.
pub const REASON_TRANSFER: &str = "transfer";
/// Not-ready reason while an agent's own outbound call is up: no inbound call is
/// offered meanwhile, and the agent is ready again when it ends.
pub const REASON_OUTBOUND: &str = "outbound";

/// Not-ready reason set when an agent's seat node goes offline.
pub const REASON_SEAT_OFFLINE: &str = "seat-offline";

/// Ring time of a direct offer when the call's queue does not say.
const DEFAULT_DIRECT_RING_MS: u64 = 15_000;

/// Leg ids call control allocates start here, clear of ids tests or tools pick.
const FIRST_LEG: u32 = 1 << 30;

/// Routing ids (the Router's call ids) start here, clear of anchors' call ids.
const FIRST_ROUTING_ID: u64 = 1 << 62;
/// Longest number an agent may dial.
pub const MAX_DIAL_LEN: usize = 32;

/// Why an input or a command was not carried out.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// Nothing to route with yet.
    #[error("no center configuration is loaded")]
    NotConfigured,
    /// The agent is not in the configuration.
    #[error("unknown agent {0}")]
    UnknownAgent(AgentId),
    /// The agent has no seat in the configuration.
    #[error("agent {0} has no seat")]
    NoSeat(AgentId),
    /// The call is not (or no longer) known.
    #[error("unknown call {0}")]
    UnknownCall(CallId),
    /// The command does not apply now; the text is shown to the agent.
    #[error("{0}")]
    Refused(String),
    /// The Router refused the input.
    #[error("routing: {0}")]
    Route(#[from] RouteError),
    /// The configuration is invalid.
    #[error("configuration: {0}")]
    Config(#[from] CenterConfigError),
    /// The reporting node spoke for another site (see [`crate::authority`]).
    #[error(transparent)]
    NotOurs(#[from] crate::authority::Refusal),
    /// Storage failed.
    #[error("storage: {0}")]
    Store(#[from] crate::store::StoreError),
}

fn refused<T>(why: impl Into<String>) -> Result<T, CallError> {
    Err(CallError::Refused(why.into()))
}

/// One end of a relay leg call control asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegSide {
    /// The node's site.
    pub site: Site,
    /// The line, call or seat the leg attaches to on that node.
    pub endpoint: String,
}

/// What [`CallControl`] asks its shell to do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Send a command to the node of `site`.
    Send {
        /// Destination.
        site: Site,
        /// The command.
        command: CallDown,
    },
    /// Relay a leg between the anchor and a seat's node. Comes before the `Join`
    /// naming it, so the anchor knows the leg when it joins it.
    OpenLeg {
        /// Leg id.
        leg: u32,
        /// The call, for logs.
        call: CallId,
        /// The anchor's end ("call-<id>").
        anchor: LegSide,
        /// The seat's end.
        seat: LegSide,
    },
    /// Stop relaying a leg.
    CloseLeg {
        /// Leg id.
        leg: u32,
    },
    /// Persist a queue event.
    QueueEvent(QueueEvent),
    /// Persist a disposition.
    Disposition(Disposition),
}

/// Which kind of queue visit a routing id is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Visit {
    /// The caller waits for an agent (first arrival or blind transfer).
    Queue,
    /// `from` holds the caller and asks for a colleague (consult transfer).
    Consult { from: AgentId },
}

#[derive(Debug, Clone, Copy)]
struct Route {
    call: CallId,
    visit: Visit,
}

/// A consult in progress on a call.
#[derive(Debug, Clone)]
struct Consult {
    from: AgentId,
    to: TransferTarget,
    /// The consult's queue visit, while it waits or rings.
    routing: Option<CallId>,
    /// The target agent, once ringing directly or answered.
    agent: Option<AgentId>,
    /// True once the target answered.
    answered: bool,
}

/// A participant (other than the line) of a call.
#[derive(Debug, Clone)]
struct Party {
    agent: AgentId,
    role: PartyRole,
    leg: Option<u32>,
    /// A supervisor (not counted as the call's agent).
    supervisor: bool,
    /// The Router visit this agent is connected on; `None` for a direct transfer
    /// or a supervisor.
    routing: Option<CallId>,
}

/// What the coordinator knows of a real call.
#[derive(Debug, Clone)]
struct CallRec {
    anchor: Site,
    caller: Option<String>,
    /// The queue it waits in or was last served from.
    queue: QueueId,
    next_party: u32,
    parties: BTreeMap<PartyId, Party>,
    /// The caller hears music on hold.
    held: bool,
    /// The main queue visit while the caller waits for an agent.
    waiting: Option<CallId>,
    consult: Option<Consult>,
    /// The caller took a callback: the line is gone, the request stays queued.
    callback: bool,
    /// A callback being dialled: the agent (and their Router visit) joins when
    /// the far end answers.
    dial: Option<(AgentId, Option<CallId>)>,
}

impl CallRec {
    /// A call anchored at `anchor`, with no party but the line yet.
    fn new(anchor: Site, caller: Option<String>, queue: QueueId) -> CallRec {
        CallRec {
            anchor,
            caller,
            queue,
            next_party: 1,
            parties: BTreeMap::new(),
            held: false,
            waiting: None,
            consult: None,
            callback: false,
            dial: None,
        }
    }

    /// Agent (non-supervisor) parties.
    fn agents(&self) -> impl Iterator<Item = (PartyId, &Party)> {
        self.parties
            .iter()
            .filter(|(_, p)| !p.supervisor)
            .map(|(id, p)| (*id, p))
    }

    fn party_of(&self, agent: AgentId) -> Option<PartyId> {
        self.parties
            .iter()
            .find(|(_, p)| p.agent == agent)
            .map(|(id, _)| *id)
    }
}

/// How an agent's offer is tracked.
#[derive(Debug, Clone, Copy)]
enum Ring {
    /// Offered by the Router.
    Routed { offer: OfferId, routing: CallId },
    /// Offered directly (transfer to a named agent), timed out by us.
    Direct { deadline: Timestamp, visit: Visit },
}

/// An agent's relation to a call.
#[derive(Debug, Clone)]
enum Desk {
    Ringing {
        call: CallId,
        ring: Ring,
    },
    Talking {
        call: CallId,
        party: PartyId,
    },
    /// A callback being dialled; the agent joins when the far end answers.
    Dialling {
        call: CallId,
    },
    /// After-call work in the Router; the disposition goes to `call`.
    WrapUp {
        call: CallId,
        routing: CallId,
        caller: Option<String>,
        queue: QueueId,
    },
}

/// A supervisor's current supervision.
#[derive(Debug, Clone, Copy)]
struct Supervising {
    call: CallId,
    party: PartyId,
    agent: AgentId,
}

/// The sans-IO call-control core. See the module documentation.
#[derive(Debug)]
pub struct CallControl {
    config: ValidCenterConfig,
    version: u64,
    router: Router,
    now: Timestamp,
    calls: BTreeMap<CallId, CallRec>,
    routes: BTreeMap<CallId, Route>,
    desks: BTreeMap<AgentId, Desk>,
    supervising: BTreeMap<AgentId, Supervising>,
    /// The last call each agent handled, for a disposition entered after the
    /// Router ended wrap-up on its own.
    last_call: BTreeMap<AgentId, CallId>,
    views: BTreeMap<AgentId, AgentView>,
    dirty: BTreeSet<AgentId>,
    refusals: BTreeMap<AgentId, String>,
    online: BTreeSet<Site>,
    next_routing: u64,
    /// Low bits of the next outbound call id.
    next_outbound: u16,
    next_leg: u32,
    /// Legs of restored calls whose seat node is not back yet.
    unopened_legs: BTreeSet<u32>,
    out: Vec<Output>,
    stats: views::Stats,
}

impl CallControl {
    /// A core routing with `config` (stored as `version`), clock at `now`.
    pub fn new(config: ValidCenterConfig, version: u64, now: Timestamp) -> Result<Self, CallError> {
        let router = Router::new(config.config().routing.clone(), now)
            .map_err(|e| CallError::Config(e.into()))?;
        Ok(CallControl {
            config,
            version,
            router,
            now,
            calls: BTreeMap::new(),
            routes: BTreeMap::new(),
            desks: BTreeMap::new(),
            supervising: BTreeMap::new(),
            last_call: BTreeMap::new(),
            views: BTreeMap::new(),
            dirty: BTreeSet::new(),
            refusals: BTreeMap::new(),
            online: BTreeSet::new(),
            next_routing: FIRST_ROUTING_ID,
            next_outbound: 0,
            next_leg: FIRST_LEG,
            unopened_legs: BTreeSet::new(),
            out: Vec::new(),
            stats: views::Stats::default(),
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &ValidCenterConfig {
        &self.config
    }

    /// Its stored version.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Applies a new configuration live: waiting calls keep their places, agents
    /// their statistics (the Router's guarantee). Refused, with nothing changed,
    /// if the Router would strand a call or a logged-in agent.
    pub fn replace_config(
        &mut self,
        config: ValidCenterConfig,
        version: u64,
        now: Timestamp,
    ) -> Result<(), CallError> {
        self.now = self.now.max(now);
        let routing = Box::new(config.config().routing.clone());
        self.router
            .handle(self.now, Input::ConfigReplaced(routing))?;
        self.config = config;
        self.version = version;
        self.pump();
        self.flush_views();
        Ok(())
    }

    /// What to do, oldest first.
    pub fn drain(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.out)
    }

    /// When [`CallControl::tick`] must run next (Router timers, direct offers).
    pub fn next_deadline(&self) -> Option<Timestamp> {
        let direct = self.desks.values().filter_map(|d| match d {
            Desk::Ringing {
                ring: Ring::Direct { deadline, .. },
                ..
            } => Some(*deadline),
            _ => None,
        });
        self.router.next_deadline().into_iter().chain(direct).min()
    }

    /// Lets time pass: Router timers (offer timeouts, wrap-up ends,
    /// announcements, overflow) and direct-offer timeouts fire.
    pub fn tick(&mut self, now: Timestamp) {
        self.now = self.now.max(now);
        self.route_logged(Input::Tick);
        let expired: Vec<AgentId> = self
            .desks
            .iter()
            .filter_map(|(a, d)| match d {
                Desk::Ringing {
                    ring: Ring::Direct { deadline, .. },
                    ..
                } if *deadline <= self.now => Some(*a),
                _ => None,
            })
            .collect();
        for agent in expired {
            self.direct_offer_ended(agent, tandem_node::routing::OfferEnd::TimedOut);
        }
        self.flush_views();
    }

    /// A gateway at `site` reported `up`.
    pub fn call_up(&mut self, now: Timestamp, site: &Site, up: CallUp) -> Result<(), CallError> {
        self.now = self.now.max(now);
        let result = self.dispatch_up(site, up);
        self.flush_views();
        result
    }

    /// An agent's command, from their seat or from the API. A refusal is also
    /// sent to the agent's seat as `AgentUpdate { refused }`.
    pub fn agent_command(
        &mut self,
        now: Timestamp,
        agent: AgentId,
        command: AgentCommand,
    ) -> Result<AgentView, CallError> {
        self.now = self.now.max(now);
        if self
            .config
            .config()
            .routing
            .agents
            .iter()
            .all(|a| a.id != agent)
        {
            return Err(CallError::UnknownAgent(agent));
        }
        let span = tracing::debug_span!("agent_command", agent = %agent);
        let _enter = span.enter();
        // Seats' commands arrive here without passing the API's checks; a value
        // over its limit would reach other nodes' frames.
        let result = tandem_node::limits::check_agent_command(&command)
            .map_err(|e| CallError::Refused(e.to_string()))
            .and_then(|()| self.command(agent, command));
        if let Err(e) = &result {
            tracing::info!(err = %e, "agent command refused");
            self.refusals.insert(agent, e.to_string());
        }
        self.dirty.insert(agent);
        self.flush_views();
        result.map(|()| self.view(agent))
    }

    /// The node of `site` is online: its agents may work again, the restored
    /// calls' legs to its seats open, and its seats get the coordinator's view
    /// of their agents again (while alone they showed the node's own, and a
    /// view pushed while it was away was lost).
    pub fn node_online(&mut self, now: Timestamp, site: &Site) {
        self.now = self.now.max(now);
        self.online.insert(site.clone());
        self.open_waiting_legs(site);
        for agent in self.seated_at(site) {
            self.views.remove(&agent);
            self.dirty.insert(agent);
        }
        self.flush_views();
    }

    /// The agents whose seat is on the node of `site`.
    fn seated_at(&self, site: &Site) -> Vec<AgentId> {
        self.config
            .config()
            .seats
            .iter()
            .filter(|s| &s.site == site)
            .map(|s| s.agent)
            .collect()
    }

    /// The node of `site` went away: calls anchored there continue on the box
    /// alone (the coordinator forgets them; the CDR arrives by upload later),
    /// agents seated there stop getting offers and leave calls anchored elsewhere.
    pub fn node_offline(&mut self, now: Timestamp, site: &Site) {
        self.now = self.now.max(now);
        self.online.remove(site);
        let anchored: Vec<CallId> = self
            .calls
            .iter()
            .filter(|(_, c)| &c.anchor == site)
            .map(|(id, _)| *id)
            .collect();
        for call in anchored {
            self.hand_over(call);
        }
        for agent in self.seated_at(site) {
            self.seat_lost(agent);
        }
        self.flush_views();
    }

    /// The global router, read-only: the whole-network simulation checks its
    /// invariants (no waiting call beside a free agent, kept queue ages) on it.
    pub fn router(&self) -> &Router {
        &self.router
    }

    /// Whether the real call is known here (waiting, ringing or connected).
    pub fn knows(&self, call: CallId) -> bool {
        self.calls.contains_key(&call)
    }

    /// The real call behind a Router call id (a queue visit).
    pub fn call_of_visit(&self, routing: CallId) -> Option<CallId> {
        self.routes.get(&routing).map(|r| r.call)
    }

    /// The sites whose nodes are online.
    pub fn online_sites(&self) -> impl Iterator<Item = &Site> {
        self.online.iter()
    }

    // ---- plumbing ------------------------------------------------------------

    fn send(&mut self, site: &Site, command: CallDown) {
        self.out.push(Output::Send {
            site: site.clone(),
            command,
        });
    }

    /// Sends `command` to the anchor of `call` (if the call is known).
    fn tell_anchor(&mut self, call: CallId, command: CallDown) {
        if let Some(site) = self.calls.get(&call).map(|c| c.anchor.clone()) {
            self.send(&site, command);
        }
    }

    fn fresh_routing(&mut self, call: CallId, visit: Visit) -> CallId {
        let id = CallId(self.next_routing);
        self.next_routing += 1;
        self.routes.insert(id, Route { call, visit });
        id
    }

    fn fresh_leg(&mut self) -> u32 {
        let leg = self.next_leg;
        self.next_leg = self.next_leg.checked_add(1).unwrap_or(FIRST_LEG);
        leg
    }

    /// Asks for relay leg `leg` of `call` between its anchor and a seat.
    fn open_leg(&mut self, leg: u32, call: CallId, anchor: Site, site: Site, endpoint: String) {
        self.out.push(Output::OpenLeg {
            leg,
            call,
            anchor: LegSide {
                site: anchor,
                endpoint: format!("call-{call}"),
            },
            seat: LegSide { site, endpoint },
        });
    }

    /// Feeds the Router an input the core itself decided on and carries out what
    /// follows. Such inputs follow the core's own bookkeeping, so a refusal means
    /// the two disagree: logged, never fatal.
    fn route(&mut self, input: Input) -> Result<(), RouteError> {
        let result = self.router.handle(self.now, input);
        if let Err(e) = &result {
            tracing::debug!(err = %e, "router refused an input");
        }
        self.pump();
        result
    }

    fn route_logged(&mut self, input: Input) {
        if let Err(e) = self.route(input) {
            tracing::warn!(err = %e, "router and call control disagree");
        }
    }
}
