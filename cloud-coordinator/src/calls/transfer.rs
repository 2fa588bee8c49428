//! Transfers: blind (the agent leaves at once, the call queues again or rings a
//! named agent) and consult (the caller holds while the agent talks to the
//! target; then complete, conference or cancel). An expert pool is a queue.
//!
//! The Router only offers calls from queues, so a transfer to a *named* agent is
//! a direct offer timed by this core; meanwhile the Router holds the target not
//! ready ([`REASON_TRANSFER`]) so it offers them nothing else.

use tandem_node::calls::{CallDown, CdrEventKind, ReleaseReason, TransferTarget};
use tandem_node::routing::{AgentId, AgentState, CallId, Input, OfferEnd};

use super::*;

impl CallControl {
    pub(super) fn transfer(
        &mut self,
        agent: AgentId,
        to: TransferTarget,
        consult: bool,
    ) -> Result<(), CallError> {
        let (call, party) = self.talking(agent)?;
        let span = tracing::info_span!("transfer", call = %call, agent = %agent, ?to, consult);
        let _enter = span.enter();
        let Some(c) = self.calls.get(&call) else {
            return Err(CallError::UnknownCall(call));
        };
        if c.consult.is_some() {
            return refused("a consult is in progress");
        }
        if c.agents().any(|(_, p)| p.agent != agent) {
            return refused("in a conference: hang up to leave it");
        }
        match &to {
            TransferTarget::Agent(t) => {
                if *t == agent {
                    return refused("cannot transfer to yourself");
                }
                if self.config.seat_of(*t).is_none() {
                    return Err(CallError::NoSeat(*t));
                }
                if self.router.agent_state(*t) != Some(AgentState::Ready) {
                    return refused(format!("agent {t} is not ready"));
                }
            }
            TransferTarget::Queue(q) => {
                if !self
                    .config
                    .config()
                    .routing
                    .queues
                    .iter()
                    .any(|x| x.id == *q)
                {
                    return refused(format!("unknown queue {q}"));
                }
            }
        }
        if !consult {
            self.log_transfer(call, agent, to.clone(), false);
            self.leave_agent(call, agent);
            self.set_hold(call, true);
            match to {
                TransferTarget::Queue(q) => self.requeue(call, q)?,
                TransferTarget::Agent(t) => self.direct_offer(call, t, Visit::Queue),
            }
            return Ok(());
        }
        if let Some(routing) = self.party_routing(call, party) {
            self.route_logged(Input::CallHeld { call: routing });
        }
        self.set_hold(call, true);
        if let Some(c) = self.calls.get_mut(&call) {
            c.consult = Some(Consult {
                from: agent,
                to: to.clone(),
                routing: None,
                agent: None,
                answered: false,
            });
        }
        let visit = Visit::Consult { from: agent };
        match to {
            TransferTarget::Queue(q) => {
                if let Err(e) = self.enqueue(call, q, TRANSFER_PRIORITY, visit, None) {
                    self.end_consult(call);
                    return Err(e);
                }
            }
            TransferTarget::Agent(t) => {
                if let Some(k) = self.calls.get_mut(&call).and_then(|c| c.consult.as_mut()) {
                    k.agent = Some(t);
                }
                self.direct_offer(call, t, visit);
            }
        }
        Ok(())
    }

    /// Queues a transferred caller again, ahead of fresh arrivals; a caller no
    /// queue can take is released rather than left on hold forever.
    pub(super) fn requeue(
        &mut self,
        call: CallId,
        queue: tandem_node::routing::QueueId,
    ) -> Result<(), CallError> {
        if let Err(e) = self.enqueue(call, queue, TRANSFER_PRIORITY, Visit::Queue, None) {
            self.release(call, ReleaseReason::QueueFull);
            return Err(e);
        }
        Ok(())
    }

    /// Rings a named agent with `call`, outside the Router.
    fn direct_offer(&mut self, call: CallId, agent: AgentId, visit: Visit) {
        self.route_logged(Input::AgentNotReady {
            agent,
            reason: REASON_TRANSFER.into(),
        });
        let ring_ms = self
            .calls
            .get(&call)
            .and_then(|c| {
                self.config
                    .config()
                    .routing
                    .queues
                    .iter()
                    .find(|q| q.id == c.queue)
            })
            .map_or(DEFAULT_DIRECT_RING_MS, |q| q.offer_timeout_ms);
        self.desks.insert(
            agent,
            Desk::Ringing {
                call,
                ring: Ring::Direct {
                    deadline: self.now.plus(ring_ms),
                    visit,
                },
            },
        );
        self.ring(agent, call);
    }

    /// A direct offer was declined or timed out: the agent is ready again; a
    /// blind-transferred caller queues again, a consult ends.
    pub(super) fn direct_offer_ended(&mut self, agent: AgentId, how: OfferEnd) {
        let Some(Desk::Ringing {
            call,
            ring: Ring::Direct { visit, .. },
        }) = self.desks.get(&agent).cloned()
        else {
            return;
        };
        self.desks.remove(&agent);
        self.stop_ring(agent, call);
        self.tell_anchor(
            call,
            CallDown::Log {
                call,
                event: CdrEventKind::OfferEnded { agent, how },
            },
        );
        self.restore_after_direct(agent);
        match visit {
            Visit::Queue => {
                let queue = self.calls.get(&call).map(|c| c.queue);
                if let Some(queue) = queue
                    && let Err(e) = self.requeue(call, queue)
                {
                    tracing::warn!(call = %call, err = %e, "transferred call could not queue again");
                }
            }
            Visit::Consult { from } => {
                self.refusals
                    .insert(from, format!("agent {agent} did not answer"));
                if let Some(k) = self.calls.get_mut(&call).and_then(|c| c.consult.as_mut()) {
                    k.agent = None;
                }
                self.end_consult(call);
            }
        }
    }

    /// The consult of `call` is over without a transfer: the target leaves (or
    /// stops ringing), the caller comes off hold.
    pub(super) fn end_consult(&mut self, call: CallId) {
        let Some(k) = self.calls.get_mut(&call).and_then(|c| c.consult.take()) else {
            return;
        };
        if let Some(routing) = k.routing {
            self.route_logged(Input::CallAbandoned { call: routing });
        }
        if let Some(t) = k.agent {
            if k.answered {
                self.leave_agent(call, t);
            } else if matches!(self.desks.get(&t), Some(Desk::Ringing { call: x, .. }) if *x == call)
            {
                self.desks.remove(&t);
                self.stop_ring(t, call);
                self.restore_after_direct(t);
            }
        }
        self.resume(call, k.from);
        self.dirty.insert(k.from);
    }

    /// Takes the caller off hold for `agent` (who held them for the consult).
    fn resume(&mut self, call: CallId, agent: AgentId) {
        let routing = self
            .calls
            .get(&call)
            .and_then(|c| c.party_of(agent).and_then(|p| c.parties.get(&p)))
            .and_then(|p| p.routing);
        if let Some(routing) = routing {
            self.route_logged(Input::CallResumed { call: routing });
        }
        self.set_hold(call, false);
    }

    /// Ends the agent's answered consult (they started it), for completing it
    /// or turning it into a conference: the target's view changes either way.
    fn take_answered_consult(&mut self, agent: AgentId) -> Result<(CallId, Consult), CallError> {
        let (call, _) = self.talking(agent)?;
        let k = match self.calls.get(&call).and_then(|c| c.consult.clone()) {
            Some(k) if k.from == agent && k.answered => k,
            Some(k) if k.from == agent => return refused("the consult target has not answered"),
            _ => return refused("no consult in progress"),
        };
        if let Some(c) = self.calls.get_mut(&call) {
            c.consult = None;
        }
        if let Some(t) = k.agent {
            self.dirty.insert(t);
        }
        Ok((call, k))
    }

    /// Records a transfer at the anchor and in the queue's figures.
    fn log_transfer(&mut self, call: CallId, from: AgentId, to: TransferTarget, consult: bool) {
        if let Some(queue) = self.calls.get(&call).map(|c| c.queue) {
            self.stats.transferred(queue);
        }
        self.tell_anchor(
            call,
            CallDown::Log {
                call,
                event: CdrEventKind::Transferred { from, to, consult },
            },
        );
    }

    pub(super) fn complete_transfer(&mut self, agent: AgentId) -> Result<(), CallError> {
        let (call, k) = self.take_answered_consult(agent)?;
        tracing::info!(call = %call, agent = %agent, "consult transfer completed");
        self.log_transfer(call, agent, k.to, true);
        self.leave_agent(call, agent);
        self.set_hold(call, false);
        Ok(())
    }

    pub(super) fn conference(&mut self, agent: AgentId) -> Result<(), CallError> {
        let (call, _) = self.take_answered_consult(agent)?;
        tracing::info!(call = %call, agent = %agent, "conference");
        self.resume(call, agent);
        Ok(())
    }

    pub(super) fn cancel_consult(&mut self, agent: AgentId) -> Result<(), CallError> {
        let (call, _) = self.talking(agent)?;
        match self.calls.get(&call).and_then(|c| c.consult.as_ref()) {
            Some(k) if k.from == agent => {
                self.end_consult(call);
                Ok(())
            }
            _ => refused("no consult in progress"),
        }
    }
}
