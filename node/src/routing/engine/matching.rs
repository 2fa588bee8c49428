//! Matching calls and agents: candidates of a call, the best call for an agent
//! (fairness score), offers and their end.

use super::*;

impl Router {
    // ---- matching -----------------------------------------------------------

    /// Ready, eligible agents for a waiting call: from the first open ring that has
    /// any (inner rings first, the bullseye), with that ring's group index.
    pub(super) fn candidates(&self, call: CallId) -> Option<(usize, Vec<Candidate>)> {
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
    pub(super) fn match_call(&mut self, call: CallId) {
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
    pub(super) fn best_call_for(&self, a: usize) -> Option<(f64, CallId, usize)> {
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
    pub(super) fn match_agent(&mut self, a: usize) {
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
    pub(super) fn rematch(&mut self, agents: Vec<usize>) {
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
    pub(super) fn offer(&mut self, call: CallId, q: usize, g: usize, agents: &[usize]) {
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
    pub(super) fn end_offer(&mut self, offer: OfferId, how: OfferEnd) {
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
    pub(super) fn apply_missed_limit(&mut self, agent: AgentId) {
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
    pub(super) fn after_offer_ended(&mut self, o: OfferRt) {
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
