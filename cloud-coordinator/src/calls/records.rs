//! What call control hands the store to keep: queue events with their real
//! call, and agents' dispositions. Kept apart from call control itself so the
//! store can name them without depending on call control (whose errors wrap the
//! store's).

use serde::{Deserialize, Serialize};
use tandem_node::routing::{AgentId, CallId, Event};

/// An agent's disposition after a call, stored under the call id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disposition {
    /// The real call.
    pub call: CallId,
    /// The agent.
    pub agent: AgentId,
    /// Disposition code.
    pub code: String,
    /// Free text.
    pub note: String,
    /// When it was entered, ms since the epoch.
    pub at_ms: u64,
}

/// A Router event with the real call it belongs to (the event itself names the
/// routing id of the visit).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueEvent {
    /// The real call, if the event concerns one.
    pub call: Option<CallId>,
    /// The Router's record.
    pub event: Event,
}
