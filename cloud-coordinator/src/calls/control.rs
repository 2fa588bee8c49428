//! Arrivals, the Router's decisions, offers, answers, hold and hang-up, and the
//! dispatch of gateway reports and agent commands.

use tandem_node::calls::{AgentCommand, CallDown, CallUp, CdrEventKind, ReleaseReason};
use tandem_node::names::Site;
use tandem_node::routing::{
    ActionKind, AgentId, AgentState, CallId, Channel, EventKind, Input, OfferEnd, OfferId, QueueId,
    RejectReason,
};

use super::*;

impl CallControl {
    pub(super) fn dispatch_up(&mut self, site: &Site, up: CallUp) -> Result<(), CallError> {
        match up {
            CallUp::Arrived {
                call,
                caller,
                queue,
                priority,
                ..
            } => {
                let span = tracing::info_span!("call", call = %call, site = %site);
                let _enter = span.enter();
                self.arrived(site, call, caller, queue, priority)
            }
            CallUp::CallbackRequested {
                call,
                caller,
                queue,
                ..
            } => self.callback_requested(site, call, caller, queue),
            CallUp::Ended { call, cause } => {
                tracing::info!(call = %call, site = %site, ?cause, "call ended at the anchor");
                if self.calls.get(&call).is_some_and(|c| c.callback) {
                    // The line is gone but the callback keeps its place.
                    return Ok(());
                }
                if !self.calls.contains_key(&call) {
                    return Ok(());
                }
                self.tear_down(call);
                Ok(())
            }
            CallUp::DialAnswered { call } => self.dial_answered(call),
            CallUp::Failed { call, reason } => {
                tracing::warn!(call = %call, site = %site, %reason, "gateway could not carry out a command");
                // A callback the anchor cannot dial is over: the agent gets their
                // desk back (through wrap-up) and the reason on screen.
                if let Some((agent, _)) = self.calls.get(&call).and_then(|c| c.dial) {
                    self.refusals.insert(
                        agent,
                        format!("the callback could not be dialled: {reason}"),
                    );
                    self.tear_down(call);
                }
                Ok(())
            }
            CallUp::SeatHook { endpoint, off_hook } => {
                let Some(agent) = self.config.agent_at(site, &endpoint) else {
                    return refused(format!("{site}/{endpoint} is nobody's seat"));
                };
                let command = match (off_hook, self.desks.get(&agent)) {
                    (true, Some(Desk::Ringing { .. })) => AgentCommand::Answer,
                    (false, Some(Desk::Talking { .. } | Desk::Dialling { .. })) => {
                        AgentCommand::Hangup
                    }
                    (false, _) if self.supervising.contains_key(&agent) => {
                        AgentCommand::StopSupervising
                    }
                    // Lifting an idle handset or hanging up an idle one: nothing to do.
                    _ => return Ok(()),
                };
                self.agent_command(self.now, agent, command).map(|_| ())
            }
            CallUp::Agent { agent, command } => {
                let seated_here = self.config.seat_of(agent).is_some_and(|s| &s.site == site);
                if !seated_here {
                    let why = format!("agent {agent} does not sit at {site}");
                    self.send(
                        site,
                        CallDown::AgentUpdate(tandem_node::calls::AgentUpdate {
                            agent,
                            view: self.view(agent),
                            refused: Some(why.clone()),
                        }),
                    );
                    return refused(why);
                }
                self.agent_command(self.now, agent, command).map(|_| ())
            }
        }
    }

    pub(super) fn command(
        &mut self,
        agent: AgentId,
        command: AgentCommand,
    ) -> Result<(), CallError> {
        match command {
            AgentCommand::Login => Ok(self.route(Input::AgentLogin { agent })?),
            AgentCommand::Logout => {
                // A ringing offer is withdrawn by the Router; wrap-up it refuses.
                let talking = matches!(
                    self.desks.get(&agent),
                    Some(Desk::Talking { .. } | Desk::Dialling { .. })
                );
                if talking || self.supervising.contains_key(&agent) {
                    return refused("finish the call first");
                }
                Ok(self.route(Input::AgentLogout { agent })?)
            }
            AgentCommand::Ready => {
                if self.config.seat_of(agent).is_none() {
                    return Err(CallError::NoSeat(agent));
                }
                if self.supervising.contains_key(&agent) {
                    return refused("stop supervising first");
                }
                Ok(self.route(Input::AgentReady { agent })?)
            }
            AgentCommand::NotReady { reason } => {
                Ok(self.route(Input::AgentNotReady { agent, reason })?)
            }
            AgentCommand::Answer => self.answer(agent),
            AgentCommand::Reject => self.reject(agent),
            AgentCommand::Hold => self.hold(agent, true),
            AgentCommand::Resume => self.hold(agent, false),
            AgentCommand::Hangup => self.hangup(agent),
            AgentCommand::Transfer { to, consult } => self.transfer(agent, to, consult),
            AgentCommand::CompleteTransfer => self.complete_transfer(agent),
            AgentCommand::Conference => self.conference(agent),
            AgentCommand::CancelConsult => self.cancel_consult(agent),
            AgentCommand::WrapUp { disposition, note } => self.wrap_up(agent, disposition, note),
            AgentCommand::Dial { .. } => refused("outbound dialling is not supported yet"),
            AgentCommand::Monitor { agent: target } => {
                self.supervise(agent, target, super::supervision::Mode::Monitor)
            }
            AgentCommand::Whisper { agent: target } => {
                self.supervise(agent, target, super::supervision::Mode::Whisper)
            }
            AgentCommand::Barge { agent: target } => {
                self.supervise(agent, target, super::supervision::Mode::Barge)
            }
            AgentCommand::ForceRelease { agent: target } => self.force_release(agent, target),
            AgentCommand::StopSupervising => self.stop_supervising(agent),
        }
    }

    // ---- arrivals --------------------------------------------------------------

    fn arrived(
        &mut self,
        site: &Site,
        call: CallId,
        caller: Option<String>,
        queue: QueueId,
        priority: u8,
    ) -> Result<(), CallError> {
        if self.calls.contains_key(&call) {
            // A retried report: the call is already routed.
            return Ok(());
        }
        tracing::info!(%queue, "call arrived");
        self.calls.insert(
            call,
            CallRec {
                anchor: site.clone(),
                caller: caller.clone(),
                queue,
                next_party: 1,
                parties: Default::default(),
                held: false,
                waiting: None,
                consult: None,
                callback: false,
                dial: None,
            },
        );
        if let Err(e) = self.enqueue(call, queue, priority, Visit::Queue) {
            // Nobody can take it: the caller must not wait forever in silence.
            self.release(call, ReleaseReason::QueueFull);
            return Err(e);
        }
        Ok(())
    }

    fn callback_requested(
        &mut self,
        site: &Site,
        call: CallId,
        caller: Option<String>,
        queue: QueueId,
    ) -> Result<(), CallError> {
        if !self.calls.contains_key(&call) {
            self.arrived(site, call, caller, queue, 0)?;
        }
        let Some(routing) = self.calls.get(&call).and_then(|c| c.waiting) else {
            return refused(format!("call {call} is not waiting in a queue"));
        };
        self.route(Input::CallbackRequested { call: routing })?;
        if let Some(c) = self.calls.get_mut(&call) {
            c.callback = true;
        }
        self.send(
            site,
            CallDown::Release {
                call,
                reason: ReleaseReason::CallbackRegistered,
            },
        );
        Ok(())
    }

    /// Queues `call` (again) under a fresh routing id.
    pub(super) fn enqueue(
        &mut self,
        call: CallId,
        queue: QueueId,
        priority: u8,
        visit: Visit,
    ) -> Result<CallId, CallError> {
        let caller = self.calls.get(&call).and_then(|c| c.caller.clone());
        let routing = self.fresh_routing(call, visit);
        match visit {
            Visit::Queue => {
                if let Some(c) = self.calls.get_mut(&call) {
                    c.waiting = Some(routing);
                    c.queue = queue;
                }
            }
            Visit::Consult { .. } => {
                if let Some(c) = self.calls.get_mut(&call).and_then(|c| c.consult.as_mut()) {
                    c.routing = Some(routing);
                }
            }
        }
        let input = Input::CallArrived {
            call: routing,
            queue,
            caller,
            priority,
            channel: Channel::Voice,
        };
        if let Err(e) = self.route(input) {
            self.routes.remove(&routing);
            if let Some(c) = self.calls.get_mut(&call) {
                if c.waiting == Some(routing) {
                    c.waiting = None;
                }
                if let Some(k) = c.consult.as_mut().filter(|k| k.routing == Some(routing)) {
                    k.routing = None;
                }
            }
            return Err(e.into());
        }
        Ok(routing)
    }

    // ---- the Router's decisions ------------------------------------------------

    /// Carries out the Router's actions and records its events.
    ///
    /// Events go first: an offer that ended stops ringing before the same agent
    /// is rung with the next call (the Router decides both in one step when an
    /// agent declines and another call waits). An offer made and withdrawn within
    /// the same step is never rung at all.
    pub(super) fn pump(&mut self) {
        let actions = self.router.drain_actions();
        let events = self.router.drain_events();
        let ended: Vec<OfferId> = events
            .iter()
            .filter_map(|e| match e.kind {
                EventKind::OfferEnded { offer, .. } => Some(offer),
                _ => None,
            })
            .collect();
        for event in events {
            self.record(event);
        }
        for action in actions {
            self.act(action.kind, &ended);
        }
    }

    fn act(&mut self, action: ActionKind, ended: &[OfferId]) {
        match action {
            ActionKind::Offer {
                offer,
                call: routing,
                agent,
                callback,
                ..
            } => {
                let Some(route) = self.routes.get(&routing).copied() else {
                    return;
                };
                if ended.contains(&offer) {
                    return;
                }
                let call = route.call;
                tracing::info!(call = %call, agent = %agent, callback, "offer");
                if self.config.seat_of(agent).is_none() {
                    // Cannot ring a seat that does not exist: give the call back.
                    let _ = self.route(Input::OfferRejected { offer });
                    return;
                }
                self.desks.insert(
                    agent,
                    Desk::Ringing {
                        call,
                        ring: Ring::Routed { offer, routing },
                    },
                );
                self.ring(agent, call);
            }
            // Ringing stops on the `OfferEnded` event, which also covers rejects.
            ActionKind::CancelOffer { .. } => {}
            ActionKind::Announce {
                call,
                position,
                ewt_ms,
            } => {
                if let Some(r) = self.routes.get(&call).copied() {
                    self.tell_anchor(
                        r.call,
                        CallDown::Announce {
                            call: r.call,
                            position,
                            ewt_ms,
                        },
                    );
                }
            }
            ActionKind::OfferCallback { call, ewt_ms } => {
                if let Some(r) = self.routes.get(&call).copied() {
                    self.tell_anchor(
                        r.call,
                        CallDown::OfferCallback {
                            call: r.call,
                            ewt_ms,
                        },
                    );
                }
            }
            ActionKind::Overflow { call, to, .. } => {
                if let Some(r) = self.routes.get(&call).copied() {
                    if r.visit == Visit::Queue
                        && let Some(c) = self.calls.get_mut(&r.call)
                    {
                        c.queue = to;
                    }
                    self.tell_anchor(
                        r.call,
                        CallDown::Log {
                            call: r.call,
                            event: CdrEventKind::Queued {
                                queue: to,
                                local: false,
                            },
                        },
                    );
                }
            }
            ActionKind::Reject { call, reason } => {
                let Some(r) = self.routes.remove(&call) else {
                    return;
                };
                match r.visit {
                    Visit::Queue => {
                        let reason = match reason {
                            RejectReason::Blacklisted => ReleaseReason::Blacklisted,
                            RejectReason::QueueFull => ReleaseReason::QueueFull,
                        };
                        self.release(r.call, reason);
                    }
                    Visit::Consult { from } => {
                        self.refusals
                            .insert(from, "the consult target queue is full".into());
                        if let Some(k) =
                            self.calls.get_mut(&r.call).and_then(|c| c.consult.as_mut())
                        {
                            k.routing = None;
                        }
                        self.end_consult(r.call);
                    }
                }
            }
        }
    }

    /// Rings `agent`'s seat with `call` and logs the offer at the anchor.
    pub(super) fn ring(&mut self, agent: AgentId, call: CallId) {
        let caller = self.calls.get(&call).and_then(|c| c.caller.clone());
        if let Some(seat) = self.config.seat_of(agent).cloned() {
            self.send(
                &seat.site,
                CallDown::Ring {
                    call,
                    agent,
                    endpoint: seat.endpoint,
                    caller,
                },
            );
        }
        self.tell_anchor(
            call,
            CallDown::Log {
                call,
                event: CdrEventKind::Offered { agent },
            },
        );
        self.dirty.insert(agent);
    }

    /// Stops `agent`'s seat ringing for `call`.
    pub(super) fn stop_ring(&mut self, agent: AgentId, call: CallId) {
        if let Some(seat) = self.config.seat_of(agent).cloned() {
            self.send(
                &seat.site,
                CallDown::StopRing {
                    call,
                    agent,
                    endpoint: seat.endpoint,
                },
            );
        }
        self.dirty.insert(agent);
    }

    fn record(&mut self, event: tandem_node::routing::Event) {
        let routing = event_call(&event.kind);
        let route = routing.and_then(|r| self.routes.get(&r).copied());
        match &event.kind {
            EventKind::OfferEnded {
                offer, agent, how, ..
            } => {
                let ours = matches!(
                    self.desks.get(agent),
                    Some(Desk::Ringing { ring: Ring::Routed { offer: o, .. }, .. }) if o == offer
                );
                if ours {
                    self.desks.remove(agent);
                    if let Some(r) = route {
                        self.stop_ring(*agent, r.call);
                        self.tell_anchor(
                            r.call,
                            CallDown::Log {
                                call: r.call,
                                event: CdrEventKind::OfferEnded {
                                    agent: *agent,
                                    how: *how,
                                },
                            },
                        );
                    }
                }
            }
            EventKind::AgentStateChanged { agent, .. } => {
                self.dirty.insert(*agent);
            }
            EventKind::Ended { call, agent, .. } => {
                if let Some(r) = route
                    && let Some((caller, queue)) =
                        self.calls.get(&r.call).map(|c| (c.caller.clone(), c.queue))
                {
                    self.desks.insert(
                        *agent,
                        Desk::WrapUp {
                            call: r.call,
                            routing: *call,
                            caller,
                            queue,
                        },
                    );
                    self.last_call.insert(*agent, r.call);
                }
                self.dirty.insert(*agent);
            }
            EventKind::Completed { call, agent, .. } => {
                if matches!(self.desks.get(agent), Some(Desk::WrapUp { routing, .. }) if routing == call)
                {
                    self.desks.remove(agent);
                }
                self.routes.remove(call);
                self.dirty.insert(*agent);
            }
            // A rejected visit's route goes with the `Reject` action that follows.
            EventKind::Abandoned { call, .. } => {
                self.routes.remove(call);
            }
            _ => {}
        }
        // A cancelled consult is the agent changing their mind, not a caller
        // giving up: it stays in the log but not in the abandon figures.
        let cancelled_consult = matches!(event.kind, EventKind::Abandoned { .. })
            && route.is_some_and(|r| matches!(r.visit, Visit::Consult { .. }));
        if !cancelled_consult {
            self.stats.record(&event);
        }
        self.out.push(Output::QueueEvent(QueueEvent {
            call: route.map(|r| r.call),
            event,
        }));
    }

    // ---- offers answered or declined --------------------------------------------

    fn answer(&mut self, agent: AgentId) -> Result<(), CallError> {
        let Some(Desk::Ringing { call, ring }) = self.desks.get(&agent).cloned() else {
            return refused("nothing is ringing");
        };
        let span = tracing::info_span!("answer", call = %call, agent = %agent);
        let _enter = span.enter();
        let (routing, visit) = match ring {
            Ring::Routed { offer, routing } => {
                self.route(Input::OfferAccepted { offer })?;
                let visit = self.routes.get(&routing).map_or(Visit::Queue, |r| r.visit);
                (Some(routing), visit)
            }
            Ring::Direct { visit, .. } => (None, visit),
        };
        self.desks.remove(&agent);
        self.stop_ring(agent, call);
        if self.calls.get(&call).is_some_and(|c| c.callback) {
            return self.dial_back(agent, call, routing);
        }
        self.tell_anchor(
            call,
            CallDown::Log {
                call,
                event: CdrEventKind::Answered { agent },
            },
        );
        match visit {
            Visit::Queue => {
                if let Some(c) = self.calls.get_mut(&call) {
                    c.waiting = None;
                }
                self.join_agent(call, agent, PartyRole::Party, routing);
                self.set_hold(call, false);
            }
            Visit::Consult { .. } => {
                if let Some(k) = self.calls.get_mut(&call).and_then(|c| c.consult.as_mut()) {
                    k.routing = None;
                    k.agent = Some(agent);
                    k.answered = true;
                    let from = k.from;
                    self.dirty.insert(from);
                }
                self.join_agent(call, agent, PartyRole::Party, routing);
            }
        }
        tracing::info!("answered");
        Ok(())
    }

    fn reject(&mut self, agent: AgentId) -> Result<(), CallError> {
        match self.desks.get(&agent).cloned() {
            Some(Desk::Ringing {
                ring: Ring::Routed { offer, .. },
                ..
            }) => Ok(self.route(Input::OfferRejected { offer })?),
            Some(Desk::Ringing {
                ring: Ring::Direct { .. },
                ..
            }) => {
                self.direct_offer_ended(agent, OfferEnd::Rejected);
                Ok(())
            }
            _ => refused("nothing is ringing"),
        }
    }

    /// The agent's call: the one they talk on, with their party.
    pub(super) fn talking(&self, agent: AgentId) -> Result<(CallId, PartyId), CallError> {
        match self.desks.get(&agent) {
            Some(Desk::Talking { call, party }) => Ok((*call, *party)),
            _ => refused("not on a call"),
        }
    }

    fn hold(&mut self, agent: AgentId, on: bool) -> Result<(), CallError> {
        let (call, party) = self.talking(agent)?;
        if self.calls.get(&call).is_some_and(|c| c.consult.is_some()) {
            return refused("a consult is in progress");
        }
        if let Some(routing) = self.party_routing(call, party) {
            self.route(if on {
                Input::CallHeld { call: routing }
            } else {
                Input::CallResumed { call: routing }
            })?;
        }
        self.set_hold(call, on);
        Ok(())
    }

    /// Puts the caller on hold or takes them off it, if that changes anything.
    pub(super) fn set_hold(&mut self, call: CallId, on: bool) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.held == on {
            return;
        }
        c.held = on;
        let affected: Vec<AgentId> = c.parties.values().map(|p| p.agent).collect();
        self.dirty.extend(affected);
        self.tell_anchor(call, CallDown::Hold { call, on });
    }

    fn hangup(&mut self, agent: AgentId) -> Result<(), CallError> {
        if let Some(Desk::Dialling { call }) = self.desks.get(&agent).cloned() {
            // Giving up on a callback still ringing out.
            self.release(call, ReleaseReason::AgentHungUp(agent));
            return Ok(());
        }
        let (call, _) = self.talking(agent)?;
        let span = tracing::info_span!("hangup", call = %call, agent = %agent);
        let _enter = span.enter();
        let consult = self.calls.get(&call).and_then(|c| c.consult.clone());
        if let Some(k) = consult {
            if k.from == agent && k.answered {
                // Hanging up during an answered consult hands the caller over.
                return self.complete_transfer(agent);
            }
            self.end_consult(call);
        }
        let others = self
            .calls
            .get(&call)
            .map_or(0, |c| c.agents().filter(|(_, p)| p.agent != agent).count());
        if others == 0 {
            self.release(call, ReleaseReason::AgentHungUp(agent));
        } else {
            self.leave_agent(call, agent);
        }
        Ok(())
    }

    fn wrap_up(&mut self, agent: AgentId, code: String, note: String) -> Result<(), CallError> {
        let call = match self.desks.get(&agent).cloned() {
            Some(Desk::WrapUp { call, routing, .. }) => {
                self.route(Input::WrapUpDone {
                    agent,
                    call: routing,
                })?;
                call
            }
            Some(_) => return refused("the call is not over yet"),
            None => match self.last_call.get(&agent) {
                Some(call) => *call,
                None => return refused("no call to wrap up"),
            },
        };
        self.last_call.remove(&agent);
        tracing::info!(call = %call, agent = %agent, %code, "disposition");
        self.out.push(Output::Disposition(Disposition {
            call,
            agent,
            code,
            note,
            at_ms: self.now.0,
        }));
        Ok(())
    }

    /// The agent's seat went away with its node.
    pub(super) fn seat_lost(&mut self, agent: AgentId) {
        if self.supervising.contains_key(&agent) {
            let _ = self.stop_supervising(agent);
        }
        match self.desks.get(&agent).cloned() {
            Some(Desk::Talking { call, party }) => self.party_lost(call, party, agent),
            Some(Desk::Ringing { .. }) => {
                let _ = self.reject(agent);
            }
            Some(Desk::Dialling { .. }) => {
                let _ = self.hangup(agent);
            }
            _ => {}
        }
        // Also during wrap-up: the agent must not turn ready towards a dead seat.
        if !matches!(
            self.router.agent_state(agent),
            None | Some(AgentState::LoggedOut | AgentState::NotReady(_))
        ) {
            self.route_logged(Input::AgentNotReady {
                agent,
                reason: REASON_SEAT_OFFLINE.into(),
            });
        }
    }
}

/// The routing id an event names.
fn event_call(kind: &EventKind) -> Option<CallId> {
    match kind {
        EventKind::Queued { call, .. }
        | EventKind::Blacklisted { call, .. }
        | EventKind::Rejected { call, .. }
        | EventKind::Overflowed { call, .. }
        | EventKind::Widened { call, .. }
        | EventKind::Offered { call, .. }
        | EventKind::OfferEnded { call, .. }
        | EventKind::Answered { call, .. }
        | EventKind::Held { call }
        | EventKind::Resumed { call }
        | EventKind::Ended { call, .. }
        | EventKind::Completed { call, .. }
        | EventKind::Abandoned { call, .. }
        | EventKind::CallbackOffered { call, .. }
        | EventKind::CallbackRequested { call, .. } => Some(*call),
        EventKind::AgentStateChanged { .. } => None,
    }
}
