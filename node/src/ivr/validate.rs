//! Whole-configuration validation, and loading from TOML (administrators) or postcard
//! (the gateway's cache), so the interpreter only ever sees a sound flow graph.
//!
//! Besides dangling references the graph rule that matters is: every cycle must pass
//! through an edge that only a caller's digit can take. Then, once the caller goes
//! silent, timeouts and retries walk an acyclic graph and the call always ends in a
//! queue, a closed message or a hang-up.

use std::collections::{BTreeMap, BTreeSet};

use thiserror::Error;

use super::calendar::{Calendar, MAX_UTC_OFFSET_MINUTES};
use super::config::{Flow, IvrConfig, Node, Prompt};

/// Most digits a `collect` node may ask for (longest card numbers are 19 digits).
pub const MAX_COLLECT_LEN: u8 = 32;
/// Highest tone frequency accepted: the telephone band ends near 3.4 kHz.
pub const MAX_TONE_HZ: u16 = 4_000;

/// Why an IVR configuration was refused; each variant names the flow, node and field.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IvrConfigError {
    /// The text is not valid TOML or does not match the schema.
    #[error("IVR configuration does not parse: {0}")]
    Toml(String),
    /// The cached binary configuration is corrupt or from an incompatible version.
    #[error("cached IVR configuration does not decode: {0}")]
    Postcard(String),
    /// A flow has no nodes.
    #[error("flow {flow:?} has no nodes")]
    EmptyFlow {
        /// The flow.
        flow: String,
    },
    /// A reference (start or a next-node field) names a node that does not exist.
    #[error("flow {flow:?}, node {node:?}: {field} refers to unknown node {target:?}")]
    UnknownNode {
        /// The flow.
        flow: String,
        /// The node holding the reference (the flow's name for `start`).
        node: String,
        /// The field.
        field: String,
        /// The missing node.
        target: String,
    },
    /// A node cannot be reached from the flow's start.
    #[error("flow {flow:?}, node {node:?}: unreachable from the start node")]
    Unreachable {
        /// The flow.
        flow: String,
        /// The node.
        node: String,
    },
    /// A loop that timeouts alone can go round forever.
    #[error(
        "flow {flow:?}, node {node:?}: part of a loop that needs no caller input; every loop must pass through a digit choice"
    )]
    LoopWithoutInput {
        /// The flow.
        flow: String,
        /// A node on the loop.
        node: String,
    },
    /// An `hours` node names a calendar that does not exist.
    #[error("flow {flow:?}, node {node:?}: calendar {calendar:?} does not exist")]
    MissingCalendar {
        /// The flow.
        flow: String,
        /// The node.
        node: String,
        /// The calendar name.
        calendar: String,
    },
    /// A menu key or accept digit is not a single DTMF digit.
    #[error("flow {flow:?}, node {node:?}: {field} {key:?} is not one DTMF digit (0-9, *, #)")]
    BadDigit {
        /// The flow.
        flow: String,
        /// The node.
        node: String,
        /// The field.
        field: String,
        /// The offending key.
        key: String,
    },
    /// A timeout is zero, which would make a caller's input impossible.
    #[error("flow {flow:?}, node {node:?}: {field} must be greater than zero")]
    ZeroTimeout {
        /// The flow.
        flow: String,
        /// The node (empty for flow-level fields).
        node: String,
        /// The field.
        field: String,
    },
    /// Any other field value out of range; `reason` says what is expected.
    #[error("flow {flow:?}, node {node:?}: {field}: {reason}")]
    BadField {
        /// The flow.
        flow: String,
        /// The node.
        node: String,
        /// The field.
        field: String,
        /// What is expected.
        reason: String,
    },
    /// A calendar field out of range or contradictory.
    #[error("calendar {calendar:?}: {field}: {reason}")]
    BadCalendar {
        /// The calendar.
        calendar: String,
        /// The field.
        field: String,
        /// What is wrong.
        reason: String,
    },
}

/// A configuration that passed [`validate`]; the only kind an IVR session accepts.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidIvrConfig(IvrConfig);

impl ValidIvrConfig {
    /// Parses and validates an administrator's TOML file.
    pub fn from_toml(text: &str) -> Result<Self, IvrConfigError> {
        let config: IvrConfig =
            toml::from_str(text).map_err(|e| IvrConfigError::Toml(e.to_string()))?;
        validate(config)
    }

    /// Decodes and re-validates a configuration pushed by the coordinator or read back
    /// from the gateway's cache: a corrupt cache must fail here, not mid-call.
    pub fn from_postcard(bytes: &[u8]) -> Result<Self, IvrConfigError> {
        let config: IvrConfig =
            postcard::from_bytes(bytes).map_err(|e| IvrConfigError::Postcard(e.to_string()))?;
        validate(config)
    }

    /// Encodes the configuration for the wire or the cache.
    pub fn to_postcard(&self) -> Result<Vec<u8>, IvrConfigError> {
        postcard::to_stdvec(&self.0).map_err(|e| IvrConfigError::Postcard(e.to_string()))
    }

    /// The configuration itself.
    pub fn config(&self) -> &IvrConfig {
        &self.0
    }
}

/// Checks a whole configuration: references, digits, timeouts, calendars and loops.
pub fn validate(config: IvrConfig) -> Result<ValidIvrConfig, IvrConfigError> {
    for (name, calendar) in &config.calendars {
        validate_calendar(name, calendar)?;
    }
    for (name, flow) in &config.flows {
        validate_flow(name, flow, &config.calendars)?;
    }
    Ok(ValidIvrConfig(config))
}

/// Whether a character is a DTMF digit.
pub(crate) fn is_dtmf(c: char) -> bool {
    c.is_ascii_digit() || c == '*' || c == '#'
}

/// An edge of the flow graph: field name, target node, and whether only a digit takes it.
pub(crate) fn edges(node: &Node) -> Vec<(String, &str, bool)> {
    match node {
        Node::Play(p) => vec![("next".into(), p.next.as_str(), false)],
        Node::Menu(m) => m
            .options
            .iter()
            .map(|(k, v)| (format!("options.{k}"), v.as_str(), true))
            .chain([("on_exhausted".into(), m.on_exhausted.as_str(), false)])
            .collect(),
        Node::Collect(c) => vec![
            ("next".into(), c.next.as_str(), true),
            ("on_exhausted".into(), c.on_exhausted.as_str(), false),
        ],
        Node::Hours(h) => vec![
            ("open".into(), h.open.as_str(), false),
            ("closed".into(), h.closed.as_str(), false),
        ],
        Node::CallbackOffer(c) => vec![
            ("accepted".into(), c.accepted.as_str(), true),
            ("declined".into(), c.declined.as_str(), false),
        ],
        Node::Queue(_) | Node::ClosedMessage(_) | Node::Hangup => Vec::new(),
    }
}

fn validate_calendar(name: &str, calendar: &Calendar) -> Result<(), IvrConfigError> {
    let bad = |field: &str, reason: String| IvrConfigError::BadCalendar {
        calendar: name.to_string(),
        field: field.to_string(),
        reason,
    };
    if calendar.utc_offset_minutes.abs() > MAX_UTC_OFFSET_MINUTES {
        return Err(bad(
            "utc_offset_minutes",
            format!("must be within ±{MAX_UTC_OFFSET_MINUTES}"),
        ));
    }
    let mut special = BTreeSet::new();
    for day in &calendar.special_days {
        if !special.insert(day.date) {
            return Err(bad("special_days", format!("{} listed twice", day.date)));
        }
        if calendar.holidays.contains(&day.date) {
            return Err(bad(
                "special_days",
                format!("{} is also a holiday", day.date),
            ));
        }
    }
    Ok(())
}

fn validate_flow(
    flow_name: &str,
    flow: &Flow,
    calendars: &BTreeMap<String, Calendar>,
) -> Result<(), IvrConfigError> {
    let flow_s = || flow_name.to_string();
    if flow.nodes.is_empty() {
        return Err(IvrConfigError::EmptyFlow { flow: flow_s() });
    }
    if !flow.nodes.contains_key(&flow.start) {
        return Err(IvrConfigError::UnknownNode {
            flow: flow_s(),
            node: flow_s(),
            field: "start".into(),
            target: flow.start.clone(),
        });
    }
    if flow.max_prompt_ms == 0 {
        return Err(IvrConfigError::ZeroTimeout {
            flow: flow_s(),
            node: String::new(),
            field: "max_prompt_ms".into(),
        });
    }
    for (node_name, node) in &flow.nodes {
        let check = NodeCheck {
            flow: flow_name,
            node: node_name,
        };
        check.fields(node, calendars)?;
        for (field, target, _) in edges(node) {
            if !flow.nodes.contains_key(target) {
                return Err(IvrConfigError::UnknownNode {
                    flow: flow_s(),
                    node: node_name.clone(),
                    field,
                    target: target.to_string(),
                });
            }
        }
    }
    check_reachable(flow_name, flow)?;
    check_no_input_loops(flow_name, flow)
}

fn check_reachable(flow_name: &str, flow: &Flow) -> Result<(), IvrConfigError> {
    let mut seen = BTreeSet::from([flow.start.as_str()]);
    let mut stack = vec![flow.start.as_str()];
    while let Some(name) = stack.pop() {
        for (_, target, _) in flow.nodes.get(name).map(edges).unwrap_or_default() {
            if seen.insert(target) {
                stack.push(target);
            }
        }
    }
    match flow.nodes.keys().find(|n| !seen.contains(n.as_str())) {
        Some(node) => Err(IvrConfigError::Unreachable {
            flow: flow_name.to_string(),
            node: node.clone(),
        }),
        None => Ok(()),
    }
}

/// Depth-first search for a cycle over the edges that need no digit.
fn check_no_input_loops(flow_name: &str, flow: &Flow) -> Result<(), IvrConfigError> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        OnStack,
        Done,
    }
    let mut marks: BTreeMap<&str, Mark> = BTreeMap::new();
    for root in flow.nodes.keys() {
        if marks.contains_key(root.as_str()) {
            continue;
        }
        // Each frame: a node and the no-input successors still to visit.
        let mut stack: Vec<(&str, Vec<&str>)> = Vec::new();
        let successors = |name: &str| -> Vec<&str> {
            flow.nodes
                .get(name)
                .map(|n| {
                    edges(n)
                        .into_iter()
                        .filter(|(_, _, input)| !input)
                        .map(|(_, t, _)| t)
                        .collect()
                })
                .unwrap_or_default()
        };
        marks.insert(root, Mark::OnStack);
        stack.push((root, successors(root)));
        while let Some((name, pending)) = stack.last_mut() {
            match pending.pop() {
                Some(next) => match marks.get(next) {
                    Some(Mark::OnStack) => {
                        return Err(IvrConfigError::LoopWithoutInput {
                            flow: flow_name.to_string(),
                            node: next.to_string(),
                        });
                    }
                    Some(Mark::Done) => {}
                    None => {
                        marks.insert(next, Mark::OnStack);
                        let succ = successors(next);
                        stack.push((next, succ));
                    }
                },
                None => {
                    marks.insert(name, Mark::Done);
                    stack.pop();
                }
            }
        }
    }
    Ok(())
}

struct NodeCheck<'a> {
    flow: &'a str,
    node: &'a str,
}

impl NodeCheck<'_> {
    fn bad(&self, field: &str, reason: &str) -> IvrConfigError {
        IvrConfigError::BadField {
            flow: self.flow.to_string(),
            node: self.node.to_string(),
            field: field.to_string(),
            reason: reason.to_string(),
        }
    }

    fn timeout(&self, field: &str, value: u32) -> Result<(), IvrConfigError> {
        if value == 0 {
            return Err(IvrConfigError::ZeroTimeout {
                flow: self.flow.to_string(),
                node: self.node.to_string(),
                field: field.to_string(),
            });
        }
        Ok(())
    }

    fn digit(&self, field: &str, key: &str) -> Result<(), IvrConfigError> {
        let mut chars = key.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) if is_dtmf(c) => Ok(()),
            _ => Err(IvrConfigError::BadDigit {
                flow: self.flow.to_string(),
                node: self.node.to_string(),
                field: field.to_string(),
                key: key.to_string(),
            }),
        }
    }

    fn prompt(&self, field: &str, prompt: &Prompt) -> Result<(), IvrConfigError> {
        match prompt {
            Prompt::File(name) if name.trim().is_empty() => {
                Err(self.bad(field, "file name is empty"))
            }
            Prompt::File(_) => Ok(()),
            Prompt::Tone(tone) => {
                if tone.frequencies_hz.is_empty()
                    || tone
                        .frequencies_hz
                        .iter()
                        .any(|f| *f == 0 || *f > MAX_TONE_HZ)
                {
                    return Err(self.bad(
                        field,
                        "a tone needs one or more frequencies between 1 and 4000 Hz",
                    ));
                }
                self.timeout(&format!("{field}.duration_ms"), tone.duration_ms)
            }
        }
    }

    fn fields(
        &self,
        node: &Node,
        calendars: &BTreeMap<String, Calendar>,
    ) -> Result<(), IvrConfigError> {
        if self.node.trim().is_empty() {
            return Err(self.bad("name", "node names must not be empty"));
        }
        match node {
            Node::Play(p) => {
                if p.prompts.is_empty() {
                    return Err(self.bad("prompts", "at least one prompt is needed"));
                }
                for (i, prompt) in p.prompts.iter().enumerate() {
                    self.prompt(&format!("prompts[{i}]"), prompt)?;
                }
            }
            Node::Menu(m) => {
                self.prompt("prompt", &m.prompt)?;
                if m.options.is_empty() {
                    return Err(self.bad("options", "a menu needs at least one option"));
                }
                for key in m.options.keys() {
                    self.digit("options", key)?;
                }
                self.timeout("timeout_ms", m.timeout_ms)?;
                for (field, p) in [
                    ("invalid_prompt", &m.invalid_prompt),
                    ("timeout_prompt", &m.timeout_prompt),
                ] {
                    if let Some(p) = p {
                        self.prompt(field, p)?;
                    }
                }
            }
            Node::Collect(c) => {
                self.prompt("prompt", &c.prompt)?;
                if c.max_len == 0 || c.max_len > MAX_COLLECT_LEN {
                    return Err(self.bad("max_len", "must be between 1 and 32"));
                }
                if c.min_len > c.max_len {
                    return Err(self.bad("min_len", "must not exceed max_len"));
                }
                self.timeout("first_digit_timeout_ms", c.first_digit_timeout_ms)?;
                self.timeout("inter_digit_timeout_ms", c.inter_digit_timeout_ms)?;
                if let Some(p) = &c.invalid_prompt {
                    self.prompt("invalid_prompt", p)?;
                }
                if c.variable.trim().is_empty() {
                    return Err(self.bad("variable", "must not be empty"));
                }
            }
            Node::Hours(h) => {
                if !calendars.contains_key(&h.calendar) {
                    return Err(IvrConfigError::MissingCalendar {
                        flow: self.flow.to_string(),
                        node: self.node.to_string(),
                        calendar: h.calendar.clone(),
                    });
                }
            }
            Node::CallbackOffer(c) => {
                self.prompt("prompt", &c.prompt)?;
                self.digit("accept_digit", &c.accept_digit.to_string())?;
                self.timeout("timeout_ms", c.timeout_ms)?;
            }
            Node::ClosedMessage(c) => self.prompt("prompt", &c.prompt)?,
            Node::Queue(_) | Node::Hangup => {}
        }
        Ok(())
    }
}
