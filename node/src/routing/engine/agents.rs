//! Agent presence inputs: login, ready, not ready, logout.

use super::*;

impl Router {
    // ---- agents ---------------------------------------------------------------

    pub(super) fn login(&mut self, agent: AgentId) -> Result<(), RouteError> {
        let a = self.agent_idx(agent)?;
        if self.agents[a].presence == Presence::LoggedOut {
            self.agents[a].presence = Presence::NotReady(REASON_LOGGED_IN.to_string());
            self.agent_changed(a);
        }
        Ok(())
    }

    pub(super) fn ready(&mut self, agent: AgentId) -> Result<(), RouteError> {
        let a = self.agent_idx(agent)?;
        let rt = &mut self.agents[a];
        match rt.presence {
            Presence::LoggedOut => return Err(RouteError::NotLoggedIn(agent)),
            Presence::Ready => return Ok(()),
            Presence::NotReady(_) => {}
        }
        rt.presence = Presence::Ready;
        rt.missed_in_row = 0;
        if rt.interactions.is_empty() {
            rt.idle_since = self.now;
        }
        self.agent_changed(a);
        self.match_agent(a);
        Ok(())
    }

    pub(super) fn not_ready(&mut self, agent: AgentId, reason: String) -> Result<(), RouteError> {
        let a = self.agent_idx(agent)?;
        if self.agents[a].presence == Presence::LoggedOut {
            return Err(RouteError::NotLoggedIn(agent));
        }
        if reason.len() > MAX_REASON_LEN {
            return Err(RouteError::TooLong {
                field: "reason",
                max: MAX_REASON_LEN,
            });
        }
        self.agents[a].presence = Presence::NotReady(reason);
        self.withdraw_offers(a);
        Ok(())
    }

    pub(super) fn logout(&mut self, agent: AgentId) -> Result<(), RouteError> {
        let a = self.agent_idx(agent)?;
        if self.agents[a]
            .interactions
            .iter()
            .any(|i| !matches!(i.phase, Phase::Offered(_)))
        {
            return Err(RouteError::AgentBusy(agent));
        }
        self.agents[a].presence = Presence::LoggedOut;
        self.withdraw_offers(a);
        Ok(())
    }

    /// Cancels an agent's ringing offers (break or logout); their calls go back in place.
    pub(super) fn withdraw_offers(&mut self, a: usize) {
        let pending = self.agents[a].pending_offers();
        let ended: Vec<OfferRt> = pending
            .iter()
            .filter_map(|o| self.offers.get(o).copied())
            .collect();
        for offer in pending {
            self.end_offer(offer, OfferEnd::Cancelled);
        }
        self.agent_changed(a);
        for o in ended {
            self.after_offer_ended(o);
        }
    }
}
