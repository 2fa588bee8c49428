//! Survivable routing: while the uplink is down, calls that leave the IVR are
//! routed by a local [`Router`] over this box's own seats, built from the last
//! configuration (`ValidCenterConfig::local_routing`), and the local agents'
//! buttons drive it. Offers ring the seats here; an answer joins the seat
//! straight into the call's mixer. Calls that were waiting in the coordinator's
//! queue when the link dropped are taken back (and stay here until they end);
//! calls already talking carry on and are reported to the coordinator when the
//! link returns, so it rebuilds them.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use tandem_node::calls::{
    AgentCommand, CdrEventKind, Endpoint, PartyId, PartyRole, ReleaseReason, ValidCenterConfig,
};
use tandem_node::names::Site;
use tandem_node::routing::{
    ActionKind, AgentId, AgentState, CallId, Channel, EventKind, Input, OfferId, QueueId,
    RejectReason, Router, Timestamp,
};

use super::effects::Effect;
use super::engine::Engine;
use super::prompts;

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

    fn ensure(&mut self, config: Option<&Arc<ValidCenterConfig>>, site: &Site, now: u64) -> bool {
        if self.router.is_some() {
            return true;
        }
        let Some(config) = config else {
            tracing::warn!("no configuration: cannot route locally");
            return false;
        };
        let routing = config.local_routing(site);
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
    fn call_of(&self, agent: AgentId) -> Option<CallId> {
        self.talking
            .get(&agent)
            .or_else(|| self.offers.get(&agent).map(|(_, c)| c))
            .or_else(|| self.wrapping.get(&agent))
            .copied()
    }
}

/// The party id a local agent gets in a locally routed call (0 is the line).
fn party_of(agent: AgentId) -> PartyId {
    PartyId(agent.0.saturating_add(1))
}

impl Engine {
    fn router_input(&mut self, now: u64, input: Input) -> bool {
        if !self.local.ensure(self.config.as_ref(), &self.site, now) {
            return false;
        }
        let Some(r) = &mut self.local.router else {
            return false;
        };
        if let Err(err) = r.handle(Timestamp(now), input) {
            tracing::warn!(%err, "local router refused");
            self.pump();
            return false;
        }
        self.pump();
        true
    }

    /// Queues a call at the local router (WAN down).
    pub(crate) fn route_locally(
        &mut self,
        call: CallId,
        queue: QueueId,
        priority: u8,
        caller: Option<String>,
        now: u64,
    ) {
        self.local.calls.insert(call);
        let input = Input::CallArrived {
            call,
            queue,
            caller,
            priority,
            channel: Channel::Voice,
        };
        if !self.router_input(now, input) {
            self.local.calls.remove(&call);
            self.release(call, &ReleaseReason::QueueFull);
        }
    }

    /// The caller took a callback while queued locally.
    pub(crate) fn local_callback(&mut self, call: CallId, now: u64) {
        if self.local.calls.contains(&call) {
            self.router_input(now, Input::CallbackRequested { call });
        }
    }

    /// A call's line is released: the local router forgets it.
    pub(crate) fn local_call_ended(&mut self, call: CallId) {
        if !self.local.calls.remove(&call) {
            return;
        }
        let now = super::engine::now_ms();
        let talking = self
            .local
            .talking
            .iter()
            .find(|(_, c)| **c == call)
            .map(|(a, _)| *a);
        let input = match talking {
            Some(_) => Input::CallEnded { call },
            None => Input::CallAbandoned { call },
        };
        self.router_input(now, input);
    }

    /// Fires the local router's due timers (offer timeouts, announcements).
    pub(crate) fn local_tick(&mut self, now: u64) {
        let due = self
            .local
            .router
            .as_ref()
            .and_then(|r| r.next_deadline())
            .is_some_and(|d| d.0 <= now);
        if due {
            self.router_input(now, Input::Tick);
        }
    }

    /// The WAN went down: the local router takes over this box's agents and
    /// the calls waiting in the coordinator's queue.
    pub(crate) fn go_local(&mut self, now: u64) {
        // Offers the coordinator was ringing are void now: nobody can answer them.
        self.stop_all_rings();
        if !self.local.ensure(self.config.as_ref(), &self.site, now) {
            return;
        }
        let presence: Vec<(AgentId, AgentState)> = self
            .presence
            .iter()
            .filter(|(a, _)| self.local.agents.contains(a))
            .map(|(a, s)| (*a, s.clone()))
            .collect();
        for (agent, state) in presence {
            if state == AgentState::LoggedOut
                || self.local.agent_state(agent) != Some(AgentState::LoggedOut)
            {
                continue;
            }
            self.router_input(now, Input::AgentLogin { agent });
            if matches!(state, AgentState::Ready | AgentState::Reserved) {
                self.router_input(now, Input::AgentReady { agent });
            }
            let view = self.local_view(agent, None);
            self.views.set(agent, view);
        }
        let calls: Vec<CallId> = self.calls.keys().copied().collect();
        for call in calls {
            let (routed, answered) = self.line_of(call).unwrap_or((false, false));
            let Some(c) = self.calls.get(&call) else {
                continue;
            };
            let (queue, priority, caller, announced) =
                (c.queue, c.priority, c.caller.clone(), c.announced);
            if answered {
                self.log(call, CdrEventKind::WanLost);
            } else if routed
                && announced
                && !self.local.calls.contains(&call)
                && let Some(queue) = queue
            {
                tracing::info!(call = %call, "taking the call back from the coordinator's queue");
                self.log(call, CdrEventKind::WanLost);
                self.route_locally(call, queue, priority, caller, now);
            }
        }
    }

    /// A local agent's button.
    pub(crate) fn local_agent_command(&mut self, agent: AgentId, command: AgentCommand) {
        let now = super::engine::now_ms();
        let input = match &command {
            AgentCommand::Login => Some(Input::AgentLogin { agent }),
            AgentCommand::Logout => Some(Input::AgentLogout { agent }),
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
            AgentCommand::Reject => self
                .local
                .offers
                .get(&agent)
                .map(|(offer, _)| Input::OfferRejected { offer: *offer }),
            AgentCommand::Hold | AgentCommand::Resume => {
                self.local.talking.get(&agent).copied().map(|call| {
                    let on = command == AgentCommand::Hold;
                    self.hold(call, on);
                    if on {
                        Input::CallHeld { call }
                    } else {
                        Input::CallResumed { call }
                    }
                })
            }
            AgentCommand::Hangup => self.local.talking.get(&agent).copied().map(|call| {
                self.local.calls.remove(&call);
                Input::CallEnded { call }
            }),
            AgentCommand::WrapUp { .. } => self
                .local
                .wrapping
                .get(&agent)
                .map(|call| Input::WrapUpDone { agent, call: *call }),
            other => {
                tracing::info!(command = ?other, "not available while the WAN is down");
                None
            }
        };
        let hung_up = match (&command, &input) {
            (AgentCommand::Hangup, Some(Input::CallEnded { call })) => Some(*call),
            _ => None,
        };
        match input {
            Some(input) => {
                self.router_input(now, input);
            }
            None => tracing::info!(command = ?command, "agent command has nothing to act on"),
        }
        if let Some(call) = hung_up {
            self.leave(call, party_of(agent));
            self.release(call, &ReleaseReason::AgentHungUp(agent));
        }
        let view = self.local_view(agent, self.local.call_of(agent));
        self.views.set(agent, view);
    }

    /// Carries out what the local router decided.
    fn pump(&mut self) {
        let Some(r) = &mut self.local.router else {
            return;
        };
        let actions = r.drain_actions();
        let events = r.drain_events();
        if !events.is_empty() {
            self.effect(Effect::QueueEvents(events.clone()));
        }
        let mut touched = BTreeSet::new();
        for a in actions {
            match a.kind {
                ActionKind::Offer {
                    offer, call, agent, ..
                } => {
                    touched.insert(agent);
                    self.local.offers.insert(agent, (offer, call));
                    let caller = self.calls.get(&call).and_then(|c| c.caller.clone());
                    if let Some(ep) = self.seat_here(agent) {
                        self.ring(&ep, call, caller.as_deref());
                    }
                }
                ActionKind::CancelOffer { agent, offer, .. } => {
                    touched.insert(agent);
                    if self
                        .local
                        .offers
                        .get(&agent)
                        .is_some_and(|(o, _)| *o == offer)
                    {
                        self.local.offers.remove(&agent);
                    }
                    if let Some(ep) = self.seat_here(agent) {
                        self.stop_ring(&ep);
                    }
                }
                ActionKind::Announce { call, position, .. } => {
                    self.play_to_caller(call, prompts::announcement(position));
                    self.log(call, CdrEventKind::Announced { position });
                }
                ActionKind::OfferCallback { call, .. } => self.offer_callback(call),
                ActionKind::Overflow { .. } => {}
                ActionKind::Reject { call, reason } => {
                    self.local.calls.remove(&call);
                    let reason = match reason {
                        RejectReason::Blacklisted => ReleaseReason::Blacklisted,
                        RejectReason::QueueFull => ReleaseReason::QueueFull,
                    };
                    self.release(call, &reason);
                }
            }
        }
        for e in events {
            match e.kind {
                EventKind::Queued { call, queue, .. } => {
                    self.log(call, CdrEventKind::Queued { queue, local: true });
                }
                EventKind::Offered { call, agent, .. } => {
                    self.log(call, CdrEventKind::Offered { agent });
                }
                EventKind::OfferEnded {
                    call, agent, how, ..
                } => self.log(call, CdrEventKind::OfferEnded { agent, how }),
                EventKind::Answered { call, agent, .. } => {
                    touched.insert(agent);
                    self.local.offers.remove(&agent);
                    self.local.talking.insert(agent, call);
                    self.log(call, CdrEventKind::Answered { agent });
                    if let Some(ep) = self.seat_here(agent) {
                        self.stop_ring(&ep);
                        let joined = self.join(
                            call,
                            party_of(agent),
                            &Endpoint::Local(ep),
                            PartyRole::Party,
                            Some(agent),
                        );
                        if let Err(err) = joined {
                            tracing::error!(call = %call, %err, "cannot join the local seat");
                        }
                    }
                }
                EventKind::Ended { call, agent, .. } => {
                    touched.insert(agent);
                    self.local.talking.remove(&agent);
                    self.local.wrapping.insert(agent, call);
                    self.leave(call, party_of(agent));
                }
                EventKind::Completed { agent, .. } => {
                    touched.insert(agent);
                    self.local.wrapping.remove(&agent);
                }
                EventKind::AgentStateChanged { agent, state } => {
                    touched.insert(agent);
                    self.presence.insert(agent, state);
                }
                _ => {}
            }
        }
        for agent in touched {
            let view = self.local_view(agent, self.local.call_of(agent));
            self.views.set(agent, view);
        }
    }

    /// `agent`'s seat endpoint, if it is on this box.
    fn seat_here(&self, agent: AgentId) -> Option<String> {
        self.config
            .as_ref()
            .and_then(|c| c.seat_of(agent))
            .filter(|s| s.site == self.site)
            .map(|s| s.endpoint.clone())
    }
}
