//! The call detail record: one per call, written by the anchor gateway to its
//! outbox (durable before anything is acknowledged to the line side) and uploaded
//! idempotently. Routing facts decided elsewhere (offers, declines) reach the
//! anchor as [`super::CallDown::Log`] and are recorded in the same timeline. The
//! agent's disposition comes after the call, with wrap-up, and is stored by the
//! coordinator under the same call id.

use serde::{Deserialize, Serialize};

use super::messages::{PartyId, PartyRole};
use crate::names::Site;
use crate::routing::{AgentId, CallId, OfferEnd, QueueId};

/// Who ended the call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Hangup {
    /// The PSTN side.
    Caller,
    /// An agent (the last one left).
    Agent(AgentId),
    /// The system (IVR hang-up, closed message, blacklist, supervisor release, fault).
    System,
}

/// How a call ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EndCause {
    /// Normal end after an agent answered.
    Completed,
    /// The caller hung up in the IVR.
    AbandonedInIvr,
    /// The caller hung up while queued or ringing an agent.
    AbandonedInQueue,
    /// The IVR played the closed message and released the line.
    Closed,
    /// The IVR flow ended with a hang-up (after a callback confirmation, …).
    IvrHangup,
    /// The caller is blacklisted.
    Blacklisted,
    /// No queue could take the call.
    QueueFull,
    /// A supervisor released the call.
    ForceReleased,
    /// An outbound call was not answered.
    NoAnswer,
    /// The line failed (hardware, no loop current when seizing).
    LineFault(String),
    /// The anchor gateway stopped (crash, power loss) in the middle of the
    /// call; the CDR was written from what the gateway had recorded durably
    /// when it came back (`gateway-restart` in exports). Its `ended_us` is the
    /// last fact recorded, since the box cannot know when it went down.
    GatewayRestart,
}

/// One fact in a call's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CdrEvent {
    /// Anchor clock, microseconds since the Unix epoch.
    pub at_us: u64,
    /// What happened.
    pub kind: CdrEventKind,
}

/// The facts a CDR records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CdrEventKind {
    /// The line rang (inbound) or was seized (outbound).
    LineSeized,
    /// The gateway answered the line.
    LineAnswered,
    /// The IVR entered a node.
    Ivr {
        /// Node name.
        node: String,
    },
    /// The call entered a queue.
    Queued {
        /// The queue.
        queue: QueueId,
        /// True when routed by the gateway alone (WAN down).
        local: bool,
    },
    /// The call was offered to an agent.
    Offered {
        /// The agent.
        agent: AgentId,
    },
    /// An offer ended unanswered.
    OfferEnded {
        /// The agent.
        agent: AgentId,
        /// Rejected, timed out or withdrawn.
        how: OfferEnd,
    },
    /// An agent answered.
    Answered {
        /// The agent.
        agent: AgentId,
    },
    /// A party joined the mix.
    Joined {
        /// The party.
        party: PartyId,
        /// The agent behind it.
        agent: Option<AgentId>,
        /// Its role.
        role: PartyRole,
        /// True when its audio stayed on the box.
        local: bool,
    },
    /// A party's role changed (monitor → barge, held …).
    RoleChanged {
        /// The party.
        party: PartyId,
        /// The new role.
        role: PartyRole,
    },
    /// A party left.
    Left {
        /// The party.
        party: PartyId,
    },
    /// The caller was put on hold.
    Held,
    /// The caller was taken off hold.
    Resumed,
    /// The call was transferred.
    Transferred {
        /// The agent who transferred.
        from: AgentId,
        /// Where to.
        to: super::TransferTarget,
        /// Consult (attended) rather than blind.
        consult: bool,
    },
    /// A position/wait announcement was played.
    Announced {
        /// Position.
        position: u32,
    },
    /// The caller chose a callback.
    CallbackRequested,
    /// Recording started.
    RecordingStarted {
        /// File name relative to the gateway's recordings directory.
        file: String,
    },
    /// The uplink was lost while the call was up; it continued on the box.
    WanLost,
}

/// One call, start to end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cdr {
    /// The call.
    pub call: CallId,
    /// The anchor's site.
    pub site: Site,
    /// Port or timeslot.
    pub line: String,
    /// True for a call an agent placed.
    pub outbound: bool,
    /// Caller ID (inbound) or dialled number (outbound).
    pub number: Option<String>,
    /// Line seized or ringing, µs since the epoch.
    pub started_us: u64,
    /// First agent answer, if any.
    pub answered_us: Option<u64>,
    /// Line released.
    pub ended_us: u64,
    /// Who hung up.
    pub hangup: Hangup,
    /// How it ended.
    pub cause: EndCause,
    /// IVR nodes visited.
    pub ivr_path: Vec<String>,
    /// The first queue entered.
    pub queue: Option<QueueId>,
    /// Agents who talked to the caller, in order.
    pub agents: Vec<AgentId>,
    /// Recording file, if recorded.
    pub recording: Option<String>,
    /// Everything else, in order.
    pub events: Vec<CdrEvent>,
}

impl Cdr {
    /// Version byte of a CDR record in the outbox and in the coordinator's store
    /// ([`crate::record`] framing: a version byte, then postcard).
    pub const RECORD_VERSION: u8 = 1;

    /// The body of a [`crate::proto::RecordKind::Cdr`] upload: the gateway writes
    /// it with this, the coordinator reads it with [`Cdr::from_record`].
    pub fn to_record(&self) -> Vec<u8> {
        crate::record::encode(Self::RECORD_VERSION, self)
    }

    /// Decodes an uploaded CDR body written by [`Cdr::to_record`].
    pub fn from_record(bytes: &[u8]) -> Result<Self, crate::record::RecordError> {
        crate::record::decode(Self::RECORD_VERSION, bytes)
    }
}
