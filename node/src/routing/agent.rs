//! An agent's runtime state: presence (what the agent said) and interactions (what
//! the engine gave them). The visible `AgentState` is derived from both, so the
//! two can never disagree — e.g. a break requested during a call is not lost when
//! the call ends (the Connect/Flex race where a break flipped back to available).

use serde::{Deserialize, Serialize};

use super::config::AgentConfig;
use super::model::{AgentState, CallId, Channel, OfferId};
use super::time::Timestamp;

/// Reason code the engine itself uses when a login leaves the agent not ready.
pub const REASON_LOGGED_IN: &str = "logged-in";
/// Reason code the engine uses after too many consecutive missed offers.
pub const REASON_MISSED_OFFERS: &str = "missed-offers";

/// Per-agent statistics the engine keeps, across configuration changes too,
/// because strategies (fewest answered, longest idle) and auto-not-ready depend on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentStats {
    /// Calls answered since the engine started.
    pub answered: u64,
    /// Consecutive offers that timed out (reset by an answer, or by going ready
    /// from not ready; a repeated "ready" — a retry — does not reset it).
    pub missed_in_row: u32,
    /// Start of the current (or last) idle period.
    pub idle_since: Timestamp,
    /// When the agent entered its current visible state (wallboards show the
    /// time in state; a change of not-ready reason is a new state).
    pub state_since: Timestamp,
}

/// What the agent said about themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Presence {
    LoggedOut,
    NotReady(String),
    Ready,
}

/// One interaction held by an agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Interaction {
    pub call: CallId,
    pub channel: Channel,
    pub phase: Phase,
}

/// Where an interaction stands from the agent's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Offered(OfferId),
    Connected,
    /// After-call work since `since`; `until` is the timer (None for manual wrap-up).
    WrapUp {
        since: Timestamp,
        until: Option<Timestamp>,
        mandatory: bool,
    },
}

/// An agent as the engine tracks them. Statistics (`answered`, `idle_since`,
/// `missed_in_row`) survive configuration changes: only `cfg` and the group slots
/// are replaced.
#[derive(Debug, Clone)]
pub(crate) struct AgentRt {
    pub cfg: AgentConfig,
    pub presence: Presence,
    pub interactions: Vec<Interaction>,
    /// Start of the current idle period (ready with nothing to do).
    pub idle_since: Timestamp,
    /// Calls answered since the engine started.
    pub answered: u64,
    /// Consecutive offers that timed out.
    pub missed_in_row: u32,
    /// (group index, member slot) for every group the agent belongs to.
    pub memberships: Vec<(usize, usize)>,
    /// Whether the agent currently sits in its groups' ready sets.
    pub indexed_ready: bool,
    /// The state last published, so only changes are emitted.
    pub published: AgentState,
    /// When `published` last changed.
    pub published_at: Timestamp,
}

impl AgentRt {
    pub fn new(cfg: AgentConfig, now: Timestamp) -> Self {
        AgentRt {
            cfg,
            presence: Presence::LoggedOut,
            interactions: Vec::new(),
            idle_since: now,
            answered: 0,
            missed_in_row: 0,
            memberships: Vec::new(),
            indexed_ready: false,
            published: AgentState::LoggedOut,
            published_at: now,
        }
    }

    /// Whether one more interaction of `channel` may be offered. Channels never mix:
    /// an agent on a voice call takes nothing else, an agent in chats takes no voice.
    pub fn can_take(&self, channel: Channel) -> bool {
        self.presence == Presence::Ready
            && self.interactions.iter().all(|i| i.channel == channel)
            && self.interactions.len() < usize::from(self.cfg.capacity(channel))
    }

    /// Whether the agent could take work on some channel (membership in ready sets).
    pub fn can_take_any(&self) -> bool {
        self.can_take(Channel::Voice) || self.can_take(Channel::Chat)
    }

    /// The visible state: the most engaged interaction wins, then presence.
    pub fn state(&self) -> AgentState {
        let has = |f: fn(&Phase) -> bool| self.interactions.iter().any(|i| f(&i.phase));
        if has(|p| matches!(p, Phase::Connected)) {
            AgentState::OnCall
        } else if has(|p| matches!(p, Phase::Offered(_))) {
            AgentState::Reserved
        } else if has(|p| matches!(p, Phase::WrapUp { .. })) {
            AgentState::WrapUp
        } else {
            match &self.presence {
                Presence::LoggedOut => AgentState::LoggedOut,
                Presence::NotReady(r) => AgentState::NotReady(r.clone()),
                Presence::Ready => AgentState::Ready,
            }
        }
    }

    pub fn stats(&self) -> AgentStats {
        AgentStats {
            answered: self.answered,
            missed_in_row: self.missed_in_row,
            idle_since: self.idle_since,
            state_since: self.published_at,
        }
    }

    pub fn interaction_mut(&mut self, call: CallId) -> Option<&mut Interaction> {
        self.interactions.iter_mut().find(|i| i.call == call)
    }

    pub fn remove_interaction(&mut self, call: CallId) -> Option<Interaction> {
        let pos = self.interactions.iter().position(|i| i.call == call)?;
        Some(self.interactions.swap_remove(pos))
    }

    /// Offers still ringing at this agent.
    pub fn pending_offers(&self) -> Vec<OfferId> {
        self.interactions
            .iter()
            .filter_map(|i| match i.phase {
                Phase::Offered(o) => Some(o),
                _ => None,
            })
            .collect()
    }
}
