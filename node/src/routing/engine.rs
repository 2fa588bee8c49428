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
use std::collections::{BTreeSet, BinaryHeap, HashMap, HashSet};

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

#[derive(Debug, Clone, Copy)]
struct OfferRt {
    call: CallId,
    agent: AgentId,
}

/// The ACD routing engine. See the module documentation for how to drive it.
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
    calls: HashMap<CallId, CallRt>,
    offers: HashMap<OfferId, OfferRt>,
    next_offer: u64,
    timers: BinaryHeap<Reverse<(Timestamp, Timer)>>,
    shift_check: Option<Timestamp>,
    blacklist: NumberTable<BlacklistAction>,
    vips: NumberTable<(u8, Vec<AgentId>)>,
    sticky: StickyAgents,
    last_offered: HashMap<(QueueId, GroupId), AgentId>,
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
            calls: HashMap::new(),
            offers: HashMap::new(),
            next_offer: 1,
            timers: BinaryHeap::new(),
            shift_check: None,
            blacklist: NumberTable::default(),
            vips: NumberTable::default(),
            sticky: StickyAgents::new(config.sticky_capacity),
            last_offered: HashMap::new(),
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
            } => self.arrive(call, queue, caller, priority, channel),
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
            Input::CallAbandoned { call } => self.abandon(call),
            Input::WrapUpDone { agent, call } => self.wrap_up_done(agent, call),
            Input::CallbackRequested { call } => self.request_callback(call),
            Input::ConfigReplaced(config) => self.replace_config(*config),
            Input::Tick => Ok(()),
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

    /// An agent's statistics (answered calls, missed offers in a row, idle since).
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

    // ---- calls arriving and moving between queues ---------------------------

    fn arrive(
        &mut self,
        call: CallId,
        queue: QueueId,
        caller: Option<String>,
        priority: u8,
        channel: Channel,
    ) -> Result<(), RouteError> {
        if self.calls.contains_key(&call) {
            return Err(RouteError::DuplicateCall(call));
        }
        let mut q = *self
            .queue_index
            .get(&queue)
            .ok_or(RouteError::UnknownQueue(queue))?;
        if priority > MAX_CALLER_PRIORITY {
            return Err(RouteError::BadPriority(priority));
        }
        let number = caller.as_deref().unwrap_or_default();
        let mut priority = priority;
        if let Some((vip_priority, _)) = self.vips.lookup(number) {
            priority = priority.max(*vip_priority);
        }
        if let Some(&action) = self.blacklist.lookup(number) {
            if let BlacklistAction::RouteTo(target) = action {
                q = *self
                    .queue_index
                    .get(&target)
                    .ok_or(RouteError::UnknownQueue(target))?;
            }
            self.emit(EventKind::Blacklisted { call, action });
            if action == BlacklistAction::Reject {
                self.reject(call, RejectReason::Blacklisted);
                return Ok(());
            }
        }
        let queue_id = self.queues[q].cfg.id;
        self.calls.insert(
            call,
            CallRt {
                queue: queue_id,
                key: QueueKey::new(&self.queues[q].cfg, priority, self.now, call),
                arrival: self.now,
                entered_queue: self.now,
                caller,
                priority,
                channel,
                callback: false,
                callback_offered: false,
                state: CallState::Waiting,
                declined: Vec::new(),
                visited: Vec::new(),
                rings_open: 0,
                next_announce: None,
                check_at: None,
            },
        );
        self.emit(EventKind::Queued {
            call,
            queue: queue_id,
            priority,
            channel,
        });
        self.enter_queue(call, q);
        Ok(())
    }

    fn reject(&mut self, call: CallId, reason: RejectReason) {
        self.calls.remove(&call);
        self.act(ActionKind::Reject { call, reason });
        self.emit(EventKind::Rejected { call, reason });
    }

    /// Puts a call (already removed from any waiting set) into queue `q`, following
    /// entry-time overflow rules; then tries to offer it and arms its timers.
    fn enter_queue(&mut self, call: CallId, mut q: usize) {
        loop {
            let Some(c) = self.calls.get_mut(&call) else {
                return;
            };
            let queue = &self.queues[q];
            c.visited.push(queue.cfg.id);
            c.queue = queue.cfg.id;
            c.entered_queue = self.now;
            c.key = QueueKey::new(&queue.cfg, c.priority, c.arrival, call);
            c.rings_open = queue.rings_open(self.now.since(c.arrival));
            c.state = CallState::Waiting;
            c.next_announce = queue.cfg.announce_every_ms.map(|_| self.now);
            let visited = c.visited.clone();
            let overflow_to = |when: fn(&OverflowWhen) -> bool| {
                queue
                    .cfg
                    .overflow
                    .iter()
                    .find(|o| when(&o.when) && !visited.contains(&o.target))
                    .map(|o| o.target)
            };
            let (reason, target) = if !self.has_room(q) {
                match overflow_to(|w| *w == OverflowWhen::Full) {
                    Some(t) => (OverflowReason::QueueFull, t),
                    None => {
                        self.reject(call, RejectReason::QueueFull);
                        return;
                    }
                }
            } else {
                let has_room =
                    |t: &QueueId| self.queue_index.get(t).is_some_and(|&tq| self.has_room(tq));
                match overflow_to(|w| *w == OverflowWhen::NoReadyAgents) {
                    Some(t) if has_room(&t) && self.candidates(call).is_none() => {
                        (OverflowReason::NoReadyAgents, t)
                    }
                    _ => break,
                }
            };
            let from = self.queues[q].cfg.id;
            self.moved(call, from, target, reason);
            let Some(&next) = self.queue_index.get(&target) else {
                return;
            };
            q = next;
        }
        let Some(key) = self.calls.get(&call).map(|c| c.key) else {
            return;
        };
        self.queues[q].waiting.insert(key);
        self.match_call(call);
        self.check_call(call);
    }

    /// Records an overflow and tells the executing node (which may play a message
    /// and, in a cluster, hand the call to the target queue's owner).
    fn moved(&mut self, call: CallId, from: QueueId, to: QueueId, reason: OverflowReason) {
        self.act(ActionKind::Overflow { call, from, to });
        self.emit(EventKind::Overflowed {
            call,
            from,
            to,
            reason,
        });
    }

    /// Whether queue `q` can take one more waiting call.
    fn has_room(&self, q: usize) -> bool {
        let queue = &self.queues[q];
        queue
            .cfg
            .max_waiting
            .is_none_or(|m| queue.waiting.len() < m as usize)
    }

    /// Timed work for a waiting call: overflow on wait, widening, retry of agents
    /// who declined, announcements; then re-arms the next check.
    fn check_call(&mut self, call: CallId) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        if c.state != CallState::Waiting {
            return;
        }
        let Some(&q) = self.queue_index.get(&c.queue) else {
            return;
        };
        let now = self.now;
        let age = now.since(c.arrival);
        let queue = &self.queues[q];
        let mut overflow = queue.cfg.overflow.iter().find_map(|o| match o.when {
            OverflowWhen::WaitExceedsMs(ms) if !c.visited.contains(&o.target) => {
                Some((c.entered_queue.plus(ms), o.target))
            }
            _ => None,
        });
        if let Some((deadline, target)) = overflow
            && deadline <= now
        {
            match self.queue_index.get(&target) {
                Some(&next) if self.has_room(next) => {
                    let (from, key) = (queue.cfg.id, c.key);
                    self.queues[q].waiting.remove(&key);
                    self.moved(call, from, target, OverflowReason::WaitExceeded);
                    self.enter_queue(call, next);
                    return;
                }
                // A full target would only bounce the caller: stay, keep the place.
                _ => {
                    if let Some(c) = self.calls.get_mut(&call) {
                        c.visited.push(target);
                    }
                    overflow = None;
                }
            }
        }
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let queue = &self.queues[q];
        let rings_open = queue.rings_open(age);
        let next_ring = queue.next_ring_after(age).map(|a| c.arrival.plus(a));
        let announce_every = queue.cfg.announce_every_ms;
        let queue_id = queue.cfg.id;
        let mut changed = false;
        if let Some(c) = self.calls.get_mut(&call) {
            if rings_open > c.rings_open {
                c.rings_open = rings_open;
                changed = true;
                self.events.push(Event {
                    at: now,
                    kind: EventKind::Widened {
                        call,
                        queue: queue_id,
                        rings_open: rings_open as u32,
                    },
                });
            }
            let before = c.declined.len();
            c.declined.retain(|&(_, until)| until > now);
            changed |= c.declined.len() != before;
        }
        if self
            .calls
            .get(&call)
            .and_then(|c| c.next_announce)
            .is_some_and(|t| t <= now)
        {
            self.announce(call, q);
            if let Some(c) = self.calls.get_mut(&call) {
                c.next_announce = announce_every.map(|every| now.plus(every));
            }
        }
        if changed {
            self.match_call(call);
        }
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.state != CallState::Waiting {
            return;
        }
        let next = [
            overflow.map(|(deadline, _)| deadline),
            next_ring,
            c.next_announce,
            c.declined.iter().map(|&(_, until)| until).min(),
        ]
        .into_iter()
        .flatten()
        .min();
        if let Some(t) = next
            && c.check_at.is_none_or(|old| t < old)
        {
            c.check_at = Some(t);
            self.schedule(t, Timer::CallCheck(call));
        }
    }

    fn announce(&mut self, call: CallId, q: usize) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        if c.callback {
            return;
        }
        let position = self.queues[q].position(&c.key);
        let ewt_ms = estimated_wait_ms(position, &self.queues[q].aht, self.staffed(c, q));
        self.act(ActionKind::Announce {
            call,
            position,
            ewt_ms,
        });
        let threshold = self.queues[q].cfg.callback_when_ewt_over_ms;
        if let (Some(threshold), Some(ewt_ms)) = (threshold, ewt_ms)
            && ewt_ms > threshold
            && let Some(c) = self.calls.get_mut(&call)
            && !c.callback_offered
        {
            c.callback_offered = true;
            self.act(ActionKind::OfferCallback { call, ewt_ms });
            self.emit(EventKind::CallbackOffered { call, ewt_ms });
        }
    }

    /// Distinct agents staffing the call's open rings: logged in, not on a break, in shift.
    fn staffed(&self, c: &CallRt, q: usize) -> usize {
        let mut seen = HashSet::new();
        for ring in &self.queues[q].rings[..c.rings_open] {
            for m in &self.groups[ring.group].members {
                if m.proficiency >= ring.min_proficiency
                    && self.agents[m.agent].presence == Presence::Ready
                    && self.in_shift(m)
                {
                    seen.insert(m.agent);
                }
            }
        }
        seen.len()
    }

    // ---- matching -----------------------------------------------------------

    /// Ready, eligible agents for a waiting call: from the first open ring that has
    /// any (inner rings first, the bullseye), with that ring's group index.
    fn candidates(&self, call: CallId) -> Option<(usize, Vec<Candidate>)> {
        let c = self.calls.get(&call)?;
        let q = *self.queue_index.get(&c.queue)?;
        for ring in &self.queues[q].rings[..c.rings_open] {
            let group = &self.groups[ring.group];
            let found: Vec<Candidate> = group
                .ready
                .iter()
                .filter_map(|&slot| {
                    let m = &group.members[slot];
                    let agent = &self.agents[m.agent];
                    let eligible = m.proficiency >= ring.min_proficiency
                        && c.open_to(agent, self.now)
                        && self.in_shift(m);
                    eligible.then_some(Candidate {
                        agent: m.agent,
                        id: agent.cfg.id,
                        slot,
                        priority: m.priority,
                        proficiency: m.proficiency,
                        answered: agent.answered,
                        idle_since: agent.idle_since,
                    })
                })
                .collect();
            if !found.is_empty() {
                return Some((ring.group, found));
            }
        }
        None
    }

    /// Offers a waiting call to the agent(s) its strategy picks, if any is ready.
    fn match_call(&mut self, call: CallId) {
        let Some((g, found)) = self.candidates(call) else {
            return;
        };
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let Some(&q) = self.queue_index.get(&c.queue) else {
            return;
        };
        let strategy = self.groups[g]
            .strategy
            .unwrap_or(self.queues[q].cfg.strategy);
        let group_id = self.groups[g].id;
        let mut preferred = Vec::new();
        if let Some(number) = c.caller.as_deref() {
            if let Some((_, agents)) = self.vips.lookup(number) {
                preferred.extend_from_slice(agents);
            }
            preferred.extend(self.sticky.get(number));
        }
        let last_slot = self
            .last_offered
            .get(&(c.queue, group_id))
            .and_then(|last| {
                let a = *self.agent_index.get(last)?;
                self.agents[a]
                    .memberships
                    .iter()
                    .find(|&&(mg, _)| mg == g)
                    .map(|&(_, s)| s)
            });
        let ctx = Context {
            last_slot,
            preferred: &preferred,
            rng: &mut self.rng,
        };
        let chosen: Vec<usize> = choose(strategy, &found, ctx)
            .into_iter()
            .map(|i| found[i].agent)
            .collect();
        self.offer(call, q, g, &chosen);
    }

    /// The best call an agent could take now, by the fairness score, with the
    /// group it would be served through.
    fn best_call_for(&self, a: usize) -> Option<(f64, CallId, usize)> {
        let agent = &self.agents[a];
        let idle_ms = self.now.since(agent.idle_since);
        let mut best: Option<(f64, Timestamp, CallId, usize)> = None;
        for &(g, slot) in &agent.memberships {
            let member = &self.groups[g].members[slot];
            if !self.in_shift(member) {
                continue;
            }
            for &(q, r) in &self.groups[g].serves {
                let queue = &self.queues[q];
                let ring = queue.rings[r];
                if member.proficiency < ring.min_proficiency {
                    continue;
                }
                // Queue order first: the first eligible call is this queue's claim.
                let head = queue.waiting.iter().find_map(|key| {
                    let c = self.calls.get(&key.call)?;
                    let eligible =
                        self.now.since(c.arrival) >= ring.after_ms && c.open_to(agent, self.now);
                    eligible.then_some((key.call, c))
                });
                let Some((call, c)) = head else { continue };
                let claim = Claim {
                    queue_priority: queue.cfg.priority,
                    effective_priority: effective_priority(
                        &queue.cfg, c.priority, c.arrival, self.now,
                    ),
                    age_ms: self.now.since(c.arrival),
                    proficiency: member.proficiency,
                    agent_idle_ms: idle_ms,
                };
                let s = score(&self.fairness, &claim);
                let better = match best {
                    None => true,
                    Some((bs, barrival, bcall, _)) => {
                        s > bs || (s == bs && (c.arrival, call) < (barrival, bcall))
                    }
                };
                if better {
                    best = Some((s, c.arrival, call, g));
                }
            }
        }
        best.map(|(s, _, call, g)| (s, call, g))
    }

    /// Gives a freed agent the best waiting calls, as many as their capacity allows.
    fn match_agent(&mut self, a: usize) {
        while self.agents[a].can_take_any() {
            let Some((_, call, g)) = self.best_call_for(a) else {
                return;
            };
            let Some(&q) = self
                .calls
                .get(&call)
                .and_then(|c| self.queue_index.get(&c.queue))
            else {
                return;
            };
            self.offer(call, q, g, &[a]);
        }
    }

    /// Matches many free agents at once (after a config change or shift boundary):
    /// the (agent, call) pair with the highest score goes first, so the idle-time
    /// term decides between agents competing for the same call.
    fn rematch(&mut self, agents: Vec<usize>) {
        let mut heap: BinaryHeap<(OrdF64, Reverse<usize>)> = agents
            .into_iter()
            .filter_map(|a| {
                self.best_call_for(a)
                    .map(|(s, _, _)| (OrdF64(s), Reverse(a)))
            })
            .collect();
        while let Some((OrdF64(s), Reverse(a))) = heap.pop() {
            let Some((now_score, call, g)) = self.best_call_for(a) else {
                continue;
            };
            if now_score < s {
                // Its best call went to someone else; requeue with the new claim.
                heap.push((OrdF64(now_score), Reverse(a)));
                continue;
            }
            let Some(&q) = self
                .calls
                .get(&call)
                .and_then(|c| self.queue_index.get(&c.queue))
            else {
                continue;
            };
            self.offer(call, q, g, &[a]);
            if let Some((next, _, _)) = self.best_call_for(a) {
                heap.push((OrdF64(next), Reverse(a)));
            }
        }
    }

    /// Offers a waiting call to `agents` (several only for ring-all).
    fn offer(&mut self, call: CallId, q: usize, g: usize, agents: &[usize]) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.state != CallState::Waiting || agents.is_empty() {
            return;
        }
        self.queues[q].waiting.remove(&c.key);
        let ids: Vec<OfferId> = (0..agents.len() as u64)
            .map(|i| OfferId(self.next_offer + i))
            .collect();
        self.next_offer += agents.len() as u64;
        c.state = CallState::Offered(ids.clone());
        let (channel, callback) = (c.channel, c.callback);
        let queue = self.queues[q].cfg.id;
        let group = self.groups[g].id;
        let timeout_ms = self.queues[q].cfg.offer_timeout_ms;
        for (&a, &offer) in agents.iter().zip(&ids) {
            let agent = self.agents[a].cfg.id;
            self.agents[a].interactions.push(Interaction {
                call,
                channel,
                phase: Phase::Offered(offer),
            });
            self.offers.insert(offer, OfferRt { call, agent });
            self.last_offered.insert((queue, group), agent);
            self.act(ActionKind::Offer {
                offer,
                call,
                agent,
                queue,
                channel,
                callback,
                timeout_ms,
            });
            self.emit(EventKind::Offered {
                offer,
                call,
                agent,
                queue,
            });
            self.schedule(self.now.plus(timeout_ms), Timer::OfferTimeout(offer));
            self.agent_changed(a);
        }
    }

    /// Withdraws one offer. A rejected or timed-out agent is skipped for this call
    /// for a while; when the call's last offer ends it returns to its old place.
    fn end_offer(&mut self, offer: OfferId, how: OfferEnd) {
        let Some(o) = self.offers.remove(&offer) else {
            return;
        };
        if how != OfferEnd::Rejected {
            self.act(ActionKind::CancelOffer {
                offer,
                call: o.call,
                agent: o.agent,
            });
        }
        self.emit(EventKind::OfferEnded {
            offer,
            call: o.call,
            agent: o.agent,
            how,
        });
        if let Some(&a) = self.agent_index.get(&o.agent) {
            self.agents[a].remove_interaction(o.call);
            if how == OfferEnd::TimedOut {
                self.agents[a].missed_in_row += 1;
            }
            self.agent_changed(a);
        }
        let Some(c) = self.calls.get_mut(&o.call) else {
            return;
        };
        if how != OfferEnd::Cancelled
            && let Some(&q) = self.queue_index.get(&c.queue)
        {
            let retry = self.queues[q].cfg.retry_same_agent_after_ms;
            c.declined.push((o.agent, self.now.plus(retry)));
        }
        if let CallState::Offered(ids) = &mut c.state {
            ids.retain(|&i| i != offer);
            if ids.is_empty() {
                c.state = CallState::Waiting;
                let key = c.key;
                if let Some(&q) = self.queue_index.get(&c.queue) {
                    self.queues[q].waiting.insert(key);
                }
            }
        }
    }

    /// Sets an agent not ready after too many offers in a row went unanswered, and
    /// withdraws whatever else is ringing there (their calls go back in place).
    fn apply_missed_limit(&mut self, agent: AgentId) {
        let Some(&a) = self.agent_index.get(&agent) else {
            return;
        };
        let rt = &mut self.agents[a];
        if rt.presence == Presence::Ready && rt.missed_in_row >= rt.cfg.max_missed_offers {
            rt.presence = Presence::NotReady(REASON_MISSED_OFFERS.to_string());
            self.withdraw_offers(a);
        }
    }

    /// After an offer ended: the call (if back in queue) and the agent look for new partners.
    fn after_offer_ended(&mut self, o: OfferRt) {
        if self
            .calls
            .get(&o.call)
            .is_some_and(|c| c.state == CallState::Waiting)
        {
            self.match_call(o.call);
            self.check_call(o.call);
        }
        if let Some(&a) = self.agent_index.get(&o.agent) {
            self.match_agent(a);
        }
    }

    // ---- offers answered, calls in progress ----------------------------------

    fn accept(&mut self, offer: OfferId) -> Result<(), RouteError> {
        let o = *self
            .offers
            .get(&offer)
            .ok_or(RouteError::OfferNotActive(offer))?;
        let a = self.agent_idx(o.agent)?;
        let c = self
            .calls
            .get_mut(&o.call)
            .ok_or(RouteError::UnknownCall(o.call))?;
        let ids = match &c.state {
            CallState::Offered(ids) if ids.contains(&offer) => ids.clone(),
            _ => return Err(RouteError::OfferNotActive(offer)),
        };
        c.state = CallState::Connected {
            agent: o.agent,
            since: self.now,
            hold_ms: 0,
            held_since: None,
        };
        let (queue, waited_ms, callback) = (c.queue, self.now.since(c.arrival), c.callback);
        let caller = c.caller.clone();
        self.offers.remove(&offer);
        let losers: Vec<OfferRt> = ids
            .iter()
            .filter(|&&i| i != offer)
            .filter_map(|i| self.offers.get(i).copied())
            .collect();
        for &other in ids.iter().filter(|&&i| i != offer) {
            self.end_offer(other, OfferEnd::Cancelled);
        }
        let agent = &mut self.agents[a];
        if let Some(i) = agent.interaction_mut(o.call) {
            i.phase = Phase::Connected;
        }
        agent.missed_in_row = 0;
        agent.answered += 1;
        if let Some(number) = caller {
            self.sticky.remember(&number, o.agent);
        }
        self.emit(EventKind::Answered {
            offer,
            call: o.call,
            agent: o.agent,
            queue,
            waited_ms,
            callback,
        });
        self.agent_changed(a);
        for loser in losers {
            if let Some(&l) = self.agent_index.get(&loser.agent) {
                self.match_agent(l);
            }
        }
        Ok(())
    }

    fn hold(&mut self, call: CallId, hold: bool) -> Result<(), RouteError> {
        let now = self.now;
        let c = self
            .calls
            .get_mut(&call)
            .ok_or(RouteError::UnknownCall(call))?;
        let CallState::Connected {
            hold_ms,
            held_since,
            ..
        } = &mut c.state
        else {
            return Err(RouteError::WrongCallState {
                call,
                expected: "connected",
            });
        };
        match (hold, *held_since) {
            (true, None) => *held_since = Some(now),
            (false, Some(since)) => {
                *hold_ms += now.since(since);
                *held_since = None;
            }
            _ => return Ok(()),
        }
        self.emit(if hold {
            EventKind::Held { call }
        } else {
            EventKind::Resumed { call }
        });
        Ok(())
    }

    fn end_call(&mut self, call: CallId) -> Result<(), RouteError> {
        let now = self.now;
        let c = self
            .calls
            .get_mut(&call)
            .ok_or(RouteError::UnknownCall(call))?;
        let CallState::Connected {
            agent,
            since,
            mut hold_ms,
            held_since,
        } = c.state
        else {
            return Err(RouteError::WrongCallState {
                call,
                expected: "connected",
            });
        };
        let a = *self
            .agent_index
            .get(&agent)
            .ok_or(RouteError::UnknownAgent(agent))?;
        hold_ms += held_since.map_or(0, |h| now.since(h));
        let talk_ms = now.since(since).saturating_sub(hold_ms);
        c.state = CallState::WrappingUp {
            agent,
            talk_ms,
            hold_ms,
        };
        let queue = c.queue;
        self.emit(EventKind::Ended {
            call,
            agent,
            talk_ms,
            hold_ms,
        });
        let policy = match (self.agents[a].cfg.wrap_up, self.queue_index.get(&queue)) {
            (Some(p), _) => p,
            (None, Some(&q)) => self.queues[q].cfg.wrap_up,
            (None, None) => Default::default(),
        };
        let until = match policy.mode {
            WrapUpMode::None => {
                self.complete(call);
                return Ok(());
            }
            WrapUpMode::Manual => None,
            WrapUpMode::Mandatory | WrapUpMode::Optional => Some(now.plus(policy.duration_ms)),
        };
        if let Some(i) = self.agents[a].interaction_mut(call) {
            i.phase = Phase::WrapUp {
                since: now,
                until,
                mandatory: policy.mode == WrapUpMode::Mandatory,
            };
        }
        if let Some(until) = until {
            self.schedule(until, Timer::WrapUpEnd(agent, call));
        }
        self.agent_changed(a);
        Ok(())
    }

    fn wrap_up_done(&mut self, agent: AgentId, call: CallId) -> Result<(), RouteError> {
        let a = self.agent_idx(agent)?;
        let phase = self.agents[a]
            .interactions
            .iter()
            .find(|i| i.call == call)
            .map(|i| i.phase);
        match phase {
            Some(Phase::WrapUp {
                until: Some(until),
                mandatory: true,
                ..
            }) if until > self.now => Err(RouteError::WrapUpMandatory { agent, until }),
            Some(Phase::WrapUp { .. }) => {
                self.complete(call);
                Ok(())
            }
            _ => Err(RouteError::WrongCallState {
                call,
                expected: "in wrap-up",
            }),
        }
    }

    /// The contact is fully handled: record it, free the agent, feed the AHT estimate.
    fn complete(&mut self, call: CallId) {
        let Some(c) = self.calls.remove(&call) else {
            return;
        };
        let CallState::WrappingUp {
            agent,
            talk_ms,
            hold_ms,
        } = c.state
        else {
            return;
        };
        let Some(&a) = self.agent_index.get(&agent) else {
            return;
        };
        let wrap_ms = match self.agents[a].remove_interaction(call).map(|i| i.phase) {
            Some(Phase::WrapUp { since, .. }) => self.now.since(since),
            _ => 0,
        };
        if let Some(&q) = self.queue_index.get(&c.queue) {
            self.queues[q].aht.record(talk_ms + hold_ms + wrap_ms);
        }
        self.emit(EventKind::Completed {
            call,
            agent,
            queue: c.queue,
            talk_ms,
            hold_ms,
            wrap_ms,
        });
        let agent = &mut self.agents[a];
        if agent.interactions.is_empty() {
            agent.idle_since = self.now;
        }
        self.agent_changed(a);
        self.match_agent(a);
    }

    fn abandon(&mut self, call: CallId) -> Result<(), RouteError> {
        let c = self.calls.get(&call).ok_or(RouteError::UnknownCall(call))?;
        let offers = match &c.state {
            CallState::Waiting => Vec::new(),
            CallState::Offered(ids) => ids.clone(),
            _ => {
                return Err(RouteError::WrongCallState {
                    call,
                    expected: "waiting or offered",
                });
            }
        };
        let (queue, key, waited_ms) = (c.queue, c.key, self.now.since(c.arrival));
        if let Some(&q) = self.queue_index.get(&queue) {
            self.queues[q].waiting.remove(&key);
        }
        self.calls.remove(&call);
        let agents: Vec<AgentId> = offers
            .iter()
            .filter_map(|o| self.offers.get(o).map(|o| o.agent))
            .collect();
        for o in offers {
            self.end_offer(o, OfferEnd::Cancelled);
        }
        self.emit(EventKind::Abandoned {
            call,
            queue,
            waited_ms,
        });
        for agent in agents {
            if let Some(&a) = self.agent_index.get(&agent) {
                self.match_agent(a);
            }
        }
        Ok(())
    }

    fn request_callback(&mut self, call: CallId) -> Result<(), RouteError> {
        let c = self
            .calls
            .get_mut(&call)
            .ok_or(RouteError::UnknownCall(call))?;
        if c.state != CallState::Waiting || c.callback {
            return Err(RouteError::WrongCallState {
                call,
                expected: "waiting, not yet a callback",
            });
        }
        c.callback = true;
        let queue = c.queue;
        self.emit(EventKind::CallbackRequested { call, queue });
        Ok(())
    }

    // ---- agents ---------------------------------------------------------------

    fn login(&mut self, agent: AgentId) -> Result<(), RouteError> {
        let a = self.agent_idx(agent)?;
        if self.agents[a].presence == Presence::LoggedOut {
            self.agents[a].presence = Presence::NotReady(REASON_LOGGED_IN.to_string());
            self.agent_changed(a);
        }
        Ok(())
    }

    fn ready(&mut self, agent: AgentId) -> Result<(), RouteError> {
        let a = self.agent_idx(agent)?;
        let rt = &mut self.agents[a];
        match rt.presence {
            Presence::LoggedOut => return Err(RouteError::NotLoggedIn(agent)),
            Presence::Ready => return Ok(()),
            Presence::NotReady(_) => {}
        }
        rt.presence = Presence::Ready;
        rt.missed_in_row = 0;
        if rt.interactions.is_empty() {
            rt.idle_since = self.now;
        }
        self.agent_changed(a);
        self.match_agent(a);
        Ok(())
    }

    fn not_ready(&mut self, agent: AgentId, reason: String) -> Result<(), RouteError> {
        let a = self.agent_idx(agent)?;
        if self.agents[a].presence == Presence::LoggedOut {
            return Err(RouteError::NotLoggedIn(agent));
        }
        self.agents[a].presence = Presence::NotReady(reason);
        self.withdraw_offers(a);
        Ok(())
    }

    fn logout(&mut self, agent: AgentId) -> Result<(), RouteError> {
        let a = self.agent_idx(agent)?;
        if self.agents[a]
            .interactions
            .iter()
            .any(|i| !matches!(i.phase, Phase::Offered(_)))
        {
            return Err(RouteError::AgentBusy(agent));
        }
        self.agents[a].presence = Presence::LoggedOut;
        self.withdraw_offers(a);
        Ok(())
    }

    /// Cancels an agent's ringing offers (break or logout); their calls go back in place.
    fn withdraw_offers(&mut self, a: usize) {
        let pending = self.agents[a].pending_offers();
        let ended: Vec<OfferRt> = pending
            .iter()
            .filter_map(|o| self.offers.get(o).copied())
            .collect();
        for offer in pending {
            self.end_offer(offer, OfferEnd::Cancelled);
        }
        self.agent_changed(a);
        for o in ended {
            self.after_offer_ended(o);
        }
    }

    // ---- configuration ------------------------------------------------------------

    fn replace_config(&mut self, config: RoutingConfig) -> Result<(), RouteError> {
        self.install(config)?;
        let waiting: Vec<CallId> = self
            .calls
            .iter()
            .filter(|(_, c)| c.state == CallState::Waiting)
            .map(|(&id, _)| id)
            .collect();
        for call in waiting {
            self.check_call(call);
        }
        let free: Vec<usize> = (0..self.agents.len())
            .filter(|&a| self.agents[a].can_take_any())
            .collect();
        self.rematch(free);
        Ok(())
    }

    /// Builds the indexes for `config`, carrying over every agent's statistics and
    /// every call's age and place. Validates first; on error nothing changed.
    fn install(&mut self, config: RoutingConfig) -> Result<(), ConfigError> {
        config.validate()?;
        let queue_ids: HashSet<QueueId> = config.queues.iter().map(|q| q.id).collect();
        let agent_ids: HashSet<AgentId> = config.agents.iter().map(|a| a.id).collect();
        let mut per_queue: HashMap<QueueId, usize> = HashMap::new();
        for c in self.calls.values() {
            *per_queue.entry(c.queue).or_default() += 1;
        }
        if let Some((&queue, &calls)) = per_queue
            .iter()
            .filter(|(q, _)| !queue_ids.contains(q))
            .min()
        {
            return Err(ConfigError::QueueInUse { queue, calls });
        }
        if let Some(a) = self
            .agents
            .iter()
            .find(|a| a.presence != Presence::LoggedOut && !agent_ids.contains(&a.cfg.id))
        {
            return Err(ConfigError::AgentInUse(a.cfg.id));
        }

        let mut old_agents: HashMap<AgentId, AgentRt> = std::mem::take(&mut self.agents)
            .into_iter()
            .map(|a| (a.cfg.id, a))
            .collect();
        self.agents = config
            .agents
            .into_iter()
            .map(|cfg| match old_agents.remove(&cfg.id) {
                Some(mut rt) => {
                    rt.cfg = cfg;
                    rt.memberships.clear();
                    rt.indexed_ready = false;
                    rt
                }
                None => AgentRt::new(cfg, self.now),
            })
            .collect();
        self.agent_index = self
            .agents
            .iter()
            .enumerate()
            .map(|(i, a)| (a.cfg.id, i))
            .collect();

        self.groups = config
            .groups
            .into_iter()
            .enumerate()
            .map(|(g, cfg)| {
                let members = cfg
                    .members
                    .into_iter()
                    .enumerate()
                    .filter_map(|(slot, m)| {
                        let agent = *self.agent_index.get(&m.agent)?;
                        self.agents[agent].memberships.push((g, slot));
                        Some(Member {
                            agent,
                            priority: m.priority,
                            proficiency: m.proficiency,
                            windows: m.windows,
                        })
                    })
                    .collect();
                GroupRt {
                    id: cfg.id,
                    strategy: cfg.strategy,
                    members,
                    ready: BTreeSet::new(),
                    serves: Vec::new(),
                }
            })
            .collect();
        let group_index: HashMap<GroupId, usize> = self
            .groups
            .iter()
            .enumerate()
            .map(|(i, g)| (g.id, i))
            .collect();

        let mut old_queues: HashMap<QueueId, QueueRt> = std::mem::take(&mut self.queues)
            .into_iter()
            .map(|q| (q.cfg.id, q))
            .collect();
        for cfg in config.queues {
            let q = self.queues.len();
            let mut rings: Vec<Ring> = cfg
                .targets
                .iter()
                .filter_map(|t| {
                    let group = *group_index.get(&t.group)?;
                    Some(Ring {
                        group,
                        after_ms: t.after_ms,
                        min_proficiency: t.min_proficiency,
                    })
                })
                .collect();
            // Open rings are always a prefix: inner (earlier-opening) rings first.
            rings.sort_by_key(|r| r.after_ms);
            for (r, ring) in rings.iter().enumerate() {
                self.groups[ring.group].serves.push((q, r));
            }
            let aht = old_queues
                .remove(&cfg.id)
                .map_or(HandleTimeEstimate::new(cfg.initial_aht_ms), |old| old.aht);
            self.queues.push(QueueRt {
                cfg,
                rings,
                waiting: BTreeSet::new(),
                aht,
            });
        }
        self.queue_index = self
            .queues
            .iter()
            .enumerate()
            .map(|(i, q)| (q.cfg.id, i))
            .collect();

        for (&id, c) in self.calls.iter_mut() {
            let Some(&q) = self.queue_index.get(&c.queue) else {
                continue;
            };
            c.key = QueueKey::new(&self.queues[q].cfg, c.priority, c.arrival, id);
            // Rings are re-evaluated under the new targets; later openings are timed from here.
            c.rings_open = self.queues[q].rings_open(self.now.since(c.arrival));
            if c.state == CallState::Waiting {
                self.queues[q].waiting.insert(c.key);
            }
        }

        self.fairness = config.fairness;
        self.utc_offset = config.utc_offset_minutes;
        self.blacklist =
            NumberTable::new(config.blacklist.into_iter().map(|b| (b.pattern, b.action)));
        self.vips = NumberTable::new(
            config
                .vips
                .into_iter()
                .map(|v| (v.pattern, (v.priority, v.agents))),
        );
        self.sticky.set_capacity(config.sticky_capacity);
        for a in 0..self.agents.len() {
            self.agent_changed(a);
        }
        self.shift_check = None;
        self.schedule_shift_boundary();
        Ok(())
    }
}

/// An `f64` ordered by `total_cmp`, for the rematch heap.
#[derive(Debug, Clone, Copy, PartialEq)]
struct OrdF64(f64);

impl Eq for OrdF64 {}

impl PartialOrd for OrdF64 {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for OrdF64 {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}
