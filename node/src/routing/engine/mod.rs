//! The router: applies inputs at the instants it is given, keeps the indexes that
//! make each decision cheap, and queues up actions and events.
//!
//! Indexes: every group keeps the set of its *ready* members (by member slot, so
//! iteration order is the linear order), and every group knows which queue rings
//! it serves. A call arriving looks only at the ready members of its open rings; an
//! agent freeing up looks only at the heads of the queues its groups serve. An
//! agent state change touches only that agent's own groups. Nothing ever scans all
//! queues × all members.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet};

use rand::SeedableRng;
use rand::rngs::StdRng;
use thiserror::Error;

use super::agent::{
    AgentRt, AgentStats, Interaction, Phase, Presence, REASON_LOGGED_IN, REASON_MISSED_OFFERS,
};
use super::config::{
    BlacklistAction, ConfigError, FairnessWeights, OverflowWhen, RoutingConfig, WrapUpMode,
};
use super::events::{Action, ActionKind, Event, EventKind, Input};
use super::ewt::{HandleTimeEstimate, estimated_wait_ms};
use super::fairness::{Claim, score};
use super::model::{
    AgentId, AgentState, CallId, Channel, GroupId, OfferEnd, OfferId, OverflowReason, QueueId,
    RejectReason, Strategy,
};
use super::numbers::NumberTable;
use super::queue::{QueueKey, QueueRt, Ring, effective_priority};
use super::sticky::StickyAgents;
use super::strategy::{Candidate, Context, choose};
use super::time::{TimeWindow, Timestamp};

mod agents;
mod calls;
mod install;
mod matching;

/// Longest caller number accepted (E.164 is at most 15 digits plus `+`).
pub const MAX_CALLER_LEN: usize = 32;
/// Longest not-ready reason code accepted.
pub const MAX_REASON_LEN: usize = 64;

/// Highest caller priority accepted on input.
pub const MAX_CALLER_PRIORITY: u8 = 9;

/// An input the engine cannot apply in its current state. Nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RouteError {
    /// The replacement configuration is invalid or would strand calls or agents.
    #[error("configuration rejected: {0}")]
    Config(#[from] ConfigError),
    /// No such queue in the configuration.
    #[error("unknown queue {0}")]
    UnknownQueue(QueueId),
    /// No such agent in the configuration.
    #[error("unknown agent {0}")]
    UnknownAgent(AgentId),
    /// No such call (never arrived, or already finished).
    #[error("unknown call {0}")]
    UnknownCall(CallId),
    /// A call id that is already in use.
    #[error("call {0} already exists")]
    DuplicateCall(CallId),
    /// The offer was already withdrawn, answered or never existed (e.g. a second
    /// agent answering a ring-all the first agent already won).
    #[error("offer {0} is no longer active")]
    OfferNotActive(OfferId),
    /// The agent must log in first.
    #[error("agent {0} is not logged in")]
    NotLoggedIn(AgentId),
    /// The agent has a call or wrap-up in progress.
    #[error("agent {0} has a call or wrap-up in progress")]
    AgentBusy(AgentId),
    /// The call is not in a state where this input applies.
    #[error("call {call}: expected it to be {expected}")]
    WrongCallState {
        /// The call.
        call: CallId,
        /// The state the input needs.
        expected: &'static str,
    },
    /// Mandatory wrap-up cannot be cut short.
    #[error("agent {agent}: mandatory wrap-up runs until {until:?}")]
    WrapUpMandatory {
        /// The agent.
        agent: AgentId,
        /// When it ends.
        until: Timestamp,
    },
    /// Caller priority above the maximum.
    #[error("priority {0} is above the maximum {MAX_CALLER_PRIORITY}")]
    BadPriority(u8),
    /// A text field longer than the engine stores (it would be kept in memory).
    #[error("{field} is longer than {max} bytes")]
    TooLong {
        /// Which input field.
        field: &'static str,
        /// The limit.
        max: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    OfferTimeout(OfferId),
    WrapUpEnd(AgentId, CallId),
    CallCheck(CallId),
    ShiftBoundary,
}

#[derive(Debug, Clone)]
struct Member {
    agent: usize,
    priority: u8,
    proficiency: u8,
    windows: Vec<TimeWindow>,
}

#[derive(Debug, Clone)]
struct GroupRt {
    id: GroupId,
    strategy: Option<Strategy>,
    members: Vec<Member>,
    /// Slots of members who can take work now.
    ready: BTreeSet<usize>,
    /// (queue index, ring index) of every ring this group serves.
    serves: Vec<(usize, usize)>,
}

#[derive(Debug, Clone, PartialEq)]
enum CallState {
    Waiting,
    Offered(Vec<OfferId>),
    Connected {
        agent: AgentId,
        since: Timestamp,
        hold_ms: u64,
        held_since: Option<Timestamp>,
    },
    WrappingUp {
        agent: AgentId,
        talk_ms: u64,
        hold_ms: u64,
    },
}

#[derive(Debug, Clone)]
struct CallRt {
    queue: QueueId,
    key: QueueKey,
    arrival: Timestamp,
    entered_queue: Timestamp,
    caller: Option<String>,
    priority: u8,
    channel: Channel,
    callback: bool,
    callback_offered: bool,
    state: CallState,
    /// Agents who rejected or missed the call, skipped until the instant given.
    declined: Vec<(AgentId, Timestamp)>,
    visited: Vec<QueueId>,
    rings_open: usize,
    next_announce: Option<Timestamp>,
    check_at: Option<Timestamp>,
}

impl CallRt {
    /// Whether `agent` may be offered this call now: capacity left on the call's
    /// channel, and not within the retry delay after declining or missing it.
    fn open_to(&self, agent: &AgentRt, now: Timestamp) -> bool {
        agent.can_take(self.channel)
            && !self
                .declined
                .iter()
                .any(|&(d, until)| d == agent.cfg.id && until > now)
    }
}

/// What a call brings when it enters the engine.
struct NewCall {
    call: CallId,
    queue: QueueId,
    caller: Option<String>,
    priority: u8,
    channel: Channel,
}

#[derive(Debug, Clone, Copy)]
struct OfferRt {
    call: CallId,
    agent: AgentId,
}

/// The ACD routing engine. See the module documentation for how to drive it.
///
/// Maps it walks (calls, offers, last offered) are ordered, so which waiting
/// call an agent gets never depends on hash iteration order: the same inputs
/// give the same decisions in every process (the whole-network simulation
/// replays a seed byte for byte). The hash maps left are lookups only.
#[derive(Debug)]
pub struct Router {
    now: Timestamp,
    fairness: FairnessWeights,
    utc_offset: i16,
    agents: Vec<AgentRt>,
    agent_index: HashMap<AgentId, usize>,
    groups: Vec<GroupRt>,
    queues: Vec<QueueRt>,
    queue_index: HashMap<QueueId, usize>,
    calls: BTreeMap<CallId, CallRt>,
    offers: BTreeMap<OfferId, OfferRt>,
    next_offer: u64,
    timers: BinaryHeap<Reverse<(Timestamp, Timer)>>,
    shift_check: Option<Timestamp>,
    blacklist: NumberTable<BlacklistAction>,
    vips: NumberTable<(u8, Vec<AgentId>)>,
    sticky: StickyAgents,
    last_offered: BTreeMap<(QueueId, GroupId), AgentId>,
    rng: StdRng,
    actions: Vec<Action>,
    events: Vec<Event>,
}

impl Router {
    /// A router with `config`, all agents logged out, no calls, clock at `now`.
    pub fn new(config: RoutingConfig, now: Timestamp) -> Result<Self, ConfigError> {
        let mut router = Router {
            now,
            fairness: config.fairness,
            utc_offset: config.utc_offset_minutes,
            agents: Vec::new(),
            agent_index: HashMap::new(),
            groups: Vec::new(),
            queues: Vec::new(),
            queue_index: HashMap::new(),
            calls: BTreeMap::new(),
            offers: BTreeMap::new(),
            next_offer: 1,
            timers: BinaryHeap::new(),
            shift_check: None,
            blacklist: NumberTable::default(),
            vips: NumberTable::default(),
            sticky: StickyAgents::new(config.sticky_capacity),
            last_offered: BTreeMap::new(),
            rng: StdRng::seed_from_u64(config.random_seed),
            actions: Vec::new(),
            events: Vec::new(),
        };
        router.install(config)?;
        Ok(router)
    }

    /// Applies one input at `now` (clamped so time never runs backwards), after
    /// firing every timer due up to `now`. A refused input changes nothing (the
    /// timers due before `now` have still fired: time has passed either way).
    pub fn handle(&mut self, now: Timestamp, input: Input) -> Result<(), RouteError> {
        self.advance(now);
        match input {
            Input::CallArrived {
                call,
                queue,
                caller,
                priority,
                channel,
            } => {
                let new = NewCall {
                    call,
                    queue,
                    caller,
                    priority,
                    channel,
                };
                self.arrive(new, self.now)
            }
            Input::AgentLogin { agent } => self.login(agent),
            Input::AgentReady { agent } => self.ready(agent),
            Input::AgentNotReady { agent, reason } => self.not_ready(agent, reason),
            Input::AgentLogout { agent } => self.logout(agent),
            Input::OfferAccepted { offer } => self.accept(offer),
            Input::OfferRejected { offer } => {
                let o = *self
                    .offers
                    .get(&offer)
                    .ok_or(RouteError::OfferNotActive(offer))?;
                self.end_offer(offer, OfferEnd::Rejected);
                self.after_offer_ended(o);
                Ok(())
            }
            Input::CallHeld { call } => self.hold(call, true),
            Input::CallResumed { call } => self.hold(call, false),
            Input::CallEnded { call } => self.end_call(call),
            Input::CallAbandoned { call } => self.abandon(call, false),
            Input::CallWithdrawn { call } => self.abandon(call, true),
            Input::WrapUpDone { agent, call } => self.wrap_up_done(agent, call),
            Input::CallbackRequested { call } => self.request_callback(call),
            Input::ConfigReplaced(config) => self.replace_config(*config),
            Input::Tick => Ok(()),
            Input::CallRestored {
                call,
                queue,
                caller,
                priority,
                channel,
                age_ms,
                agent,
            } => {
                let new = NewCall {
                    call,
                    queue,
                    caller,
                    priority,
                    channel,
                };
                let since = self.ago(age_ms);
                match agent {
                    None => self.arrive(new, since),
                    Some(agent) => self.restore_connected(new, since, agent),
                }
            }
        }
    }

    /// When the next timer is due; the driver should send `Input::Tick` then.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.timers.peek().map(|Reverse((t, _))| *t)
    }

    /// The actions decided since the last drain, oldest first.
    pub fn drain_actions(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.actions)
    }

    /// The events recorded since the last drain, oldest first.
    pub fn drain_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// The engine's clock: the latest instant it has been given.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// An agent's visible state.
    pub fn agent_state(&self, agent: AgentId) -> Option<AgentState> {
        self.agent_index
            .get(&agent)
            .map(|&i| self.agents[i].state())
    }

    /// An agent's statistics (answered calls, missed offers in a row, idle since,
    /// in its current state since).
    pub fn agent_stats(&self, agent: AgentId) -> Option<AgentStats> {
        self.agent_index
            .get(&agent)
            .map(|&i| self.agents[i].stats())
    }

    /// Waiting calls of a queue in service order (offered calls are not waiting).
    pub fn waiting(&self, queue: QueueId) -> Vec<CallId> {
        self.queue_index
            .get(&queue)
            .map(|&q| self.queues[q].waiting.iter().map(|k| k.call).collect())
            .unwrap_or_default()
    }

    /// When the longest-waiting call of a queue first queued (waits count from
    /// first queue entry, as the KPIs measure them), so a wallboard can show the
    /// longest wait; `None` if nobody waits. Offered calls are not waiting.
    pub fn oldest_waiting(&self, queue: QueueId) -> Option<Timestamp> {
        let &q = self.queue_index.get(&queue)?;
        self.queues[q].waiting.iter().map(|k| k.arrival).min()
    }

    /// Waiting calls across all queues (wallboards, load shedding).
    pub fn waiting_total(&self) -> usize {
        self.queues.iter().map(|q| q.waiting.len()).sum()
    }

    /// Total number of calls the engine holds (waiting, offered, connected, wrapping up).
    pub fn call_count(&self) -> usize {
        self.calls.len()
    }

    /// Position (1 = next) and estimated wait of a waiting call, as announced.
    pub fn position_and_ewt(&self, call: CallId) -> Option<(u32, Option<u64>)> {
        let c = self.calls.get(&call)?;
        if c.state != CallState::Waiting {
            return None;
        }
        let q = *self.queue_index.get(&c.queue)?;
        let position = self.queues[q].position(&c.key);
        Some((
            position,
            estimated_wait_ms(position, &self.queues[q].aht, self.staffed(c, q)),
        ))
    }

    // ---- clock and timers -------------------------------------------------

    fn advance(&mut self, now: Timestamp) {
        while let Some(&Reverse((at, timer))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            self.now = self.now.max(at);
            self.fire(at, timer);
        }
        self.now = self.now.max(now);
    }

    fn schedule(&mut self, at: Timestamp, timer: Timer) {
        self.timers.push(Reverse((at, timer)));
    }

    /// Timers are never removed; each checks on firing that it is still current.
    fn fire(&mut self, at: Timestamp, timer: Timer) {
        match timer {
            Timer::OfferTimeout(offer) => {
                if let Some(o) = self.offers.get(&offer).copied() {
                    self.end_offer(offer, OfferEnd::TimedOut);
                    self.apply_missed_limit(o.agent);
                    self.after_offer_ended(o);
                }
            }
            Timer::WrapUpEnd(agent, call) => {
                let due = self.agent_index.get(&agent).is_some_and(|&a| {
                    self.agents[a].interactions.iter().any(|i| {
                        i.call == call
                            && matches!(i.phase, Phase::WrapUp { until: Some(u), .. } if u == at)
                    })
                });
                if due {
                    self.complete(call);
                }
            }
            Timer::CallCheck(call) => {
                if self
                    .calls
                    .get(&call)
                    .is_some_and(|c| c.check_at == Some(at))
                {
                    if let Some(c) = self.calls.get_mut(&call) {
                        c.check_at = None;
                    }
                    self.check_call(call);
                }
            }
            Timer::ShiftBoundary => {
                if self.shift_check == Some(at) {
                    self.shift_check = None;
                    let windowed: Vec<usize> = (0..self.agents.len())
                        .filter(|&a| {
                            self.agents[a]
                                .memberships
                                .iter()
                                .any(|&(g, s)| !self.groups[g].members[s].windows.is_empty())
                        })
                        .collect();
                    self.rematch(windowed);
                    self.schedule_shift_boundary();
                }
            }
        }
    }

    fn schedule_shift_boundary(&mut self) {
        let next = self
            .groups
            .iter()
            .flat_map(|g| g.members.iter())
            .flat_map(|m| m.windows.iter())
            .map(|w| w.next_boundary(self.now, self.utc_offset))
            .min();
        if let Some(t) = next
            && self.shift_check != Some(t)
        {
            self.shift_check = Some(t);
            self.schedule(t, Timer::ShiftBoundary);
        }
    }

    // ---- output helpers ---------------------------------------------------

    fn emit(&mut self, kind: EventKind) {
        self.events.push(Event { at: self.now, kind });
    }

    fn act(&mut self, kind: ActionKind) {
        self.actions.push(Action { at: self.now, kind });
    }

    /// Re-indexes an agent in its groups' ready sets and publishes a state change.
    /// Every agent mutation ends here, so the indexes cannot drift from the state.
    fn agent_changed(&mut self, a: usize) {
        let can = self.agents[a].can_take_any();
        if can != self.agents[a].indexed_ready {
            self.agents[a].indexed_ready = can;
            for i in 0..self.agents[a].memberships.len() {
                let (g, slot) = self.agents[a].memberships[i];
                if can {
                    self.groups[g].ready.insert(slot);
                } else {
                    self.groups[g].ready.remove(&slot);
                }
            }
        }
        let state = self.agents[a].state();
        if state != self.agents[a].published {
            self.agents[a].published = state.clone();
            self.agents[a].published_at = self.now;
            let agent = self.agents[a].cfg.id;
            self.emit(EventKind::AgentStateChanged { agent, state });
        }
    }

    fn agent_idx(&self, agent: AgentId) -> Result<usize, RouteError> {
        self.agent_index
            .get(&agent)
            .copied()
            .ok_or(RouteError::UnknownAgent(agent))
    }

    fn in_shift(&self, member: &Member) -> bool {
        member.windows.is_empty()
            || member
                .windows
                .iter()
                .any(|w| w.contains(self.now, self.utc_offset))
    }
}
