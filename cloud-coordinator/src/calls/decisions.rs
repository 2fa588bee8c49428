//! The Router's decisions carried out (offers rung, announcements, overflow,
//! refusals) and its events recorded (ringing stopped, wrap-up, figures).

use tandem_node::calls::{CallDown, CdrEventKind, ReleaseReason};
use tandem_node::routing::{ActionKind, AgentId, CallId, EventKind, Input, OfferId, RejectReason};

use super::*;

impl CallControl {
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
                        // The Router has already forgotten the refused visit.
                        if let Some(c) = self.calls.get_mut(&r.call)
                            && c.waiting == Some(call)
                        {
                            c.waiting = None;
                        }
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
            EventKind::Abandoned { call, .. } | EventKind::Withdrawn { call, .. } => {
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
        | EventKind::Withdrawn { call, .. }
        | EventKind::CallbackOffered { call, .. }
        | EventKind::CallbackRequested { call, .. } => Some(*call),
        EventKind::AgentStateChanged { .. } => None,
    }
}
