//! Survivable routing: while the uplink is down, calls that leave the IVR are
//! routed by a local [`Router`] over this box's own seats, built from the last
//! configuration (`ValidCenterConfig::local_routing`), and the local agents'
//! buttons drive it. Offers ring the seats here; an answer joins the seat
//! straight into the call's mixer. Calls that were waiting in the coordinator's
//! queue when the link dropped are taken back (and stay here until they end);
//! calls already talking carry on and are reported to the coordinator when the
//! link returns, so it rebuilds them.
//!
//! [`LocalRouting`] is a component of its own: it takes inputs and answers with
//! the [`LocalOut`]s the engine carries out (ring a seat, join it, release a
//! call, log), so it knows nothing of the engine that owns it.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use tandem_node::calls::{AgentCommand, CdrEventKind, PartyId, ReleaseReason, ValidCenterConfig};
use tandem_node::names::Site;
use tandem_node::routing::{
    ActionKind, AgentId, AgentState, CallId, Channel, Event, EventKind, Input, OfferId, QueueId,
    RejectReason, Router, Timestamp,
};

/// What the local router needs of the box: the last configuration and the site.
pub(crate) struct Here<'a> {
    pub config: Option<&'a Arc<ValidCenterConfig>>,
    pub site: &'a Site,
}

/// What the engine does for the local router, in order.
#[derive(Debug)]
pub(crate) enum LocalOut {
    /// Ring the seat `endpoint` for `call`.
    Ring { endpoint: String, call: CallId },
    /// Stop ringing the seat `endpoint`.
    StopRing { endpoint: String },
    /// Tell the caller their queue position.
    Announce { call: CallId, position: u32 },
    /// Offer the caller a callback.
    OfferCallback { call: CallId },
    /// Release the call's line.
    Release { call: CallId, reason: ReleaseReason },
    /// Add to the call's CDR.
    Log { call: CallId, kind: CdrEventKind },
    /// Routing events for the outbox.
    QueueEvents(Vec<Event>),
    /// Join the seat `endpoint` of `agent` into the call.
    Join {
        call: CallId,
        party: PartyId,
        endpoint: String,
        agent: AgentId,
    },
    /// Take the party out of the call.
    Leave { call: CallId, party: PartyId },
    /// Hold or resume the call.
    Hold { call: CallId, on: bool },
    /// The agent's state as the engine remembers it for hand-overs.
    Presence { agent: AgentId, state: AgentState },
    /// The agent's view changed.
    View { agent: AgentId },
}

/// The local router and what the engine tracks around it.
#[derive(Default)]
pub(crate) struct LocalRouting {
    router: Option<Router>,
    agents: Vec<AgentId>,
    offers: HashMap<AgentId, (OfferId, CallId)>,
    talking: HashMap<AgentId, CallId>,
    wrapping: HashMap<AgentId, CallId>,
    calls: BTreeSet<CallId>,
}

impl LocalRouting {
    /// Whether `agent`'s buttons go to the local router: always while offline,
    /// and while online for agents still busy with a call routed locally.
    pub fn handles(&self, agent: AgentId, online: bool) -> bool {
        !online
            || self.offers.contains_key(&agent)
            || self.talking.contains_key(&agent)
            || self.wrapping.contains_key(&agent)
    }

    fn ensure(&mut self, here: &Here<'_>, now: u64) -> bool {
        if self.router.is_some() {
            return true;
        }
        let Some(config) = here.config else {
            tracing::warn!("no configuration: cannot route locally");
            return false;
        };
        let routing = config.local_routing(here.site);
        self.agents = routing.agents.iter().map(|a| a.id).collect();
        match Router::new(routing, Timestamp(now)) {
            Ok(r) => {
                self.router = Some(r);
                true
            }
            Err(err) => {
                tracing::error!(%err, "local routing configuration refused");
                false
            }
        }
    }

    /// A new configuration for the local router, if it runs.
    pub fn replace_config(&mut self, config: &ValidCenterConfig, site: &Site, now: u64) {
        if let Some(r) = &mut self.router {
            let routing = config.local_routing(site);
            let agents = routing.agents.iter().map(|a| a.id).collect();
            match r.handle(Timestamp(now), Input::ConfigReplaced(Box::new(routing))) {
                Ok(()) => self.agents = agents,
                Err(err) => tracing::warn!(%err, "local router kept its configuration"),
            }
        }
    }

    /// Whether the local router routes `call` (it took it while the WAN was down).
    pub fn owns(&self, call: CallId) -> bool {
        self.calls.contains(&call)
    }

    /// Agents logged in at the local router, with their state.
    pub fn logged_in(&self) -> Vec<(AgentId, AgentState)> {
        let Some(r) = &self.router else {
            return Vec::new();
        };
        self.agents
            .iter()
            .filter_map(|a| r.agent_state(*a).map(|s| (*a, s)))
            .filter(|(_, s)| *s != AgentState::LoggedOut)
            .collect()
    }

    /// `agent`'s state at the local router.
    pub fn agent_state(&self, agent: AgentId) -> Option<AgentState> {
        self.router.as_ref().and_then(|r| r.agent_state(agent))
    }

    /// The call `agent` is busy with locally.
    pub fn call_of(&self, agent: AgentId) -> Option<CallId> {
        self.talking
            .get(&agent)
            .or_else(|| self.offers.get(&agent).map(|(_, c)| c))
            .or_else(|| self.wrapping.get(&agent))
            .copied()
    }

    /// Whether the local router runs (it starts with the first call or
    /// hand-over that needs it, given a configuration).
    pub fn running(&self) -> bool {
        self.router.is_some()
    }

    fn input(&mut self, here: &Here<'_>, now: u64, input: Input, out: &mut Vec<LocalOut>) -> bool {
        if !self.ensure(here, now) {
            return false;
        }
        let Some(r) = &mut self.router else {
            return false;
        };
        let taken = r.handle(Timestamp(now), input);
        if let Err(err) = &taken {
            tracing::warn!(%err, "local router refused");
        }
        self.pump(here, out);
        taken.is_ok()
    }

    /// Queues a call at the local router (WAN down).
    pub fn route(
        &mut self,
        here: &Here<'_>,
        now: u64,
        call: CallId,
        queue: QueueId,
        priority: u8,
        caller: Option<String>,
    ) -> Vec<LocalOut> {
        let mut out = Vec::new();
        self.calls.insert(call);
        let input = Input::CallArrived {
            call,
            queue,
            caller,
            priority,
            channel: Channel::Voice,
        };
        if !self.input(here, now, input, &mut out) {
            self.calls.remove(&call);
            out.push(LocalOut::Release {
                call,
                reason: ReleaseReason::QueueFull,
            });
        }
        out
    }

    /// The caller took a callback while queued locally.
    pub fn callback(&mut self, here: &Here<'_>, now: u64, call: CallId) -> Vec<LocalOut> {
        let mut out = Vec::new();
        if self.calls.contains(&call) {
            self.input(here, now, Input::CallbackRequested { call }, &mut out);
        }
        out
    }

    /// A call's line is released: the local router forgets it.
    pub fn call_ended(&mut self, here: &Here<'_>, now: u64, call: CallId) -> Vec<LocalOut> {
        let mut out = Vec::new();
        if !self.calls.remove(&call) {
            return out;
        }
        let talking = self.talking.values().any(|c| *c == call);
        let input = if talking {
            Input::CallEnded { call }
        } else {
            Input::CallAbandoned { call }
        };
        self.input(here, now, input, &mut out);
        out
    }

    /// Fires the local router's due timers (offer timeouts, announcements).
    pub fn tick(&mut self, here: &Here<'_>, now: u64) -> Vec<LocalOut> {
        let mut out = Vec::new();
        let due = self
            .router
            .as_ref()
            .and_then(|r| r.next_deadline())
            .is_some_and(|d| d.0 <= now);
        if due {
            self.input(here, now, Input::Tick, &mut out);
        }
        out
    }

    /// The WAN went down: the local router takes over this box's agents, as
    /// `presence` (the engine's last known states) has them.
    pub fn take_over(
        &mut self,
        here: &Here<'_>,
        now: u64,
        presence: &[(AgentId, AgentState)],
    ) -> Vec<LocalOut> {
        let mut out = Vec::new();
        if !self.ensure(here, now) {
            return out;
        }
        for (agent, state) in presence {
            let (agent, state) = (*agent, state.clone());
            if !self.agents.contains(&agent)
                || state == AgentState::LoggedOut
                || self.agent_state(agent) != Some(AgentState::LoggedOut)
            {
                continue;
            }
            self.input(here, now, Input::AgentLogin { agent }, &mut out);
            if matches!(state, AgentState::Ready | AgentState::Reserved) {
                self.input(here, now, Input::AgentReady { agent }, &mut out);
            }
            out.push(LocalOut::View { agent });
        }
        out
    }

    /// A local agent's button.
    pub fn agent_command(
        &mut self,
        here: &Here<'_>,
        now: u64,
        agent: AgentId,
        command: &AgentCommand,
    ) -> Vec<LocalOut> {
        let mut out = Vec::new();
        let input = match command {
            AgentCommand::Login => Some(Input::AgentLogin { agent }),
            AgentCommand::Logout => Some(Input::AgentLogout { agent }),
            AgentCommand::Ready => Some(Input::AgentReady { agent }),
            AgentCommand::NotReady { reason } => Some(Input::AgentNotReady {
                agent,
                reason: reason.clone(),
            }),
            AgentCommand::Answer => self
                .offers
                .get(&agent)
                .map(|(offer, _)| Input::OfferAccepted { offer: *offer }),
            AgentCommand::Reject => self
                .offers
                .get(&agent)
                .map(|(offer, _)| Input::OfferRejected { offer: *offer }),
            AgentCommand::Hold | AgentCommand::Resume => {
                self.talking.get(&agent).copied().map(|call| {
                    let on = *command == AgentCommand::Hold;
                    out.push(LocalOut::Hold { call, on });
                    if on {
                        Input::CallHeld { call }
                    } else {
                        Input::CallResumed { call }
                    }
                })
            }
            AgentCommand::Hangup => self.talking.get(&agent).copied().map(|call| {
                self.calls.remove(&call);
                Input::CallEnded { call }
            }),
            AgentCommand::WrapUp { .. } => self
                .wrapping
                .get(&agent)
                .map(|call| Input::WrapUpDone { agent, call: *call }),
            other => {
                tracing::info!(command = ?other, "not available while the WAN is down");
                None
            }
        };
        let hung_up = match (command, &input) {
            (AgentCommand::Hangup, Some(Input::CallEnded { call })) => Some(*call),
            _ => None,
        };
        match input {
            Some(input) => {
                self.input(here, now, input, &mut out);
            }
            None => tracing::info!(command = ?command, "agent command has nothing to act on"),
        }
        if let Some(call) = hung_up {
            out.push(LocalOut::Leave {
                call,
                party: party_of(agent),
            });
            out.push(LocalOut::Release {
                call,
                reason: ReleaseReason::AgentHungUp(agent),
            });
        }
        out.push(LocalOut::View { agent });
        out
    }

    /// Turns what the local router decided into [`LocalOut`]s.
    fn pump(&mut self, here: &Here<'_>, out: &mut Vec<LocalOut>) {
        let Some(r) = &mut self.router else {
            return;
        };
        let actions = r.drain_actions();
        let events = r.drain_events();
        if !events.is_empty() {
            out.push(LocalOut::QueueEvents(events.clone()));
        }
        let mut touched = BTreeSet::new();
        for a in actions {
            match a.kind {
                ActionKind::Offer {
                    offer, call, agent, ..
                } => {
                    touched.insert(agent);
                    self.offers.insert(agent, (offer, call));
                    if let Some(endpoint) = seat_here(here, agent) {
                        out.push(LocalOut::Ring { endpoint, call });
                    }
                }
                ActionKind::CancelOffer { agent, offer, .. } => {
                    touched.insert(agent);
                    if self.offers.get(&agent).is_some_and(|(o, _)| *o == offer) {
                        self.offers.remove(&agent);
                    }
                    if let Some(endpoint) = seat_here(here, agent) {
                        out.push(LocalOut::StopRing { endpoint });
                    }
                }
                ActionKind::Announce { call, position, .. } => {
                    out.push(LocalOut::Announce { call, position });
                }
                ActionKind::OfferCallback { call, .. } => {
                    out.push(LocalOut::OfferCallback { call });
                }
                ActionKind::Overflow { .. } => {}
                ActionKind::Reject { call, reason } => {
                    self.calls.remove(&call);
                    let reason = match reason {
                        RejectReason::Blacklisted => ReleaseReason::Blacklisted,
                        RejectReason::QueueFull => ReleaseReason::QueueFull,
                    };
                    out.push(LocalOut::Release { call, reason });
                }
            }
        }
        for e in events {
            let log = |call, kind| LocalOut::Log { call, kind };
            match e.kind {
                EventKind::Queued { call, queue, .. } => {
                    out.push(log(call, CdrEventKind::Queued { queue, local: true }));
                }
                EventKind::Offered { call, agent, .. } => {
                    out.push(log(call, CdrEventKind::Offered { agent }));
                }
                EventKind::OfferEnded {
                    call, agent, how, ..
                } => out.push(log(call, CdrEventKind::OfferEnded { agent, how })),
                EventKind::Answered { call, agent, .. } => {
                    touched.insert(agent);
                    self.offers.remove(&agent);
                    self.talking.insert(agent, call);
                    out.push(log(call, CdrEventKind::Answered { agent }));
                    if let Some(endpoint) = seat_here(here, agent) {
                        out.push(LocalOut::StopRing {
                            endpoint: endpoint.clone(),
                        });
                        out.push(LocalOut::Join {
                            call,
                            party: party_of(agent),
                            endpoint,
                            agent,
                        });
                    }
                }
                EventKind::Ended { call, agent, .. } => {
                    touched.insert(agent);
                    self.talking.remove(&agent);
                    self.wrapping.insert(agent, call);
                    out.push(LocalOut::Leave {
                        call,
                        party: party_of(agent),
                    });
                }
                EventKind::Completed { agent, .. } => {
                    touched.insert(agent);
                    self.wrapping.remove(&agent);
                }
                EventKind::AgentStateChanged { agent, state } => {
                    touched.insert(agent);
                    out.push(LocalOut::Presence { agent, state });
                }
                _ => {}
            }
        }
        out.extend(touched.into_iter().map(|agent| LocalOut::View { agent }));
    }
}

/// `agent`'s seat endpoint, if it is on this box.
fn seat_here(here: &Here<'_>, agent: AgentId) -> Option<String> {
    here.config
        .and_then(|c| c.seat_of(agent))
        .filter(|s| s.site == *here.site)
        .map(|s| s.endpoint.clone())
}

/// The party id a local agent gets in a locally routed call (0 is the line).
fn party_of(agent: AgentId) -> PartyId {
    PartyId(agent.0.saturating_add(1))
}
