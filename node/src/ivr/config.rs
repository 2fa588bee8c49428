//! IVR configuration as administrators write it (TOML) and the coordinator pushes it
//! to gateways (postcard), where it is cached so a branch keeps its IVR when alone.
//!
//! Enums are externally tagged (`{ play = { … } }`) rather than internally tagged
//! because postcard, being non-self-describing, cannot decode internally tagged enums.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::calendar::Calendar;
use crate::routing::QueueId;

/// Every IVR flow and business-hours calendar of one deployment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IvrConfig {
    /// Calendars by name, referred to by `hours` nodes.
    #[serde(default)]
    pub calendars: BTreeMap<String, Calendar>,
    /// Flows by name; a line or DID is bound to one flow by name.
    #[serde(default)]
    pub flows: BTreeMap<String, Flow>,
}

/// One IVR: a graph of named nodes entered at `start`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flow {
    /// The node a call enters first.
    pub start: String,
    /// The longest a single prompt may play before the session assumes the media side
    /// lost its "finished" report and moves on, so a call is never stranded in silence.
    #[serde(default = "default_max_prompt_ms")]
    pub max_prompt_ms: u32,
    /// Nodes by name.
    pub nodes: BTreeMap<String, Node>,
}

fn default_max_prompt_ms() -> u32 {
    120_000
}

fn default_true() -> bool {
    true
}

fn default_max_retries() -> u8 {
    2
}

fn default_terminator() -> bool {
    true
}

fn default_accept_digit() -> char {
    '1'
}

/// Something the caller hears: a recorded audio file, or a generated tone (used by
/// tests and by simulated branches that have no recordings).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Prompt {
    /// An audio file name, resolved by the gateway's prompt store.
    File(String),
    /// A tone: the frequencies played together, for a duration.
    Tone(ToneSpec),
}

/// A generated tone, e.g. `{ frequencies_hz = [697, 1209], duration_ms = 200 }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToneSpec {
    /// Frequencies mixed together, in hertz.
    pub frequencies_hz: Vec<u16>,
    /// How long the tone plays.
    pub duration_ms: u32,
}

/// One step of a flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Node {
    /// Play prompts in order, then go on.
    Play(PlayNode),
    /// Play a prompt and branch on one digit.
    Menu(MenuNode),
    /// Collect a digit string (account or card number) into a variable.
    Collect(CollectNode),
    /// Branch on whether a calendar is open now.
    Hours(HoursNode),
    /// Hand the call to a queue; the IVR ends here.
    Queue(QueueNode),
    /// Offer a callback instead of waiting ("press 1 to be called back").
    CallbackOffer(CallbackNode),
    /// Play the "we are closed" message, then hang up.
    ClosedMessage(ClosedNode),
    /// Hang up.
    Hangup,
}

/// See [`Node::Play`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlayNode {
    /// Played one after the other.
    pub prompts: Vec<Prompt>,
    /// Whether a digit cuts the prompts short; the digit is then kept for the next node
    /// (type-ahead), as regular callers expect.
    #[serde(default)]
    pub barge_in: bool,
    /// Where to go afterwards.
    pub next: String,
}

/// See [`Node::Menu`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MenuNode {
    /// The menu prompt.
    pub prompt: Prompt,
    /// Digit (`0`–`9`, `*`, `#`) → next node.
    pub options: BTreeMap<String, String>,
    /// How long to wait for a digit after the prompt ends.
    pub timeout_ms: u32,
    /// How many times the menu is offered again after an invalid digit or silence.
    #[serde(default = "default_max_retries")]
    pub max_retries: u8,
    /// Played before the menu is repeated after an invalid digit.
    #[serde(default)]
    pub invalid_prompt: Option<Prompt>,
    /// Played before the menu is repeated after silence.
    #[serde(default)]
    pub timeout_prompt: Option<Prompt>,
    /// Whether a digit cuts the prompt short.
    #[serde(default = "default_true")]
    pub barge_in: bool,
    /// Where to go when the retries are used up (usually an agent queue).
    pub on_exhausted: String,
}

/// See [`Node::Collect`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectNode {
    /// The request ("enter your card number followed by the hash key").
    pub prompt: Prompt,
    /// Fewest digits accepted.
    pub min_len: u8,
    /// Most digits; reaching it ends the entry without a terminator.
    pub max_len: u8,
    /// Whether `#` ends the entry.
    #[serde(default = "default_terminator")]
    pub terminator: bool,
    /// How long to wait for the first digit after the prompt.
    pub first_digit_timeout_ms: u32,
    /// How long to wait between digits before taking the entry as complete.
    pub inter_digit_timeout_ms: u32,
    /// How many times the request is repeated after a bad entry or silence.
    #[serde(default = "default_max_retries")]
    pub max_retries: u8,
    /// Played before the request is repeated.
    #[serde(default)]
    pub invalid_prompt: Option<Prompt>,
    /// Whether a digit cuts the prompt short.
    #[serde(default = "default_true")]
    pub barge_in: bool,
    /// Variable that receives the digits (passed to the queue with the call).
    pub variable: String,
    /// Where to go with a valid entry.
    pub next: String,
    /// Where to go when the retries are used up.
    pub on_exhausted: String,
}

/// See [`Node::Hours`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HoursNode {
    /// Name of a calendar in [`IvrConfig::calendars`].
    pub calendar: String,
    /// Where to go when open.
    pub open: String,
    /// Where to go when closed.
    pub closed: String,
}

/// See [`Node::Queue`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueNode {
    /// The routing queue.
    pub queue: QueueId,
    /// Caller priority within the queue (higher is served first).
    #[serde(default)]
    pub priority: u8,
}

/// See [`Node::CallbackOffer`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallbackNode {
    /// The offer ("press 1 to be called back").
    pub prompt: Prompt,
    /// Queue the callback request joins.
    pub queue: QueueId,
    /// Digit that accepts.
    #[serde(default = "default_accept_digit")]
    pub accept_digit: char,
    /// How long to wait for an answer; silence declines.
    pub timeout_ms: u32,
    /// Where to go after accepting (usually a confirmation, then hang up).
    pub accepted: String,
    /// Where to go after any other digit or silence.
    pub declined: String,
}

/// See [`Node::ClosedMessage`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClosedNode {
    /// The message.
    pub prompt: Prompt,
}
