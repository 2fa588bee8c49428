//! What gateways report and agents ask, routed to the handler that applies it.

use tandem_node::calls::{AgentCommand, CallDown, CallUp};
use tandem_node::names::Site;
use tandem_node::routing::{AgentId, CallId, Input};

use super::*;
use crate::authority::{AuthorityKind, Refusal};

impl CallControl {
    /// Whether `site` anchors `call`: false when the call is unknown (it may
    /// have ended meanwhile), a refusal when another site anchors it.
    pub(super) fn anchored_at(
        &self,
        site: &Site,
        call: CallId,
        kind: AuthorityKind,
    ) -> Result<bool, CallError> {
        match self.calls.get(&call) {
            None => Ok(false),
            Some(c) if &c.anchor == site => Ok(true),
            Some(c) => Err(Refusal::new(
                kind,
                format!("call {call} is anchored at {}, not at {site}", c.anchor),
            )
            .into()),
        }
    }

    /// Why `site` may not upload a routing event of `kind`: it names a call
    /// another site anchors, or an agent seated at another site.
    pub fn foreign_event(
        &self,
        site: &Site,
        kind: &tandem_node::routing::EventKind,
    ) -> Option<String> {
        let (call, agent) = crate::authority::event_subjects(kind);
        if let Some(call) = call
            && let Err(e) = self.anchored_at(site, call, AuthorityKind::Upload)
        {
            return Some(e.to_string());
        }
        let seat = agent.and_then(|a| self.config.seat_of(a).map(|s| (a, s)));
        match seat {
            Some((agent, seat)) if &seat.site != site => Some(format!(
                "an event names agent {agent}, seated at {}",
                seat.site
            )),
            _ => None,
        }
    }

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
                self.anchored_at(site, call, AuthorityKind::Call)?;
                self.arrived(site, call, caller, queue, priority, None)
            }
            CallUp::Anchored(calls) => self.restore_anchored(site, calls),
            CallUp::CallbackRequested {
                call,
                caller,
                queue,
                ..
            } => {
                self.anchored_at(site, call, AuthorityKind::Call)?;
                self.callback_requested(site, call, caller, queue)
            }
            CallUp::Ended { call, cause } => {
                tracing::info!(call = %call, site = %site, ?cause, "call ended at the anchor");
                if !self.anchored_at(site, call, AuthorityKind::Call)? {
                    return Ok(());
                }
                if self.calls.get(&call).is_some_and(|c| c.callback) {
                    // The line is gone but the callback keeps its place.
                    return Ok(());
                }
                self.tear_down(call);
                Ok(())
            }
            CallUp::DialAnswered { call } => {
                self.anchored_at(site, call, AuthorityKind::Call)?;
                self.dial_answered(call)
            }
            CallUp::Failed { call, reason } => {
                self.anchored_at(site, call, AuthorityKind::Call)?;
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
                    return Err(Refusal::new(AuthorityKind::Agent, why).into());
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
                let Some(seat) = self.config.seat_of(agent) else {
                    return Err(CallError::NoSeat(agent));
                };
                // Offers to a seat nobody can reach would only time out.
                if !self.online.contains(&seat.site) {
                    return refused(format!("your seat's node {} is offline", seat.site));
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
            AgentCommand::Dial { site, number } => self.dial_out(agent, site, number),
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
}
