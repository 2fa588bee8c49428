//! A call's life in the engine: arrival (blacklist, VIP), queue entry and
//! overflow, timed checks (widening, announcements, callbacks), answer, hold,
//! end, wrap-up, completion, abandon.

use super::*;

impl Router {
    // ---- calls arriving and moving between queues ---------------------------

    /// A call reaching its queue; `arrival` orders it among the waiting calls
    /// (now for a fresh arrival, earlier for a restored one).
    pub(super) fn arrive(&mut self, new: NewCall, arrival: Timestamp) -> Result<(), RouteError> {
        let mut q = self.check_new_call(&new)?;
        let NewCall {
            call,
            caller,
            priority,
            channel,
            ..
        } = new;
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
                key: QueueKey::new(&self.queues[q].cfg, priority, arrival, call),
                arrival,
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

    /// Validates a new call's id, queue, priority and caller; returns the
    /// queue's index.
    fn check_new_call(&self, new: &NewCall) -> Result<usize, RouteError> {
        if self.calls.contains_key(&new.call) {
            return Err(RouteError::DuplicateCall(new.call));
        }
        let q = *self
            .queue_index
            .get(&new.queue)
            .ok_or(RouteError::UnknownQueue(new.queue))?;
        if new.priority > MAX_CALLER_PRIORITY {
            return Err(RouteError::BadPriority(new.priority));
        }
        if new
            .caller
            .as_ref()
            .is_some_and(|c| c.len() > MAX_CALLER_LEN)
        {
            return Err(RouteError::TooLong {
                field: "caller",
                max: MAX_CALLER_LEN,
            });
        }
        Ok(q)
    }

    /// The instant `ms` before now.
    pub(super) fn ago(&self, ms: u64) -> Timestamp {
        Timestamp(self.now.0.saturating_sub(ms))
    }

    /// A call found connected to `agent` since `since` (see
    /// [`Input::CallRestored`]): the agent holds it and is offered nothing else
    /// meanwhile; any offer ringing them is withdrawn (the call it offered goes
    /// back in place).
    pub(super) fn restore_connected(
        &mut self,
        new: NewCall,
        since: Timestamp,
        agent: AgentId,
    ) -> Result<(), RouteError> {
        let q = self.check_new_call(&new)?;
        let NewCall {
            call,
            queue,
            caller,
            priority,
            channel,
        } = new;
        let a = self.agent_idx(agent)?;
        let rt = &self.agents[a];
        if rt.presence == Presence::LoggedOut {
            return Err(RouteError::NotLoggedIn(agent));
        }
        if rt
            .interactions
            .iter()
            .any(|i| !matches!(i.phase, Phase::Offered(_)))
        {
            return Err(RouteError::AgentBusy(agent));
        }
        self.withdraw_offers(a);
        self.calls.insert(
            call,
            CallRt {
                queue,
                key: QueueKey::new(&self.queues[q].cfg, priority, since, call),
                arrival: since,
                entered_queue: since,
                caller,
                priority,
                channel,
                callback: false,
                callback_offered: false,
                state: CallState::Connected {
                    agent,
                    since,
                    hold_ms: 0,
                    held_since: None,
                },
                declined: Vec::new(),
                visited: vec![queue],
                rings_open: 0,
                next_announce: None,
                check_at: None,
            },
        );
        self.agents[a].interactions.push(Interaction {
            call,
            channel,
            phase: Phase::Connected,
        });
        self.agent_changed(a);
        Ok(())
    }

    pub(super) fn reject(&mut self, call: CallId, reason: RejectReason) {
        self.calls.remove(&call);
        self.act(ActionKind::Reject { call, reason });
        self.emit(EventKind::Rejected { call, reason });
    }

    /// Puts a call (already removed from any waiting set) into queue `q`, following
    /// entry-time overflow rules; then tries to offer it and arms its timers.
    pub(super) fn enter_queue(&mut self, call: CallId, mut q: usize) {
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
    pub(super) fn moved(
        &mut self,
        call: CallId,
        from: QueueId,
        to: QueueId,
        reason: OverflowReason,
    ) {
        self.act(ActionKind::Overflow { call, from, to });
        self.emit(EventKind::Overflowed {
            call,
            from,
            to,
            reason,
        });
    }

    /// Whether queue `q` can take one more waiting call.
    pub(super) fn has_room(&self, q: usize) -> bool {
        let queue = &self.queues[q];
        queue
            .cfg
            .max_waiting
            .is_none_or(|m| queue.waiting.len() < m as usize)
    }

    /// Timed work for a waiting call: overflow on wait, widening, retry of agents
    /// who declined, announcements; then re-arms the next check.
    pub(super) fn check_call(&mut self, call: CallId) {
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

    pub(super) fn announce(&mut self, call: CallId, q: usize) {
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
    pub(super) fn staffed(&self, c: &CallRt, q: usize) -> usize {
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

    // ---- offers answered, calls in progress ----------------------------------

    pub(super) fn accept(&mut self, offer: OfferId) -> Result<(), RouteError> {
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

    pub(super) fn hold(&mut self, call: CallId, hold: bool) -> Result<(), RouteError> {
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

    pub(super) fn end_call(&mut self, call: CallId) -> Result<(), RouteError> {
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

    pub(super) fn wrap_up_done(&mut self, agent: AgentId, call: CallId) -> Result<(), RouteError> {
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
    pub(super) fn complete(&mut self, call: CallId) {
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

    /// Takes a waiting or ringing call out of its queue: the caller hung up
    /// (abandoned), or another router took it over (`withdrawn`).
    pub(super) fn abandon(&mut self, call: CallId, withdrawn: bool) -> Result<(), RouteError> {
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
        self.emit(if withdrawn {
            EventKind::Withdrawn { call, queue }
        } else {
            EventKind::Abandoned {
                call,
                queue,
                waited_ms,
            }
        });
        for agent in agents {
            if let Some(&a) = self.agent_index.get(&agent) {
                self.match_agent(a);
            }
        }
        Ok(())
    }

    pub(super) fn request_callback(&mut self, call: CallId) -> Result<(), RouteError> {
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
}
