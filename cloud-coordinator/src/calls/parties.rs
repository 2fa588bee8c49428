//! Parties joining and leaving a call, the relay legs that carry remote ones,
//! and the end of a call.

use tandem_node::calls::{CallDown, Endpoint, PartyId, PartyRole, ReleaseReason};
use tandem_node::routing::{AgentId, AgentState, CallId, Input};

use super::*;

impl CallControl {
    /// Adds `agent` to `call` with `role`. The audio stays on the anchor when the
    /// seat is on the same box (principle 3: shortest path); otherwise a relay
    /// leg is opened first, then joined. Supervisors are parties without a desk.
    pub(super) fn join(
        &mut self,
        call: CallId,
        agent: AgentId,
        role: PartyRole,
        routing: Option<CallId>,
        supervisor: bool,
    ) -> Option<PartyId> {
        let Some(seat) = self.config.seat_of(agent).cloned() else {
            tracing::warn!(call = %call, agent = %agent, "agent without a seat cannot join");
            return None;
        };
        let leg = {
            let c = self.calls.get(&call)?;
            (seat.site != c.anchor).then_some(c.anchor.clone())
        };
        let endpoint = match leg {
            None => Endpoint::Local(seat.endpoint.clone()),
            Some(anchor) => {
                let leg = self.fresh_leg();
                self.open_leg(leg, call, anchor, seat.site.clone(), seat.endpoint.clone());
                Endpoint::Leg(leg)
            }
        };
        let c = self.calls.get_mut(&call)?;
        let party = PartyId(c.next_party);
        c.next_party += 1;
        c.parties.insert(
            party,
            Party {
                agent,
                role,
                leg: match endpoint {
                    Endpoint::Leg(l) => Some(l),
                    Endpoint::Local(_) => None,
                },
                supervisor,
                routing,
            },
        );
        tracing::info!(call = %call, agent = %agent, party = party.0, ?endpoint, ?role, "join");
        self.tell_anchor(
            call,
            CallDown::Join {
                call,
                party,
                endpoint,
                role,
                agent: Some(agent),
            },
        );
        if !supervisor {
            self.desks.insert(agent, Desk::Talking { call, party });
        }
        self.dirty.insert(agent);
        Some(party)
    }

    /// An agent answering joins as a full party.
    pub(super) fn join_agent(
        &mut self,
        call: CallId,
        agent: AgentId,
        role: PartyRole,
        routing: Option<CallId>,
    ) -> Option<PartyId> {
        self.join(call, agent, role, routing, false)
    }

    /// Changes a party's role at the anchor.
    pub(super) fn set_role(&mut self, call: CallId, party: PartyId, role: PartyRole) {
        let Some(p) = self
            .calls
            .get_mut(&call)
            .and_then(|c| c.parties.get_mut(&party))
        else {
            return;
        };
        if p.role == role {
            return;
        }
        p.role = role;
        self.tell_anchor(call, CallDown::SetRole { call, party, role });
    }

    /// Removes a party from the mix and closes its leg. Supervisors whispering to
    /// it go back to listening, since their coachee is gone.
    pub(super) fn leave_party(&mut self, call: CallId, party: PartyId) -> Option<Party> {
        let p = self.calls.get_mut(&call)?.parties.remove(&party)?;
        self.tell_anchor(call, CallDown::Leave { call, party });
        if let Some(leg) = p.leg {
            self.out.push(Output::CloseLeg { leg });
        }
        let coaches: Vec<PartyId> = self
            .calls
            .get(&call)
            .map(|c| {
                c.parties
                    .iter()
                    .filter(|(_, q)| q.role == PartyRole::Whisper { to: party })
                    .map(|(id, _)| *id)
                    .collect()
            })
            .unwrap_or_default();
        for coach in coaches {
            self.set_role(call, coach, PartyRole::Monitor);
        }
        self.dirty.insert(p.agent);
        Some(p)
    }

    /// An agent leaves a call that goes on (transfer, conference member hanging
    /// up): the Router moves them to wrap-up.
    pub(super) fn leave_agent(&mut self, call: CallId, agent: AgentId) {
        let Some(party) = self.calls.get(&call).and_then(|c| c.party_of(agent)) else {
            return;
        };
        if let Some(p) = self.leave_party(call, party) {
            self.finish_party(call, &p);
        }
    }

    /// Router and desk bookkeeping for a party that is gone.
    pub(super) fn finish_party(&mut self, call: CallId, p: &Party) {
        if p.supervisor {
            if self
                .supervising
                .get(&p.agent)
                .is_some_and(|s| s.call == call)
            {
                self.supervising.remove(&p.agent);
            }
            self.dirty.insert(p.agent);
            return;
        }
        if matches!(self.desks.get(&p.agent), Some(Desk::Talking { call: c, .. }) if *c == call) {
            self.desks.remove(&p.agent);
        }
        self.last_call.insert(p.agent, call);
        match p.routing {
            Some(routing) => self.route_logged(Input::CallEnded { call: routing }),
            None => self.restore_after_direct(p.agent),
        }
        self.dirty.insert(p.agent);
    }

    /// A relay leg could not be opened (a node went away meanwhile): its party
    /// leaves, and a caller left without any agent queues again, ahead of fresh
    /// arrivals, rather than being lost.
    pub fn leg_failed(&mut self, now: Timestamp, leg: u32) {
        self.now = self.now.max(now);
        let found = self.calls.iter().find_map(|(id, c)| {
            c.parties
                .iter()
                .find(|(_, p)| p.leg == Some(leg))
                .map(|(party, p)| (*id, *party, p.agent))
        });
        let Some((call, party, agent)) = found else {
            return;
        };
        tracing::warn!(call = %call, agent = %agent, leg, "relay leg failed: the party leaves");
        self.party_lost(call, party, agent);
        self.flush_views();
    }

    /// A party whose audio path is gone (leg failed, seat node offline) leaves;
    /// a caller left without any agent queues again, ahead of fresh arrivals,
    /// rather than being released (principle: a call is never lost).
    pub(super) fn party_lost(&mut self, call: CallId, party: PartyId, agent: AgentId) {
        let consult_target = self
            .calls
            .get(&call)
            .and_then(|c| c.consult.as_ref())
            .is_some_and(|k| k.agent == Some(agent) && k.answered);
        if consult_target {
            self.end_consult(call);
        } else {
            let consulting = self
                .calls
                .get(&call)
                .and_then(|c| c.consult.as_ref())
                .is_some_and(|k| k.from == agent);
            if consulting {
                self.end_consult(call);
            }
            if let Some(p) = self.leave_party(call, party) {
                self.finish_party(call, &p);
            }
        }
        let orphan = self.calls.get(&call).is_some_and(|c| {
            c.agents().next().is_none() && c.consult.is_none() && c.waiting.is_none()
        });
        if orphan {
            self.set_hold(call, true);
            let queue = self.calls.get(&call).map(|c| c.queue);
            if let Some(queue) = queue
                && let Err(e) = self.requeue(call, queue)
            {
                tracing::warn!(call = %call, err = %e, "caller could not queue again");
            }
        }
    }

    /// An agent reserved for a direct transfer is ready again.
    pub(super) fn restore_after_direct(&mut self, agent: AgentId) {
        let held_out = [REASON_TRANSFER, super::REASON_OUTBOUND]
            .iter()
            .any(|r| self.router.agent_state(agent) == Some(AgentState::NotReady((*r).into())));
        if held_out {
            self.route_logged(Input::AgentReady { agent });
        }
    }

    /// The Router visit `party` is connected on.
    pub(super) fn party_routing(&self, call: CallId, party: PartyId) -> Option<CallId> {
        self.calls.get(&call)?.parties.get(&party)?.routing
    }

    /// Releases the line (the anchor plays what `reason` calls for) and ends the
    /// call here at once; the anchor's later `Ended` finds nothing left to do.
    pub(super) fn release(&mut self, call: CallId, reason: ReleaseReason) {
        tracing::info!(call = %call, ?reason, "release");
        self.tell_anchor(call, CallDown::Release { call, reason });
        self.tear_down(call);
    }

    /// Forgets a call: queue visits are abandoned, ringing stops, agents go to
    /// wrap-up, legs close. No `Leave` is sent: the line is gone or going.
    pub(super) fn tear_down(&mut self, call: CallId) {
        self.forget(call, false);
    }

    /// Forgets a call whose anchor went offline: its gateway's own router
    /// takes a waiting call over and counts it, so here the queue visit is
    /// withdrawn rather than abandoned (else a WAN cut would count it twice).
    pub(super) fn hand_over(&mut self, call: CallId) {
        self.forget(call, true);
    }

    fn forget(&mut self, call: CallId, handed_over: bool) {
        let Some(c) = self.calls.get(&call).cloned() else {
            return;
        };
        let visits = [c.waiting, c.consult.as_ref().and_then(|k| k.routing)];
        for routing in visits.into_iter().flatten() {
            // Waiting or ringing visits leave their queue; the Router's
            // `OfferEnded` events stop the ringing.
            self.route_logged(if handed_over {
                Input::CallWithdrawn { call: routing }
            } else {
                Input::CallAbandoned { call: routing }
            });
        }
        let ringing: Vec<AgentId> = self
            .desks
            .iter()
            .filter(|(_, d)| matches!(d, Desk::Ringing { call: x, ring: Ring::Direct { .. } } if *x == call))
            .map(|(a, _)| *a)
            .collect();
        for agent in ringing {
            self.desks.remove(&agent);
            self.stop_ring(agent, call);
            self.restore_after_direct(agent);
        }
        if let Some((agent, routing)) = c.dial {
            if matches!(self.desks.get(&agent), Some(Desk::Dialling { call: x }) if *x == call) {
                self.desks.remove(&agent);
            }
            match routing {
                Some(routing) => self.route_logged(Input::CallEnded { call: routing }),
                None => self.restore_after_direct(agent),
            }
            self.last_call.insert(agent, call);
            self.dirty.insert(agent);
        }
        for p in c.parties.values() {
            if let Some(leg) = p.leg {
                self.out.push(Output::CloseLeg { leg });
            }
            self.finish_party(call, p);
        }
        if let Some(k) = &c.consult {
            self.dirty.insert(k.from);
        }
        self.calls.remove(&call);
    }

    // ---- callbacks ---------------------------------------------------------------

    /// An agent accepted a callback: the anchor dials the caller back and the
    /// agent joins when the far end answers.
    pub(super) fn dial_back(
        &mut self,
        agent: AgentId,
        call: CallId,
        routing: Option<CallId>,
    ) -> Result<(), CallError> {
        let Some(c) = self.calls.get_mut(&call) else {
            return Err(CallError::UnknownCall(call));
        };
        c.callback = false;
        c.waiting = None;
        c.dial = Some((agent, routing));
        let number = c.caller.clone();
        self.desks.insert(agent, Desk::Dialling { call });
        let Some(number) = number else {
            // No number to call: the request cannot be served.
            self.tear_down(call);
            return refused("the callback has no number");
        };
        self.dial(agent, call, number);
        Ok(())
    }

    /// Asks the anchor to dial `number` for `agent`, whose desk shows the call.
    fn dial(&mut self, agent: AgentId, call: CallId, number: String) {
        self.desks.insert(agent, Desk::Dialling { call });
        self.tell_anchor(
            call,
            CallDown::Dial {
                call,
                line: None,
                number,
                agent,
            },
        );
        self.dirty.insert(agent);
    }

    /// An agent places a call through a line of `site`. They are held out of
    /// routing (not ready, "outbound") while it is up, and join it when the far
    /// end answers; the anchor writes its CDR like any other call's.
    pub(super) fn dial_out(
        &mut self,
        agent: AgentId,
        site: Site,
        number: String,
    ) -> Result<(), CallError> {
        let dialable = !number.is_empty()
            && number.len() <= MAX_DIAL_LEN
            && number
                .chars()
                .enumerate()
                .all(|(i, c)| c.is_ascii_digit() || c == '*' || c == '#' || (c == '+' && i == 0));
        if !dialable {
            return refused(format!(
                "{number:?} is not a number to dial (digits, * and #, an optional leading +, at most {MAX_DIAL_LEN})"
            ));
        }
        if self.desks.contains_key(&agent) {
            return refused("finish the current call first");
        }
        if self.config.site(&site).is_none() {
            return refused(format!("site {site} has no lines in the configuration"));
        }
        match self.router.agent_state(agent) {
            Some(AgentState::Ready) => self.route(Input::AgentNotReady {
                agent,
                reason: super::REASON_OUTBOUND.into(),
            })?,
            Some(AgentState::NotReady(_)) => {}
            _ => return refused("log in and finish any call or wrap-up first"),
        }
        // Unique like the gateways' ids: time in the high bits, a counter below.
        let call = CallId((self.now.0 << 16) | u64::from(self.next_outbound));
        self.next_outbound = self.next_outbound.wrapping_add(1);
        tracing::info!(call = %call, %site, "outbound call");
        let mut rec = CallRec::new(site, Some(number.clone()), QueueId(0));
        rec.dial = Some((agent, None));
        self.calls.insert(call, rec);
        self.dial(agent, call, number);
        Ok(())
    }

    pub(super) fn dial_answered(&mut self, call: CallId) -> Result<(), CallError> {
        let Some((agent, routing)) = self.calls.get_mut(&call).and_then(|c| c.dial.take()) else {
            return Err(CallError::UnknownCall(call));
        };
        self.join_agent(call, agent, PartyRole::Party, routing);
        Ok(())
    }
}
