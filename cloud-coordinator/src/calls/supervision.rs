//! Supervision: monitor, whisper, barge, force-release. Authority comes from
//! [`ValidCenterConfig::may_supervise`] (a team lead over their own groups'
//! non-supervisor members, a duty manager over everyone). The supervisor joins
//! the agent's call as one more party; switching mode changes that party's role.

use tandem_node::calls::{PartyId, PartyRole, ReleaseReason};
use tandem_node::routing::{AgentId, AgentState, CallId};

use super::*;

/// How a supervisor joins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    Monitor,
    Whisper,
    Barge,
}

impl CallControl {
    /// The call and party of `agent`, if `supervisor` may act on them.
    fn supervised(
        &self,
        supervisor: AgentId,
        agent: AgentId,
    ) -> Result<(CallId, PartyId), CallError> {
        if self.config.supervisor(supervisor).is_none() {
            return refused(format!("agent {supervisor} is not a supervisor"));
        }
        if !self.config.may_supervise(supervisor, agent) {
            return refused(format!(
                "agent {supervisor} may not supervise agent {agent}"
            ));
        }
        match self.desks.get(&agent) {
            Some(Desk::Talking { call, party }) => Ok((*call, *party)),
            _ => refused(format!("agent {agent} is not on a call")),
        }
    }

    pub(super) fn supervise(
        &mut self,
        supervisor: AgentId,
        agent: AgentId,
        mode: Mode,
    ) -> Result<(), CallError> {
        let (call, target) = self.supervised(supervisor, agent)?;
        let span = tracing::info_span!("supervise", call = %call, supervisor = %supervisor, agent = %agent, ?mode);
        let _enter = span.enter();
        if self.desks.contains_key(&supervisor) {
            return refused("finish your own call first");
        }
        if matches!(
            self.router.agent_state(supervisor),
            Some(AgentState::Ready | AgentState::Reserved)
        ) {
            return refused("go not ready before supervising");
        }
        let role = match mode {
            Mode::Monitor => PartyRole::Monitor,
            Mode::Whisper => PartyRole::Whisper { to: target },
            Mode::Barge => PartyRole::Party,
        };
        if let Some(s) = self.supervising.get(&supervisor).copied() {
            if s.call == call {
                self.set_role(call, s.party, role);
                self.supervising.insert(
                    supervisor,
                    Supervising {
                        call,
                        party: s.party,
                        agent,
                    },
                );
                self.dirty.insert(supervisor);
                tracing::info!("supervision mode changed");
                return Ok(());
            }
            self.stop_supervising(supervisor)?;
        }
        let Some(party) = self.join(call, supervisor, role, None, true) else {
            return Err(CallError::NoSeat(supervisor));
        };
        self.supervising
            .insert(supervisor, Supervising { call, party, agent });
        tracing::info!("supervising");
        Ok(())
    }

    pub(super) fn force_release(
        &mut self,
        supervisor: AgentId,
        agent: AgentId,
    ) -> Result<(), CallError> {
        let (call, _) = self.supervised(supervisor, agent)?;
        tracing::info!(call = %call, supervisor = %supervisor, agent = %agent, "force release");
        self.release(call, ReleaseReason::ForceReleased(supervisor));
        Ok(())
    }

    pub(super) fn stop_supervising(&mut self, supervisor: AgentId) -> Result<(), CallError> {
        let Some(s) = self.supervising.remove(&supervisor) else {
            return refused("not supervising");
        };
        self.leave_party(s.call, s.party);
        self.dirty.insert(supervisor);
        Ok(())
    }
}
