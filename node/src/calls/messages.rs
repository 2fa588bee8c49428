//! The call-control messages between gateways and the coordinator. They travel as
//! [`crate::proto::Message::Config`], [`crate::proto::Message::CallUp`] and
//! [`crate::proto::Message::CallDown`]; variants are only appended.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::cdr::{CdrEventKind, EndCause};
use crate::names::Site;
use crate::routing::{AgentId, AgentState, CallId, QueueId};

/// A participant of one call, numbered by whoever routes it. The line (the caller,
/// or the called party of an outbound call) is always [`PartyId::LINE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PartyId(pub u32);

impl PartyId {
    /// The PSTN side of the call.
    pub const LINE: PartyId = PartyId(0);
}

/// What a party hears and who hears it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PartyRole {
    /// Full conference member: hears every other party, heard by all.
    Party,
    /// Silent listener (supervisor monitoring): hears every party, heard by nobody.
    Monitor,
    /// Coach: hears every party, heard only by `to` (the agent).
    Whisper {
        /// The coached party.
        to: PartyId,
    },
    /// On hold: hears music on hold only, heard by nobody.
    Held,
}

/// How a party's audio reaches the anchor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Endpoint {
    /// A seat or FXS port on the anchor itself: audio never leaves the box.
    Local(String),
    /// A relay leg (already announced with [`crate::proto::Message::LegOpen`]) whose
    /// other end is the party's node.
    Leg(u32),
}

/// Coordinator → gateway: the current deployment configuration. `body` is the
/// postcard of a [`super::CenterConfig`]; the gateway validates it, caches it and
/// applies it to new calls (calls in progress keep the flow they started with).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigPush {
    /// Increases with every change; a gateway ignores a push older than its cache.
    pub version: u64,
    /// Encoded [`super::CenterConfig`].
    pub body: Vec<u8>,
}

/// Gateway → coordinator: what happened on lines and seats, and what agents asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CallUp {
    /// The IVR handed a call to a queue: route it.
    Arrived {
        /// Chosen by the anchor, unique across the network.
        call: CallId,
        /// The port or timeslot ("fxo1", "e1a/5").
        line: String,
        /// Caller ID if the line delivered one.
        caller: Option<String>,
        /// The queue the IVR chose.
        queue: QueueId,
        /// Caller priority 0–9.
        priority: u8,
        /// Digits collected by the IVR (account number…), for the screen pop.
        vars: BTreeMap<String, String>,
        /// IVR nodes visited, in order.
        ivr_path: Vec<String>,
    },
    /// The caller chose a callback in the IVR and hung up: the callback waits in
    /// `queue` in the caller's place.
    CallbackRequested {
        /// The call.
        call: CallId,
        /// Number to call back.
        caller: Option<String>,
        /// The queue.
        queue: QueueId,
        /// IVR variables.
        vars: BTreeMap<String, String>,
    },
    /// The call ended at the anchor (caller hung up, line released, line fault).
    /// Sent once per call; the anchor has written the CDR.
    Ended {
        /// The call.
        call: CallId,
        /// Why.
        cause: EndCause,
    },
    /// An outbound call placed with [`CallDown::Dial`] was answered by the far end.
    DialAnswered {
        /// The call.
        call: CallId,
    },
    /// A command for `call` could not be carried out; the coordinator undoes it.
    Failed {
        /// The call.
        call: CallId,
        /// Why, for the log and the agent's screen.
        reason: String,
    },
    /// An FXS phone that is an agent's seat went off hook (answer) or on hook
    /// (hang up).
    SeatHook {
        /// The FXS port.
        endpoint: String,
        /// True when the handset was lifted.
        off_hook: bool,
    },
    /// An agent pressed a button at their seat on this node.
    Agent {
        /// The agent.
        agent: AgentId,
        /// What they asked.
        command: AgentCommand,
    },
    /// Every call this anchor holds that it had handed to the coordinator,
    /// sent each time a session starts (after the agents' `Login`/`Ready`).
    /// A coordinator that restarted (or forgot the calls when the link
    /// dropped) rebuilds them from it, so the agents on them are not offered
    /// another call and their relay legs are opened again; a call that ended
    /// meanwhile is simply absent. Calls still in the IVR are not listed: they
    /// arrive with [`CallUp::Arrived`] as usual.
    Anchored(Vec<AnchoredCall>),
}

/// A call as its anchor reports it in [`CallUp::Anchored`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnchoredCall {
    /// The call.
    pub call: CallId,
    /// The port or timeslot.
    pub line: String,
    /// Caller ID (the number dialled, for an outbound call).
    pub caller: Option<String>,
    /// The queue it waits in or was served from; `None` for an outbound call.
    pub queue: Option<QueueId>,
    /// Caller priority 0–9.
    pub priority: u8,
    /// Where it stands.
    pub state: AnchoredState,
    /// True while the caller hears music on hold.
    pub held: bool,
    /// Its parties other than the line.
    pub parties: Vec<AnchoredParty>,
}

/// Where an anchored call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AnchoredState {
    /// Waiting for an agent (queued or ringing one) for `waited_ms`, so it
    /// keeps its place among the calls waiting.
    Queued {
        /// Time since it reached the queue.
        waited_ms: u64,
    },
    /// Parties are connected, for `talk_ms`.
    Connected {
        /// Time since the first agent joined.
        talk_ms: u64,
    },
}

/// A party of an [`AnchoredCall`], as the anchor mixes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnchoredParty {
    /// Its number in the call.
    pub party: PartyId,
    /// The agent behind it.
    pub agent: Option<AgentId>,
    /// What it hears and who hears it.
    pub role: PartyRole,
    /// Its seat on the anchor, or the relay leg it arrives on.
    pub endpoint: Endpoint,
}

/// Coordinator → gateway: what to do. Commands naming a call go to its anchor;
/// `Ring`, `StopRing` and `AgentUpdate` go to the node hosting the agent's seat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CallDown {
    /// Add a party to the call's mix.
    Join {
        /// The call.
        call: CallId,
        /// The new party.
        party: PartyId,
        /// How its audio arrives.
        endpoint: Endpoint,
        /// What it hears and who hears it.
        role: PartyRole,
        /// The agent behind the party, for the CDR.
        agent: Option<AgentId>,
    },
    /// Remove a party (its leg, if any, is closed separately).
    Leave {
        /// The call.
        call: CallId,
        /// The party.
        party: PartyId,
    },
    /// Change what a party hears (monitor → whisper → barge, hold → talk).
    SetRole {
        /// The call.
        call: CallId,
        /// The party.
        party: PartyId,
        /// The new role.
        role: PartyRole,
    },
    /// Put the caller on hold (music on hold) or take them off it.
    Hold {
        /// The call.
        call: CallId,
        /// True to hold.
        on: bool,
    },
    /// Tell the waiting caller their position and estimated wait.
    Announce {
        /// The call.
        call: CallId,
        /// 1 = next.
        position: u32,
        /// Estimated wait.
        ewt_ms: Option<u64>,
    },
    /// Offer the waiting caller a callback (the IVR's callback prompt).
    OfferCallback {
        /// The call.
        call: CallId,
        /// The wait that triggered it.
        ewt_ms: u64,
    },
    /// Add a routing fact to the call's CDR (offers, declines, transfers decided
    /// by the coordinator).
    Log {
        /// The call.
        call: CallId,
        /// What happened.
        event: CdrEventKind,
    },
    /// Release the line: play the message the reason calls for, hang up.
    Release {
        /// The call.
        call: CallId,
        /// Why.
        reason: ReleaseReason,
    },
    /// Place an outbound call on a line of this gateway; the agent joins as party 1
    /// once [`CallUp::DialAnswered`] comes back.
    Dial {
        /// Id chosen by the coordinator.
        call: CallId,
        /// A specific line, or any free FXO line.
        line: Option<String>,
        /// Digits to dial.
        number: String,
        /// The agent placing the call.
        agent: AgentId,
    },
    /// Ring the agent's seat (FXS: ring the phone with caller ID; headset: a ring
    /// tone in the earpiece).
    Ring {
        /// The call offered.
        call: CallId,
        /// The agent.
        agent: AgentId,
        /// Seat or FXS port on this node.
        endpoint: String,
        /// Shown on the phone's display.
        caller: Option<String>,
    },
    /// Stop ringing the seat.
    StopRing {
        /// The call that was offered.
        call: CallId,
        /// The agent.
        agent: AgentId,
        /// Seat or FXS port on this node.
        endpoint: String,
    },
    /// The agent's state after a change or after one of their commands.
    AgentUpdate(AgentUpdate),
}

/// Why the coordinator releases a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReleaseReason {
    /// The caller is on the blacklist.
    Blacklisted,
    /// Every queue that could take the call is full.
    QueueFull,
    /// The last agent hung up.
    AgentHungUp(AgentId),
    /// A supervisor force-released the call.
    ForceReleased(AgentId),
    /// The caller took a callback; the line is released after the confirmation.
    CallbackRegistered,
}

/// Where a transfer goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TransferTarget {
    /// A named agent.
    Agent(AgentId),
    /// A queue (an expert pool is a queue served by the pool's group).
    Queue(QueueId),
}

/// Everything an agent or supervisor can ask, from a seat or the web desktop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AgentCommand {
    /// Start working (not ready until `Ready`).
    Login,
    /// Stop working; refused while on a call or in wrap-up.
    Logout,
    /// Take calls.
    Ready,
    /// Stop taking new calls, with a reason code.
    NotReady {
        /// Break, lunch, training…
        reason: String,
    },
    /// Answer the call ringing at the seat.
    Answer,
    /// Decline the call ringing at the seat (it returns to its place).
    Reject,
    /// Put the caller on hold.
    Hold,
    /// Take the caller off hold.
    Resume,
    /// Leave the call (the caller is released when no agent remains).
    Hangup,
    /// Transfer: blind (`consult: false`, the agent leaves at once) or consult (the
    /// caller holds while the agent talks to the target first).
    Transfer {
        /// Agent or queue.
        to: TransferTarget,
        /// Talk to the target first.
        consult: bool,
    },
    /// Finish a consult transfer: the agent leaves, caller and target talk.
    CompleteTransfer,
    /// Turn a consult into a three-way conference.
    Conference,
    /// Abandon a consult: the target leaves, the caller comes off hold.
    CancelConsult,
    /// End wrap-up with a disposition code and a note.
    WrapUp {
        /// Disposition code (resolved, escalated, …).
        disposition: String,
        /// Free text.
        note: String,
    },
    /// Place an outbound call through a line of `site`.
    Dial {
        /// The branch whose line to use.
        site: Site,
        /// The number.
        number: String,
    },
    /// Supervisor: listen silently to `agent`'s call.
    Monitor {
        /// The supervised agent.
        agent: AgentId,
    },
    /// Supervisor: speak to `agent` only.
    Whisper {
        /// The supervised agent.
        agent: AgentId,
    },
    /// Supervisor: join `agent`'s call as a full party.
    Barge {
        /// The supervised agent.
        agent: AgentId,
    },
    /// Supervisor: end `agent`'s call now.
    ForceRelease {
        /// The supervised agent.
        agent: AgentId,
    },
    /// Supervisor: leave the call being supervised.
    StopSupervising,
}

/// What an agent's screen (or a simulated agent) needs to know.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentView {
    /// Routing state (logged out, ready, reserved, on call, wrap-up…).
    pub state: Option<AgentState>,
    /// The call ringing, connected or being wrapped up.
    pub call: Option<CallId>,
    /// Its caller's number.
    pub caller: Option<String>,
    /// The queue it came from.
    pub queue: Option<QueueId>,
    /// True while the caller is on hold.
    pub held: bool,
    /// A consult in progress: the other agent.
    pub consulting: Option<AgentId>,
    /// Supervisor: the agent being supervised.
    pub supervising: Option<AgentId>,
}

/// Coordinator → seat node: an agent's new view; `refused` explains why their last
/// command was not carried out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentUpdate {
    /// The agent.
    pub agent: AgentId,
    /// Their view now.
    pub view: AgentView,
    /// Set when the command that triggered this update was refused.
    pub refused: Option<String>,
}
