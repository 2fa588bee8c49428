//! Arrivals, offers answered or declined, hold, hang-up and wrap-up.

use tandem_node::calls::{CallDown, CdrEventKind, ReleaseReason};
use tandem_node::names::Site;
use tandem_node::routing::{AgentId, AgentState, CallId, Channel, Input, OfferEnd, QueueId};

use super::*;

impl CallControl {
    // ---- arrivals --------------------------------------------------------------

    /// A call handed to `queue`; `age_ms` is how long it already waited when
    /// it comes from an anchor's report after a restart.
    pub(super) fn arrived(
        &mut self,
        site: &Site,
        call: CallId,
        caller: Option<String>,
        queue: QueueId,
        priority: u8,
        age_ms: Option<u64>,
    ) -> Result<(), CallError> {
        if self.calls.contains_key(&call) {
            // A retried report: the call is already routed.
            return Ok(());
        }
        tracing::info!(%queue, "call arrived");
        self.calls
            .insert(call, CallRec::new(site.clone(), caller.clone(), queue));
        // An out-of-range priority is the anchor's mistake, not the caller's.
        let priority = priority.min(tandem_node::routing::MAX_CALLER_PRIORITY);
        if let Err(e) = self.enqueue(call, queue, priority, Visit::Queue, age_ms) {
            // Nobody can take it: the caller must not wait forever in silence.
            self.release(call, ReleaseReason::QueueFull);
            return Err(e);
        }
        Ok(())
    }

    pub(super) fn callback_requested(
        &mut self,
        site: &Site,
        call: CallId,
        caller: Option<String>,
        queue: QueueId,
    ) -> Result<(), CallError> {
        // Offered while waiting in a queue (the anchor waits for our release),
        // or chosen in the IVR (the IVR confirms and hangs up by itself).
        let queued = self.calls.contains_key(&call);
        if !queued {
            self.arrived(site, call, caller, queue, 0, None)?;
        }
        let waiting = self.calls.get_mut(&call).and_then(|c| {
            c.callback = true;
            c.waiting
        });
        // Already ringing an agent (one was free): it stays a callback all the
        // same, dialled when answered; only the queue figures count it as a call.
        if let Some(routing) = waiting
            && let Err(e) = self.route(Input::CallbackRequested { call: routing })
        {
            tracing::debug!(call = %call, err = %e, "callback not registered with the router");
        }
        if queued {
            self.send(
                site,
                CallDown::Release {
                    call,
                    reason: ReleaseReason::CallbackRegistered,
                },
            );
        }
        Ok(())
    }

    /// Queues `call` (again) under a fresh routing id; a restored call
    /// (`age_ms`) takes the place its age gives it.
    pub(super) fn enqueue(
        &mut self,
        call: CallId,
        queue: QueueId,
        priority: u8,
        visit: Visit,
        age_ms: Option<u64>,
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
        let input = match age_ms {
            None => Input::CallArrived {
                call: routing,
                queue,
                caller,
                priority,
                channel: Channel::Voice,
            },
            Some(age_ms) => Input::CallRestored {
                call: routing,
                queue,
                caller,
                priority,
                channel: Channel::Voice,
                age_ms,
                agent: None,
            },
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

    // ---- offers answered or declined --------------------------------------------

    pub(super) fn answer(&mut self, agent: AgentId) -> Result<(), CallError> {
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

    pub(super) fn reject(&mut self, agent: AgentId) -> Result<(), CallError> {
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

    pub(super) fn hold(&mut self, agent: AgentId, on: bool) -> Result<(), CallError> {
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

    pub(super) fn hangup(&mut self, agent: AgentId) -> Result<(), CallError> {
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

    pub(super) fn wrap_up(
        &mut self,
        agent: AgentId,
        code: String,
        note: String,
    ) -> Result<(), CallError> {
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
