//! What goes into the engine (`Input`) and what comes out: `Action`s for the node
//! that executes calls, `Event`s for CDRs, wallboards and KPIs. All three are
//! serializable so they travel in postcard frames and land in the outbox as-is.

use serde::{Deserialize, Serialize};

use super::config::{BlacklistAction, RoutingConfig};
use super::model::{
    AgentId, AgentState, CallId, Channel, OfferEnd, OfferId, OverflowReason, QueueId, RejectReason,
};
use super::time::Timestamp;

/// Something that happened outside the engine. Every input is applied at the
/// timestamp passed alongside it; timers due before that instant fire first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Input {
    /// A caller reached a queue (after IVR).
    CallArrived {
        /// Network-unique id chosen by the anchoring gateway.
        call: CallId,
        /// The queue the IVR chose.
        queue: QueueId,
        /// Caller number if known (for blacklist, VIP and same-agent routing).
        caller: Option<String>,
        /// Caller priority 0–9, higher first.
        priority: u8,
        /// Voice or chat.
        channel: Channel,
    },
    /// The agent logged in; they start not ready until they say otherwise.
    AgentLogin {
        /// The agent.
        agent: AgentId,
    },
    /// The agent is ready for work.
    AgentReady {
        /// The agent.
        agent: AgentId,
    },
    /// The agent stops taking new work (current calls continue).
    AgentNotReady {
        /// The agent.
        agent: AgentId,
        /// Reason code (break, lunch, training, …).
        reason: String,
    },
    /// The agent logs out; refused while a call or wrap-up is in progress.
    AgentLogout {
        /// The agent.
        agent: AgentId,
    },
    /// The agent answered an offer.
    OfferAccepted {
        /// The offer being answered.
        offer: OfferId,
    },
    /// The agent declined an offer.
    OfferRejected {
        /// The offer being declined.
        offer: OfferId,
    },
    /// The agent put the caller on hold.
    CallHeld {
        /// The call.
        call: CallId,
    },
    /// The agent took the caller off hold.
    CallResumed {
        /// The call.
        call: CallId,
    },
    /// A connected call ended; the agent moves to wrap-up.
    CallEnded {
        /// The call.
        call: CallId,
    },
    /// The caller hung up before an agent answered.
    CallAbandoned {
        /// The call.
        call: CallId,
    },
    /// The agent finished after-call work.
    WrapUpDone {
        /// The agent.
        agent: AgentId,
        /// The call wrapped up.
        call: CallId,
    },
    /// The caller accepted a callback: they hang up, the call keeps its place.
    CallbackRequested {
        /// The call.
        call: CallId,
    },
    /// The administrator changed queues, groups, agents or rules. Waiting calls keep
    /// their places and agents their statistics; refused if it would strand a call
    /// or a logged-in agent.
    ConfigReplaced(Box<RoutingConfig>),
    /// Only advance the clock (fires due timers: offer timeouts, widening, overflow…).
    Tick,
    /// A call the engine did not see arrive, learnt from its anchor after the
    /// engine was rebuilt (a coordinator restart): with `agent` it is connected
    /// to that agent already (they take nothing else until it ends); without,
    /// it waits in `queue` in the place its age gives it. No arrival or answer
    /// is counted again.
    CallRestored {
        /// Id for this engine.
        call: CallId,
        /// The queue it waits in or was served from.
        queue: QueueId,
        /// Caller number if known.
        caller: Option<String>,
        /// Caller priority 0–9.
        priority: u8,
        /// Voice or chat.
        channel: Channel,
        /// How long ago the call reached the queue (waiting) or was answered
        /// (connected).
        age_ms: u64,
        /// The agent it is connected to, if answered.
        agent: Option<AgentId>,
    },
    /// A waiting or ringing call another router took over (its branch was cut
    /// off and routes it alone): it leaves the queue without counting as
    /// offered here or as abandoned; the router that serves it counts it.
    CallWithdrawn {
        /// The call.
        call: CallId,
    },
}

/// A command for the node that executes calls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    /// When the engine decided.
    pub at: Timestamp,
    /// What to do.
    pub kind: ActionKind,
}

/// The commands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ActionKind {
    /// Ring the agent with this call (or, for a callback, ask the agent to dial back).
    Offer {
        /// Id to quote when accepting or rejecting.
        offer: OfferId,
        /// The call.
        call: CallId,
        /// The agent.
        agent: AgentId,
        /// The queue the call is served from.
        queue: QueueId,
        /// Voice or chat.
        channel: Channel,
        /// True when the caller is waiting for a call back rather than on the line.
        callback: bool,
        /// Ring time after which the engine withdraws the offer itself.
        timeout_ms: u64,
    },
    /// Stop ringing the agent (caller gone, another agent won a ring-all, timeout…).
    CancelOffer {
        /// The withdrawn offer.
        offer: OfferId,
        /// The call.
        call: CallId,
        /// The agent.
        agent: AgentId,
    },
    /// Tell the caller their position and estimated wait.
    Announce {
        /// The call.
        call: CallId,
        /// 1 = next in line.
        position: u32,
        /// Estimated wait; `None` when no agent is staffed to estimate from.
        ewt_ms: Option<u64>,
    },
    /// Propose a callback to the caller (IVR prompt).
    OfferCallback {
        /// The call.
        call: CallId,
        /// The estimated wait that triggered the proposal.
        ewt_ms: u64,
    },
    /// The call moved to another queue, keeping its age.
    Overflow {
        /// The call.
        call: CallId,
        /// The queue it left.
        from: QueueId,
        /// The queue it now waits in.
        to: QueueId,
    },
    /// Refuse the call (play a message and release).
    Reject {
        /// The call.
        call: CallId,
        /// Why.
        reason: RejectReason,
    },
}

/// A record of a decision or a state change, for CDRs and KPIs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// When it happened.
    pub at: Timestamp,
    /// What happened.
    pub kind: EventKind,
}

impl Event {
    /// Version byte of an event in an outbox record body ([`crate::record`]).
    pub const RECORD_VERSION: u8 = 1;

    /// The body of a [`crate::proto::RecordKind::QueueEvent`] upload: what a
    /// gateway's local router decided while the WAN was down.
    pub fn to_record(&self) -> Vec<u8> {
        crate::record::encode(Self::RECORD_VERSION, self)
    }

    /// Reads a [`crate::proto::RecordKind::QueueEvent`] record body.
    pub fn from_record(body: &[u8]) -> Result<Event, crate::record::RecordError> {
        crate::record::decode(Self::RECORD_VERSION, body)
    }
}

/// The recorded facts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum EventKind {
    /// A call entered its first queue.
    Queued {
        /// The call.
        call: CallId,
        /// The queue.
        queue: QueueId,
        /// Caller priority after VIP rules.
        priority: u8,
        /// Voice or chat.
        channel: Channel,
    },
    /// The caller's number matched a blacklist rule.
    Blacklisted {
        /// The call.
        call: CallId,
        /// What the rule did.
        action: BlacklistAction,
    },
    /// The call was refused.
    Rejected {
        /// The call.
        call: CallId,
        /// Why.
        reason: RejectReason,
    },
    /// The call moved to another queue, keeping its age.
    Overflowed {
        /// The call.
        call: CallId,
        /// Where it was (or was headed).
        from: QueueId,
        /// Where it is now.
        to: QueueId,
        /// Which rule fired.
        reason: OverflowReason,
    },
    /// A wider bullseye ring opened for the call.
    Widened {
        /// The call.
        call: CallId,
        /// Its queue.
        queue: QueueId,
        /// How many rings are now open.
        rings_open: u32,
    },
    /// The call was offered to an agent.
    Offered {
        /// The offer.
        offer: OfferId,
        /// The call.
        call: CallId,
        /// The agent.
        agent: AgentId,
        /// The queue.
        queue: QueueId,
    },
    /// An offer ended without being answered; the call went back to its place.
    OfferEnded {
        /// The offer.
        offer: OfferId,
        /// The call.
        call: CallId,
        /// The agent.
        agent: AgentId,
        /// Rejected, timed out or cancelled.
        how: OfferEnd,
    },
    /// An agent answered: the call is assigned.
    Answered {
        /// The winning offer.
        offer: OfferId,
        /// The call.
        call: CallId,
        /// The agent.
        agent: AgentId,
        /// The queue.
        queue: QueueId,
        /// Time from first queue entry to answer.
        waited_ms: u64,
        /// True for a callback.
        callback: bool,
    },
    /// The caller was put on hold.
    Held {
        /// The call.
        call: CallId,
    },
    /// The caller was taken off hold.
    Resumed {
        /// The call.
        call: CallId,
    },
    /// The conversation ended; wrap-up may follow.
    Ended {
        /// The call.
        call: CallId,
        /// The agent.
        agent: AgentId,
        /// Connected time not on hold.
        talk_ms: u64,
        /// Time on hold.
        hold_ms: u64,
    },
    /// Wrap-up finished: the contact is fully handled.
    Completed {
        /// The call.
        call: CallId,
        /// The agent.
        agent: AgentId,
        /// The queue.
        queue: QueueId,
        /// Talk time.
        talk_ms: u64,
        /// Hold time.
        hold_ms: u64,
        /// After-call work.
        wrap_ms: u64,
    },
    /// The caller hung up before being answered.
    Abandoned {
        /// The call.
        call: CallId,
        /// The queue.
        queue: QueueId,
        /// Time from first queue entry to hang-up.
        waited_ms: u64,
    },
    /// A callback was proposed.
    CallbackOffered {
        /// The call.
        call: CallId,
        /// The estimated wait at that moment.
        ewt_ms: u64,
    },
    /// The caller chose a callback.
    CallbackRequested {
        /// The call.
        call: CallId,
        /// The queue.
        queue: QueueId,
    },
    /// An agent's visible state changed.
    AgentStateChanged {
        /// The agent.
        agent: AgentId,
        /// The new state.
        state: AgentState,
    },
    /// See [`Input::CallWithdrawn`]: the queue visit is undone, not abandoned.
    Withdrawn {
        /// The call.
        call: CallId,
        /// The queue it left.
        queue: QueueId,
    },
}
