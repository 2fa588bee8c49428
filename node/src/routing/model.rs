//! Identifiers and small value types shared by configuration, inputs, actions and events.
//!
//! Ids are plain integers chosen by the coordinator's database so they can travel in
//! postcard frames and appear in CDRs without a lookup table.

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident($inner:ty)) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub $inner);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
    (wide $(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// In JSON it is a decimal string ([`super::wide_id`]): it can exceed 2^53.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub u64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}", self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                super::wide_id::serialize(self.0, s)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                super::wide_id::deserialize(d).map($name)
            }
        }
    };
}

id_type!(
    /// A queue: where calls wait, shared by every site.
    QueueId(u32)
);
id_type!(
    /// An agent group: a team, a skill or an expert pool.
    GroupId(u32)
);
id_type!(
    /// An agent (a person at a seat: branch, home or expert desk).
    AgentId(u32)
);
id_type!(
    wide
    /// A call (or any interaction), unique across the network.
    CallId
);
id_type!(
    wide
    /// One offer of one call to one agent. Accept/reject inputs name the offer, so a
    /// late answer to an offer that was already withdrawn cannot be mistaken for a new one.
    OfferId
);

/// The medium of an interaction. Agents have a separate concurrency limit per channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum Channel {
    /// A phone call: at most one per agent, always.
    #[default]
    Voice,
    /// A text chat: several may run in parallel when the agent's limit allows.
    Chat,
}

/// What an agent group represents. Routing treats every kind alike; the kind tells
/// reports and the UI whether a pool serves one site or the whole network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum GroupKind {
    /// A team at one site.
    #[default]
    Team,
    /// A skill shared by agents anywhere.
    Skill,
    /// A pool of experts spanning every site and region.
    ExpertPool,
}

/// Where an agent sits. Remote and part-time agents are ordinary agents at `Home`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Site {
    /// A branch office, named by its gateway's node name.
    Branch(String),
    /// Working from home through the seat client.
    #[default]
    Home,
}

/// How an agent is chosen among several ready, eligible agents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Strategy {
    /// Always the first ready member in the group's configured member order.
    Linear,
    /// Round robin with memory: the next ready member after the one offered last.
    Circular,
    /// The member who has answered the fewest calls since the engine started.
    FewestAnswered,
    /// The member who has been idle (ready with nothing to do) the longest.
    #[default]
    LongestIdle,
    /// The member with the best (lowest) priority number in this group, then longest idle.
    AgentPriority,
    /// The caller's VIP agents, else the agent who served this caller last, else longest idle.
    CallerNumber,
    /// Offer to every ready member at once; the first to accept wins, the rest are cancelled.
    RingAll,
    /// Uniformly at random (seeded, so runs are reproducible).
    Random,
    /// At random, with probability proportional to the member's proficiency (1–5).
    ProficiencyWeighted,
}

/// Why a call was not queued at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RejectReason {
    /// The caller's number is on the blacklist with a reject rule.
    Blacklisted,
    /// The queue (and every overflow target) was at its maximum length.
    QueueFull,
}

/// Why a call moved from one queue to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OverflowReason {
    /// The queue was at its maximum length when the call arrived.
    QueueFull,
    /// No eligible agent was ready when the call arrived.
    NoReadyAgents,
    /// The call waited longer than the queue's threshold.
    WaitExceeded,
}

/// Why an offer ended without the agent answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OfferEnd {
    /// The agent declined.
    Rejected,
    /// Nobody answered within the offer timeout.
    TimedOut,
    /// Withdrawn by the engine: another agent won a ring-all, or the caller hung up.
    Cancelled,
}

/// The externally visible state of an agent, derived from presence and interactions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AgentState {
    /// Not working.
    LoggedOut,
    /// Logged in and waiting for work.
    Ready,
    /// Logged in but not taking work, with a reason code (break, training, missed offers…).
    NotReady(String),
    /// An offer is ringing at the agent.
    Reserved,
    /// Talking (or holding) with a caller.
    OnCall,
    /// After-call work.
    WrapUp,
}
