//! Calls rebuilt from their anchors' reports ([`CallUp::Anchored`]) when a
//! session starts: after a coordinator restart (or after the coordinator forgot
//! a branch's calls when its link dropped) the lines are still up at the
//! anchors, so the calls are too. Agents found on them are held busy in the
//! Router (an agent is never offered a second call), waiting calls queue again
//! with their age, and relay legs are opened again under their old ids so the
//! anchor's mix and the seat's leg need no change.

use tandem_node::calls::{
    AnchoredCall, AnchoredParty, AnchoredState, CallDown, Endpoint, PartyRole,
};
use tandem_node::names::Site;
use tandem_node::routing::{
    AgentId, AgentState, CallId, Channel, Input, OfferEnd, REASON_LOGGED_IN,
};

use super::*;
use crate::authority::{AuthorityKind, Refusal};

impl CallControl {
    /// Rebuilds the calls `site` anchors. Calls already known are left alone
    /// (a repeated report); calls that ended meanwhile are not in the report.
    /// A report may not claim another site's call, put another site's seat on
    /// its box or take a relay leg another call uses: such calls are left out
    /// and the last refusal is returned once the others are restored.
    pub(super) fn restore_anchored(
        &mut self,
        site: &Site,
        calls: Vec<AnchoredCall>,
    ) -> Result<(), CallError> {
        let mut refusal = None;
        for report in calls {
            let span = tracing::info_span!("restore", call = %report.call, site = %site);
            let _enter = span.enter();
            match self.anchored_at(site, report.call, AuthorityKind::Restore) {
                Ok(false) => {}
                Ok(true) => {
                    tracing::debug!("call already known");
                    continue;
                }
                Err(e) => {
                    refusal = Some(e);
                    continue;
                }
            }
            if let Err(e) = self.claims_only_its_own(site, &report) {
                refusal = Some(e);
                continue;
            }
            match report.state {
                AnchoredState::Queued { waited_ms } => {
                    let Some(queue) = report.queue else {
                        tracing::warn!("a waiting call without a queue cannot be routed");
                        continue;
                    };
                    tracing::info!(%queue, waited_ms, "call queued again");
                    let arrived = self.arrived(
                        site,
                        report.call,
                        report.caller,
                        queue,
                        report.priority,
                        Some(waited_ms),
                    );
                    if let Err(e) = arrived {
                        tracing::warn!(err = %e, "restored call could not queue again");
                    }
                }
                AnchoredState::Connected { talk_ms } => {
                    self.restore_connected(site, report, talk_ms);
                }
            }
        }
        refusal.map_or(Ok(()), Err)
    }

    /// A restored call's parties: a seat on the anchor's own box must be one of
    /// the site's seats, and a relay leg may not be one another call uses.
    fn claims_only_its_own(&self, site: &Site, report: &AnchoredCall) -> Result<(), CallError> {
        for p in &report.parties {
            let why = match &p.endpoint {
                Endpoint::Local(endpoint) => match p.agent {
                    Some(agent) if self.config.seat_of(agent).is_some_and(|s| &s.site != site) => {
                        format!(
                            "agent {agent} on local seat {endpoint}, but their seat is at another site"
                        )
                    }
                    _ => continue,
                },
                Endpoint::Leg(leg) => match self.leg_user(*leg) {
                    Some(other) if other != report.call => {
                        format!("leg {leg} belongs to call {other}")
                    }
                    _ => continue,
                },
            };
            return Err(Refusal::new(
                AuthorityKind::Restore,
                format!("call {}: {why}", report.call),
            )
            .into());
        }
        Ok(())
    }

    /// The call whose party holds relay leg `leg`.
    fn leg_user(&self, leg: u32) -> Option<CallId> {
        self.calls
            .iter()
            .find(|(_, c)| c.parties.values().any(|p| p.leg == Some(leg)))
            .map(|(call, _)| *call)
    }

    /// A connected call: its agents talk on it again, its legs are relayed.
    fn restore_connected(&mut self, site: &Site, report: AnchoredCall, talk_ms: u64) {
        let call = report.call;
        let mut rec = CallRec::new(
            site.clone(),
            report.caller.clone(),
            report.queue.unwrap_or(QueueId(0)),
        );
        rec.held = report.held;
        rec.next_party = report
            .parties
            .iter()
            .map(|p| p.party.0.saturating_add(1))
            .max()
            .unwrap_or(1)
            .max(1);
        self.calls.insert(call, rec);
        tracing::info!(parties = report.parties.len(), talk_ms, "call restored");
        // Agents first, so a supervisor finds the agent they supervise.
        let (supervisors, agents): (Vec<AnchoredParty>, Vec<AnchoredParty>) =
            report.parties.into_iter().partition(|p| supervises(p.role));
        for p in agents.into_iter().chain(supervisors) {
            let kept = p.agent.is_some_and(|agent| {
                self.restore_party(call, agent, &p, report.queue, report.priority, talk_ms)
            });
            if !kept {
                tracing::warn!(party = p.party.0, agent = ?p.agent, "party not restored: it leaves");
                self.send(
                    site,
                    CallDown::Leave {
                        call,
                        party: p.party,
                    },
                );
            }
        }
        // Nobody left to talk to: the caller waits for an agent again.
        let orphan = self
            .calls
            .get(&call)
            .is_some_and(|c| c.agents().next().is_none());
        if orphan && let Some(queue) = report.queue {
            self.set_hold(call, true);
            if let Err(e) = self.requeue(call, queue) {
                tracing::warn!(err = %e, "caller could not queue again");
            }
        }
    }

    /// One party of a restored call; false when it cannot be kept (no seat,
    /// or the agent is busy with another call).
    fn restore_party(
        &mut self,
        call: CallId,
        agent: AgentId,
        p: &AnchoredParty,
        queue: Option<QueueId>,
        priority: u8,
        talk_ms: u64,
    ) -> bool {
        let Some(seat) = self.config.seat_of(agent).cloned() else {
            return false;
        };
        let supervisor = supervises(p.role);
        let routing = if supervisor {
            let supervised = match p.role {
                PartyRole::Whisper { to } => self
                    .calls
                    .get(&call)
                    .and_then(|c| c.parties.get(&to))
                    .map(|q| q.agent),
                _ => self
                    .calls
                    .get(&call)
                    .and_then(|c| c.agents().next().map(|(_, q)| q.agent)),
            };
            let Some(supervised) = supervised else {
                return false;
            };
            if self.supervising.contains_key(&agent) || self.desks.contains_key(&agent) {
                return false;
            }
            self.supervising.insert(
                agent,
                Supervising {
                    call,
                    party: p.party,
                    agent: supervised,
                },
            );
            None
        } else {
            match self.hold_busy(agent, call, queue, priority, talk_ms) {
                Ok(routing) => routing,
                Err(e) => {
                    tracing::warn!(agent = %agent, err = %e, "agent cannot be restored on the call");
                    return false;
                }
            }
        };
        let leg = match &p.endpoint {
            Endpoint::Leg(leg) => Some(*leg),
            Endpoint::Local(_) => None,
        };
        let Some(c) = self.calls.get_mut(&call) else {
            return false;
        };
        c.parties.insert(
            p.party,
            Party {
                agent,
                role: p.role,
                leg,
                supervisor,
                routing,
            },
        );
        if let Some(leg) = leg {
            // New legs must never take an id the anchor still uses.
            if leg >= self.next_leg {
                self.next_leg = leg.checked_add(1).unwrap_or(FIRST_LEG);
            }
            let anchor = c.anchor.clone();
            self.reopen_leg(call, leg, anchor, seat.site, seat.endpoint);
        }
        if !supervisor {
            self.desks.insert(
                agent,
                Desk::Talking {
                    call,
                    party: p.party,
                },
            );
        }
        self.dirty.insert(agent);
        tracing::info!(agent = %agent, party = p.party.0, ?leg, "party restored");
        true
    }

    /// Holds `agent` busy with a restored call: connected to it in the Router
    /// (its own visit, so the call's end puts them in wrap-up as usual), or,
    /// for a call without a queue (outbound), not ready until it ends. An agent
    /// the restart left logged out, merely logged in or held out while their
    /// seat was away is ready again: they were taking calls.
    fn hold_busy(
        &mut self,
        agent: AgentId,
        call: CallId,
        queue: Option<QueueId>,
        priority: u8,
        talk_ms: u64,
    ) -> Result<Option<CallId>, CallError> {
        match self.desks.get(&agent).cloned() {
            // Left over from the tear-down when the anchor's link dropped.
            Some(Desk::WrapUp { routing, .. }) => {
                self.route_logged(Input::WrapUpDone {
                    agent,
                    call: routing,
                });
            }
            Some(Desk::Talking { .. } | Desk::Dialling { .. }) => {
                return refused("on another call");
            }
            // A direct offer made meanwhile goes back (a routed one the Router
            // withdraws itself).
            Some(Desk::Ringing {
                ring: Ring::Direct { .. },
                ..
            }) => self.direct_offer_ended(agent, OfferEnd::Cancelled),
            Some(Desk::Ringing { .. }) | None => {}
        }
        let before = self.router.agent_state(agent);
        if before == Some(AgentState::LoggedOut) {
            self.route(Input::AgentLogin { agent })?;
        }
        // Held out by a restart, a fresh login or their seat's absence, not by
        // their own choice.
        let working = match &before {
            Some(AgentState::LoggedOut | AgentState::Ready) => true,
            Some(AgentState::NotReady(reason)) => {
                reason == REASON_LOGGED_IN || reason == REASON_SEAT_OFFLINE
            }
            _ => false,
        };
        let Some(queue) = queue else {
            if working {
                self.route(Input::AgentNotReady {
                    agent,
                    reason: REASON_OUTBOUND.into(),
                })?;
            }
            return Ok(None);
        };
        let caller = self.calls.get(&call).and_then(|c| c.caller.clone());
        let routing = self.fresh_routing(call, Visit::Queue);
        let restored = self.route(Input::CallRestored {
            call: routing,
            queue,
            caller,
            priority: priority.min(tandem_node::routing::MAX_CALLER_PRIORITY),
            channel: Channel::Voice,
            age_ms: talk_ms,
            agent: Some(agent),
        });
        if let Err(e) = restored {
            self.routes.remove(&routing);
            return Err(e.into());
        }
        if working {
            self.route_logged(Input::AgentReady { agent });
        }
        Ok(Some(routing))
    }

    /// Relays `leg` again between the anchor and the seat's node, now if the
    /// seat's node is online, else when it comes back.
    fn reopen_leg(&mut self, call: CallId, leg: u32, anchor: Site, site: Site, endpoint: String) {
        if !self.online.contains(&site) {
            tracing::info!(leg, seat = %site, "seat node offline: the leg opens when it is back");
            self.unopened_legs.insert(leg);
            return;
        }
        self.open_leg(leg, call, anchor, site, endpoint);
    }

    /// `site` came online: the restored legs waiting for it open.
    pub(super) fn open_waiting_legs(&mut self, site: &Site) {
        if self.unopened_legs.is_empty() {
            return;
        }
        let mut due = Vec::new();
        let mut alive = BTreeSet::new();
        for (call, c) in &self.calls {
            for p in c.parties.values() {
                let Some(leg) = p.leg.filter(|l| self.unopened_legs.contains(l)) else {
                    continue;
                };
                match self.config.seat_of(p.agent) {
                    Some(seat) if &seat.site == site => {
                        due.push((*call, leg, c.anchor.clone(), seat.clone()));
                    }
                    _ => {
                        alive.insert(leg);
                    }
                }
            }
        }
        self.unopened_legs = alive;
        for (call, leg, anchor, seat) in due {
            self.reopen_leg(call, leg, anchor, seat.site, seat.endpoint);
        }
    }
}

/// Whether a reported party is a supervisor's: listening or coaching. A
/// supervisor who barged in is a full party and comes back as one.
fn supervises(role: PartyRole) -> bool {
    matches!(role, PartyRole::Monitor | PartyRole::Whisper { .. })
}
