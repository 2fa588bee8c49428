//! What an IVR session tells the call engine to do, what the call engine tells it, and
//! the log it keeps for the CDR's "IVR path" and the "IVR node visits" report.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::config::Prompt;
use crate::routing::QueueId;

/// Something that happened on the line, fed to [`super::IvrSession::handle`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IvrInput {
    /// A DTMF digit from the caller (`0`–`9`, `*`, `#`; anything else is ignored).
    Digit(char),
    /// The prompt last requested with [`IvrAction::Play`] or
    /// [`IvrAction::PlayClosedMessage`] finished playing. Not sent for a prompt
    /// stopped with [`IvrAction::StopPrompt`].
    PromptFinished,
    /// The session's [`super::IvrSession::next_deadline`] has been reached.
    Tick,
    /// The caller hung up; the session ends without further actions.
    CallerHungUp,
}

/// An instruction for the call engine, executed in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IvrAction {
    /// Play a prompt; with `barge_in` a digit will interrupt it.
    Play {
        /// What to play.
        prompt: Prompt,
        /// Whether the caller may interrupt it with a digit.
        barge_in: bool,
    },
    /// Stop the prompt playing now (the caller barged in); no `PromptFinished` follows.
    StopPrompt,
    /// Hand the call to a routing queue; the IVR has ended.
    RouteToQueue {
        /// The queue.
        queue: QueueId,
        /// Caller priority within it.
        priority: u8,
        /// Variables collected on the way (account number…), for the agent's screen.
        vars: BTreeMap<String, String>,
    },
    /// The caller accepted a callback: register one in this queue. The flow goes on
    /// (usually a confirmation, then hang-up).
    RegisterCallback {
        /// The queue that will call back.
        queue: QueueId,
        /// Variables collected so far.
        vars: BTreeMap<String, String>,
    },
    /// Play the closed message; a [`IvrAction::Hangup`] follows once it finishes.
    PlayClosedMessage {
        /// The message.
        prompt: Prompt,
    },
    /// Release the line; the IVR has ended.
    Hangup,
}

/// How an IVR session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IvrOutcome {
    /// Handed to a queue.
    Queued {
        /// The queue.
        queue: QueueId,
    },
    /// The closed message was played and the line released.
    Closed,
    /// The flow released the line (a `hangup` node).
    HungUp,
    /// The caller hung up during the IVR (an abandon for reports).
    CallerHungUp,
}

/// What a caller's digit did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DigitUse {
    /// Chose a menu option or answered an offer.
    Accepted,
    /// Not an option here; the node retries or gives up.
    Invalid,
    /// Interrupted a prompt and was kept for the next node.
    TypedAhead,
    /// Arrived while nothing listened (a prompt without barge-in).
    Ignored,
}

/// One entry of the session log, time-stamped in the caller's milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IvrEvent {
    /// When it happened.
    pub at_ms: u64,
    /// What happened.
    pub kind: IvrEventKind,
}

/// The kinds of [`IvrEvent`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum IvrEventKind {
    /// The session entered a node (the "IVR path").
    NodeEntered {
        /// The node.
        node: String,
    },
    /// A menu or offer digit. Digits typed into a `collect` node are not logged one by
    /// one, so card numbers stay out of CDRs.
    Digit {
        /// The node.
        node: String,
        /// The digit.
        digit: char,
        /// What it did.
        used: DigitUse,
    },
    /// Nothing was entered in time.
    Timeout {
        /// The node.
        node: String,
    },
    /// A prompt ran past the flow's `max_prompt_ms` without a finished report.
    PromptOverran {
        /// The node.
        node: String,
    },
    /// A node was offered again; `attempt` counts from 1.
    Retry {
        /// The node.
        node: String,
        /// The retry number.
        attempt: u8,
    },
    /// A node used up its retries.
    Exhausted {
        /// The node.
        node: String,
    },
    /// A `collect` node stored a valid entry (its length only, not the digits).
    Collected {
        /// The node.
        node: String,
        /// The variable.
        variable: String,
        /// Number of digits.
        len: u8,
    },
    /// An `hours` node evaluated its calendar.
    Hours {
        /// The node.
        node: String,
        /// Whether it was open.
        open: bool,
    },
    /// The session ended.
    Ended {
        /// How.
        outcome: IvrOutcome,
    },
}

/// Counts of node visits over many sessions' logs: the "IVR node visits" report.
pub fn node_visits<'a>(logs: impl IntoIterator<Item = &'a [IvrEvent]>) -> BTreeMap<String, u64> {
    let mut visits = BTreeMap::new();
    for log in logs {
        for event in log {
            if let IvrEventKind::NodeEntered { node } = &event.kind {
                *visits.entry(node.clone()).or_insert(0) += 1;
            }
        }
    }
    visits
}
