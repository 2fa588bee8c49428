//! The branch model: what one gateway does with its lines, seats and uplink,
//! speaking the real call-control contract ([`CallUp`] / [`CallDown`]).
//!
//! Real code inside: the local [`Router`] built from
//! `ValidCenterConfig::local_routing` routes while the WAN is down, as the
//! gateway's survivable routing does. Modelled here (the gateway's `Engine`
//! needs its audio thread): lines, the IVR (a few seconds, then a queue), the
//! mix (who is joined to which call), the outbox and the durable record of
//! each started call, with commit semantics (an append is whole or absent).
//!
//! Handover rules of the model, where it goes beyond `gateway/src/calls`:
//! taking a waiting call back from the coordinator uses `CallRestored` with the
//! call's age (the engine queues it afresh, so its wait restarts), and when the
//! link returns calls still waiting at the local router are withdrawn from it
//! and reported as `Queued { waited_ms }`, and idle agents leave it (the engine
//! keeps them and its calls local until they end).

use std::collections::{BTreeMap, BTreeSet};

use tandem_node::calls::{
    AgentCommand, AnchoredCall, AnchoredParty, AnchoredState, CallUp, Cdr, CdrEvent, CdrEventKind,
    EndCause, Endpoint, Hangup, PartyId, PartyRole, ValidCenterConfig,
};
use tandem_node::names::Site;
use tandem_node::proto::{RecordKind, UploadRecord};
use tandem_node::routing::{
    ActionKind, AgentId, AgentState, CallId, Channel, EventKind, Input, OfferId, QueueId, Router,
    Timestamp,
};

/// Where a call stands on its line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// In the IVR.
    Ivr,
    /// Handed to a queue, no agent yet (or again, after a transfer).
    Waiting,
    /// An agent joined.
    Connected,
}

/// One live call on a line of this branch.
#[derive(Debug, Clone)]
pub struct GwCall {
    pub line: String,
    pub caller: String,
    pub queue: Option<QueueId>,
    pub stage: Stage,
    pub started: Timestamp,
    /// When it (last) entered a queue.
    pub queued_at: Option<Timestamp>,
    /// Re-queued by a transfer: its wait counts from the transfer.
    pub requeued: bool,
    pub answered_at: Option<Timestamp>,
    /// The coordinator was told of it (Arrived or Anchored).
    pub announced: bool,
    pub parties: BTreeMap<PartyId, (Option<AgentId>, PartyRole, Endpoint)>,
    pub agents: Vec<AgentId>,
    pub events: Vec<CdrEvent>,
}

/// The local router and what the branch tracks around it.
pub struct Local {
    pub router: Router,
    pub agents: BTreeSet<AgentId>,
    pub offers: BTreeMap<AgentId, (OfferId, CallId)>,
    pub talking: BTreeMap<AgentId, CallId>,
    pub wrapping: BTreeMap<AgentId, CallId>,
    pub calls: BTreeSet<CallId>,
}

/// What a branch step asks the world to do.
#[derive(Debug)]
pub enum Effect {
    /// Send to the coordinator (dropped when offline).
    Up(CallUp),
    /// An agent at a seat here rings for a call (local router).
    Ring(AgentId, CallId),
    /// A ring stops.
    StopRing(AgentId, CallId),
    /// An agent joined a call's mix here.
    Joined(AgentId, CallId),
    /// An agent left a call's mix here.
    Left(AgentId, CallId),
    /// An agent's state at the local router changed.
    LocalState(AgentId, AgentState),
    /// The caller of a call left alone hangs up soon.
    CallerAlone(CallId),
    /// A local agent finished local work and goes back to the coordinator,
    /// ready there if they were ready here.
    BackToCoordinator(AgentId, bool),
}

/// Injected faults in the branch logic, for the seeded-bug test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum SeededBug {
    /// When the WAN drops, calls waiting in the coordinator's queue are not
    /// taken back: nobody routes them any more.
    SkipTakeBack,
}

/// One gateway.
pub struct Branch {
    pub site: Site,
    pub index: usize,
    pub up: bool,
    pub online: bool,
    pub lines: usize,
    pub calls: BTreeMap<CallId, GwCall>,
    pub local: Local,
    config: ValidCenterConfig,
    bug: Option<SeededBug>,
    // ---- durable (survives a crash) ----
    /// Outbox: records not yet acknowledged, by sequence number.
    pub outbox: BTreeMap<u64, UploadRecord>,
    /// Calls started and not yet ended (their CDR is owed).
    pub started: BTreeMap<CallId, (String, String, Timestamp)>,
    pub next_seq: u64,
    next_call: u64,
    // ---- volatile ----
    pub upload_inflight: bool,
    /// Every record this branch wrote, for the exactly-once check.
    pub produced: u64,
}

fn local_router(config: &ValidCenterConfig, site: &Site, now: Timestamp) -> Local {
    let routing = config.local_routing(site);
    let agents = routing.agents.iter().map(|a| a.id).collect();
    // The center is generated and validated, so its local part is valid too;
    // an invalid one would be a bug in `local_routing` and fails loudly here.
    let router = match Router::new(routing, now) {
        Ok(r) => r,
        Err(e) => panic!("local routing of {site}: {e}"),
    };
    Local {
        router,
        agents,
        offers: BTreeMap::new(),
        talking: BTreeMap::new(),
        wrapping: BTreeMap::new(),
        calls: BTreeSet::new(),
    }
}

impl Branch {
    /// A branch with `lines` lines, up, not yet connected.
    pub fn new(
        site: Site,
        index: usize,
        lines: usize,
        config: ValidCenterConfig,
        bug: Option<SeededBug>,
        now: Timestamp,
    ) -> Branch {
        let local = local_router(&config, &site, now);
        Branch {
            site,
            index,
            up: true,
            online: false,
            lines,
            calls: BTreeMap::new(),
            local,
            config,
            bug,
            outbox: BTreeMap::new(),
            started: BTreeMap::new(),
            next_seq: 1,
            next_call: 1,
            upload_inflight: false,
            produced: 0,
        }
    }

    fn log(&mut self, call: CallId, now: Timestamp, kind: CdrEventKind) {
        if let Some(c) = self.calls.get_mut(&call) {
            c.events.push(CdrEvent {
                at_us: now.0 * 1000,
                kind,
            });
        }
    }

    /// A caller rings: a free line answers and the call starts (durably
    /// recorded before anything else), or the caller hears busy.
    pub fn ring_in(&mut self, now: Timestamp, caller: String) -> Option<CallId> {
        if !self.up || self.calls.len() >= self.lines {
            return None;
        }
        let id = CallId(((self.index as u64 + 1) << 40) | self.next_call);
        self.next_call += 1;
        let used: BTreeSet<&str> = self.calls.values().map(|c| c.line.as_str()).collect();
        let line = (1..=self.lines)
            .map(|i| format!("fxo{i}"))
            .find(|l| !used.contains(l.as_str()))
            .unwrap_or_else(|| "fxo0".into());
        self.started.insert(id, (line.clone(), caller.clone(), now));
        self.calls.insert(
            id,
            GwCall {
                line,
                caller,
                queue: None,
                stage: Stage::Ivr,
                started: now,
                queued_at: None,
                requeued: false,
                answered_at: None,
                announced: false,
                parties: BTreeMap::new(),
                agents: Vec::new(),
                events: vec![
                    CdrEvent {
                        at_us: now.0 * 1000,
                        kind: CdrEventKind::LineSeized,
                    },
                    CdrEvent {
                        at_us: now.0 * 1000,
                        kind: CdrEventKind::LineAnswered,
                    },
                ],
            },
        );
        Some(id)
    }

    /// The IVR chose `queue`: hand the call to the coordinator, or route it
    /// here when alone.
    pub fn ivr_done(&mut self, now: Timestamp, call: CallId, queue: QueueId, fx: &mut Vec<Effect>) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        c.queue = Some(queue);
        c.stage = Stage::Waiting;
        c.queued_at = Some(now);
        let caller = c.caller.clone();
        if self.online {
            c.announced = true;
            self.log(
                call,
                now,
                CdrEventKind::Queued {
                    queue,
                    local: false,
                },
            );
            fx.push(Effect::Up(CallUp::Arrived {
                call,
                line: self.calls[&call].line.clone(),
                caller: Some(caller),
                queue,
                priority: 0,
                vars: BTreeMap::new(),
                ivr_path: vec!["menu".into()],
            }));
        } else {
            self.route_locally(now, call, queue, caller, 0, fx);
        }
    }

    fn route_locally(
        &mut self,
        now: Timestamp,
        call: CallId,
        queue: QueueId,
        caller: String,
        age_ms: u64,
        fx: &mut Vec<Effect>,
    ) {
        self.local.calls.insert(call);
        let input = Input::CallRestored {
            call,
            queue,
            caller: Some(caller),
            priority: 0,
            channel: Channel::Voice,
            age_ms,
            agent: None,
        };
        self.router_input(now, input, fx);
    }

    fn router_input(&mut self, now: Timestamp, input: Input, fx: &mut Vec<Effect>) {
        if let Err(e) = self.local.router.handle(now, input) {
            tracing::debug!(site = %self.site, err = %e, "local router refused");
        }
        self.pump(now, fx);
    }

    /// Fires the local router's due timers.
    pub fn local_tick(&mut self, now: Timestamp, fx: &mut Vec<Effect>) {
        if self.up {
            self.router_input(now, Input::Tick, fx);
        }
    }

    /// Carries out what the local router decided.
    fn pump(&mut self, now: Timestamp, fx: &mut Vec<Effect>) {
        let actions = self.local.router.drain_actions();
        let events = self.local.router.drain_events();
        for a in actions {
            match a.kind {
                ActionKind::Offer {
                    offer, call, agent, ..
                } => {
                    self.local.offers.insert(agent, (offer, call));
                    self.log(call, now, CdrEventKind::Offered { agent });
                    fx.push(Effect::Ring(agent, call));
                }
                ActionKind::CancelOffer { agent, offer, call } => {
                    if self
                        .local
                        .offers
                        .get(&agent)
                        .is_some_and(|(o, _)| *o == offer)
                    {
                        self.local.offers.remove(&agent);
                    }
                    fx.push(Effect::StopRing(agent, call));
                }
                ActionKind::Reject { call, .. } => {
                    self.local.calls.remove(&call);
                    self.end_call(now, call, EndCause::QueueFull, Hangup::System, fx);
                }
                _ => {}
            }
        }
        for e in events {
            match e.kind {
                EventKind::Answered { call, agent, .. } => {
                    self.local.offers.remove(&agent);
                    self.local.talking.insert(agent, call);
                    fx.push(Effect::StopRing(agent, call));
                    let endpoint = self
                        .config
                        .seat_of(agent)
                        .map(|s| s.endpoint.clone())
                        .unwrap_or_default();
                    self.join(
                        now,
                        call,
                        PartyId(agent.0.saturating_add(1)),
                        Some(agent),
                        PartyRole::Party,
                        Endpoint::Local(endpoint),
                        fx,
                    );
                }
                EventKind::Ended { call, agent, .. } => {
                    self.local.talking.remove(&agent);
                    self.local.wrapping.insert(agent, call);
                }
                EventKind::Completed { agent, .. } => {
                    self.local.wrapping.remove(&agent);
                    if self.online {
                        let ready = self.local.router.agent_state(agent) == Some(AgentState::Ready);
                        fx.push(Effect::BackToCoordinator(agent, ready));
                    }
                }
                EventKind::AgentStateChanged { agent, state } => {
                    fx.push(Effect::LocalState(agent, state));
                }
                _ => {}
            }
        }
    }

    /// Whether `agent`'s buttons go to the local router.
    pub fn handles_locally(&self, agent: AgentId) -> bool {
        !self.online
            || self.local.offers.contains_key(&agent)
            || self.local.talking.contains_key(&agent)
            || self.local.wrapping.contains_key(&agent)
    }

    /// A local agent's button while alone (or busy with a local call).
    pub fn local_command(
        &mut self,
        now: Timestamp,
        agent: AgentId,
        command: &AgentCommand,
        fx: &mut Vec<Effect>,
    ) {
        let input = match command {
            AgentCommand::Login => Some(Input::AgentLogin { agent }),
            AgentCommand::Ready => Some(Input::AgentReady { agent }),
            AgentCommand::NotReady { reason } => Some(Input::AgentNotReady {
                agent,
                reason: reason.clone(),
            }),
            AgentCommand::Answer => self
                .local
                .offers
                .get(&agent)
                .map(|(offer, _)| Input::OfferAccepted { offer: *offer }),
            // Rejecting stops the seat ringing, before the router may offer
            // the same call again.
            AgentCommand::Reject => self.local.offers.get(&agent).map(|(offer, call)| {
                fx.push(Effect::StopRing(agent, *call));
                Input::OfferRejected { offer: *offer }
            }),
            AgentCommand::WrapUp { .. } => self
                .local
                .wrapping
                .get(&agent)
                .map(|call| Input::WrapUpDone { agent, call: *call }),
            // A transfer needs the coordinator: alone, the agent hangs up.
            AgentCommand::Hangup | AgentCommand::Transfer { .. } => {
                if let Some(call) = self.local.talking.get(&agent).copied() {
                    self.end_call(now, call, EndCause::Completed, Hangup::Agent(agent), fx);
                }
                None
            }
            _ => None,
        };
        if let Some(input) = input {
            self.router_input(now, input, fx);
        }
    }

    /// Adds a party to a call's mix.
    #[allow(clippy::too_many_arguments)]
    pub fn join(
        &mut self,
        now: Timestamp,
        call: CallId,
        party: PartyId,
        agent: Option<AgentId>,
        role: PartyRole,
        endpoint: Endpoint,
        fx: &mut Vec<Effect>,
    ) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if let Some(a) = agent {
            if !c.agents.contains(&a) {
                c.agents.push(a);
            }
            fx.push(Effect::Joined(a, call));
        }
        c.parties.insert(party, (agent, role, endpoint.clone()));
        if c.stage != Stage::Connected {
            c.stage = Stage::Connected;
            c.requeued = false;
            c.answered_at.get_or_insert(now);
        }
        let local = matches!(endpoint, Endpoint::Local(_));
        self.log(
            call,
            now,
            CdrEventKind::Joined {
                party,
                agent,
                role,
                local,
            },
        );
    }

    /// Removes a party; a call left without agents by a transfer waits again.
    pub fn leave(&mut self, now: Timestamp, call: CallId, party: PartyId, fx: &mut Vec<Effect>) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if let Some((Some(agent), _, _)) = c.parties.remove(&party) {
            fx.push(Effect::Left(agent, call));
        }
        if c.parties.is_empty() && c.stage == Stage::Connected {
            // Blind transfer: the caller waits again, in the new queue.
            c.stage = Stage::Waiting;
            c.requeued = true;
            c.queued_at = Some(now);
        }
        self.log(call, now, CdrEventKind::Left { party });
    }

    /// Adds a routing fact to the call's CDR.
    pub fn add_log(&mut self, now: Timestamp, call: CallId, kind: CdrEventKind) {
        self.log(call, now, kind);
    }

    /// The line is released: the CDR goes to the outbox in the same commit
    /// that clears the call's start record.
    pub fn end_call(
        &mut self,
        now: Timestamp,
        call: CallId,
        cause: EndCause,
        hangup: Hangup,
        fx: &mut Vec<Effect>,
    ) {
        let Some(c) = self.calls.remove(&call) else {
            return;
        };
        for (agent, _, _) in c.parties.values() {
            if let Some(a) = agent {
                fx.push(Effect::Left(*a, call));
            }
        }
        if self.local.calls.remove(&call) {
            let talking = self.local.talking.values().any(|x| *x == call);
            let input = if talking {
                Input::CallEnded { call }
            } else {
                Input::CallAbandoned { call }
            };
            self.router_input(now, input, fx);
        }
        if c.announced && self.online {
            fx.push(Effect::Up(CallUp::Ended {
                call,
                cause: cause.clone(),
            }));
        }
        let cdr = Cdr {
            call,
            site: self.site.clone(),
            line: c.line,
            outbound: false,
            number: Some(c.caller),
            started_us: c.started.0 * 1000,
            answered_us: c.answered_at.map(|t| t.0 * 1000),
            ended_us: now.0 * 1000,
            hangup,
            cause,
            ivr_path: vec!["menu".into()],
            queue: c.queue,
            agents: c.agents,
            recording: None,
            events: c.events,
        };
        self.commit_cdr(now, call, &cdr);
    }

    fn commit_cdr(&mut self, now: Timestamp, call: CallId, cdr: &Cdr) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.produced += 1;
        self.started.remove(&call);
        self.outbox.insert(
            seq,
            UploadRecord {
                seq,
                kind: RecordKind::Cdr,
                created_at_us: now.0 * 1000,
                body: cdr.to_record(),
            },
        );
    }

    /// The next batch to upload, if none is in flight.
    pub fn upload_batch(&mut self) -> Option<Vec<UploadRecord>> {
        if !self.online || self.upload_inflight || self.outbox.is_empty() {
            return None;
        }
        self.upload_inflight = true;
        Some(self.outbox.values().take(64).cloned().collect())
    }

    /// The coordinator stored these.
    pub fn acked(&mut self, seqs: &[u64]) {
        for s in seqs {
            self.outbox.remove(s);
        }
        self.upload_inflight = false;
    }

    /// The link died (noticed by heartbeat timeout): route alone.
    pub fn go_offline(&mut self, now: Timestamp, fx: &mut Vec<Effect>) {
        if !self.online {
            return;
        }
        self.online = false;
        self.upload_inflight = false;
        let ids: Vec<CallId> = self.calls.keys().copied().collect();
        for call in ids {
            if self.local.calls.contains(&call) {
                continue;
            }
            let Some(c) = self.calls.get_mut(&call) else {
                continue;
            };
            // Relay legs died with the link; seats on this box stay.
            let remote: Vec<PartyId> = c
                .parties
                .iter()
                .filter(|(_, (_, _, e))| matches!(e, Endpoint::Leg(_)))
                .map(|(p, _)| *p)
                .collect();
            for p in remote {
                if let Some((Some(a), _, _)) = c.parties.remove(&p) {
                    fx.push(Effect::Left(a, call));
                }
            }
            let (stage, empty) = (c.stage, c.parties.is_empty());
            let (queue, caller, queued_at) = (c.queue, c.caller.clone(), c.queued_at);
            c.announced = false;
            self.log(call, now, CdrEventKind::WanLost);
            match stage {
                Stage::Connected if empty => fx.push(Effect::CallerAlone(call)),
                Stage::Waiting if self.bug != Some(SeededBug::SkipTakeBack) => {
                    if let Some(queue) = queue {
                        let age = queued_at.map_or(0, |q| now.since(q));
                        self.route_locally(now, call, queue, caller, age, fx);
                    }
                }
                _ => {}
            }
        }
    }

    /// Agents seated here the world believes logged in, with their state, are
    /// logged in at the local router (the coordinator's presence, as the
    /// engine keeps it).
    pub fn adopt_agents(
        &mut self,
        now: Timestamp,
        presence: &[(AgentId, AgentState)],
        fx: &mut Vec<Effect>,
    ) {
        for (agent, state) in presence {
            if !self.local.agents.contains(agent)
                || self.local.router.agent_state(*agent) != Some(AgentState::LoggedOut)
            {
                continue;
            }
            self.router_input(now, Input::AgentLogin { agent: *agent }, fx);
            if matches!(state, AgentState::Ready | AgentState::Reserved) {
                self.router_input(now, Input::AgentReady { agent: *agent }, fx);
            }
        }
    }

    /// A session is up again: local waiting calls and idle local agents go
    /// back to the coordinator; the calls it must know are reported.
    pub fn go_online(&mut self, now: Timestamp, fx: &mut Vec<Effect>) {
        self.online = true;
        let waiting: Vec<CallId> = self
            .local
            .calls
            .iter()
            .copied()
            .filter(|c| !self.local.talking.values().any(|x| x == c))
            .filter(|c| self.calls.get(c).is_some_and(|g| g.stage == Stage::Waiting))
            .collect();
        for call in waiting {
            self.local.calls.remove(&call);
            self.router_input(now, Input::CallWithdrawn { call }, fx);
        }
        let idle: Vec<(AgentId, AgentState)> = self
            .local
            .agents
            .iter()
            .copied()
            .filter(|a| !self.handles_locally(*a))
            .filter_map(|a| self.local.router.agent_state(a).map(|s| (a, s)))
            .filter(|(_, s)| *s != AgentState::LoggedOut)
            .collect();
        for (agent, state) in idle {
            self.router_input(now, Input::AgentLogout { agent }, fx);
            fx.push(Effect::BackToCoordinator(agent, state == AgentState::Ready));
        }
        let report = self.anchored(now);
        if !report.is_empty() {
            fx.push(Effect::Up(CallUp::Anchored(report)));
        }
    }

    /// A local agent whose local work ended leaves the local router.
    pub fn release_agent(&mut self, now: Timestamp, agent: AgentId, fx: &mut Vec<Effect>) {
        if self.online && !self.handles_locally(agent) {
            self.router_input(now, Input::AgentLogout { agent }, fx);
        }
    }

    fn anchored(&mut self, now: Timestamp) -> Vec<AnchoredCall> {
        let mut out = Vec::new();
        for (id, c) in &mut self.calls {
            if self.local.calls.contains(id) {
                continue;
            }
            let state = match c.stage {
                Stage::Waiting => AnchoredState::Queued {
                    waited_ms: c.queued_at.map_or(0, |q| now.since(q)),
                },
                Stage::Connected if !c.parties.is_empty() => AnchoredState::Connected {
                    talk_ms: c.answered_at.map_or(0, |a| now.since(a)),
                },
                _ => continue,
            };
            c.announced = true;
            out.push(AnchoredCall {
                call: *id,
                line: c.line.clone(),
                caller: Some(c.caller.clone()),
                queue: c.queue,
                priority: 0,
                state,
                held: false,
                parties: c
                    .parties
                    .iter()
                    .map(|(p, (agent, role, endpoint))| AnchoredParty {
                        party: *p,
                        agent: *agent,
                        role: *role,
                        endpoint: endpoint.clone(),
                    })
                    .collect(),
            });
        }
        out
    }

    /// The process died: everything volatile is gone.
    pub fn crash(&mut self, now: Timestamp, fx: &mut Vec<Effect>) {
        self.up = false;
        self.online = false;
        self.upload_inflight = false;
        for (id, c) in std::mem::take(&mut self.calls) {
            for (agent, _, _) in c.parties.values() {
                if let Some(a) = agent {
                    fx.push(Effect::Left(*a, id));
                }
            }
        }
        for (agent, (_, call)) in std::mem::take(&mut self.local.offers) {
            fx.push(Effect::StopRing(agent, call));
        }
        self.local = local_router(&self.config, &self.site, now);
    }

    /// The process starts again: every call the durable record says was up
    /// gets its CDR, cut by the restart.
    pub fn restart(&mut self, now: Timestamp) {
        self.up = true;
        for (call, (line, caller, started)) in std::mem::take(&mut self.started) {
            let cdr = Cdr {
                call,
                site: self.site.clone(),
                line,
                outbound: false,
                number: Some(caller),
                started_us: started.0 * 1000,
                answered_us: None,
                ended_us: now.0 * 1000,
                hangup: Hangup::System,
                cause: EndCause::LineFault("gateway-restart".into()),
                ivr_path: Vec::new(),
                queue: None,
                agents: Vec::new(),
                recording: None,
                events: Vec::new(),
            };
            self.commit_cdr(now, call, &cdr);
        }
    }
}
