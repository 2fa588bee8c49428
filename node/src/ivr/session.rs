//! The IVR interpreter: one [`IvrSession`] per call, driven by the gateway's call
//! engine with inputs and a millisecond clock, answering with actions.
//!
//! It does no I/O and reads no clock, so the same code runs on a gateway, in the
//! simulator and in tests with a simulated clock. A session copies its flow when it
//! starts: a configuration push mid-call does not change the call's path.

use std::collections::{BTreeMap, VecDeque};

use thiserror::Error;

use super::calendar::Calendar;
use super::config::{Flow, Node, Prompt};
use super::events::{DigitUse, IvrAction, IvrEvent, IvrEventKind, IvrInput, IvrOutcome};
use super::validate::{ValidIvrConfig, is_dtmf};

/// Digits kept for the next node after a barge-in; more are dropped.
pub const MAX_TYPEAHEAD: usize = 32;
/// Log entries kept per session; a caller circling a menu for hours cannot grow it
/// without bound (later entries are counted in [`IvrSession::events_dropped`]).
pub const MAX_EVENTS: usize = 1024;

/// Why a session could not start.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IvrError {
    /// The line or DID is bound to a flow the configuration does not have.
    #[error("no IVR flow named {0:?}")]
    UnknownFlow(String),
}

/// What to do once the prompts being played are done.
#[derive(Debug, Clone, PartialEq)]
enum Then {
    /// Enter this node (a `play` node's next).
    Enter(String),
    /// Wait for the current node's input.
    Listen,
    /// Release the line (after the closed message).
    HangUp,
}

#[derive(Debug, Clone, PartialEq)]
enum Phase {
    /// A prompt is playing; `rest` follow it.
    Prompt {
        rest: VecDeque<Prompt>,
        barge_in: bool,
        guard_at: u64,
        then: Then,
    },
    /// Waiting for a digit until `deadline`.
    Input { deadline: u64 },
    /// The session is over.
    Done(IvrOutcome),
}

/// Why a node is offered again.
#[derive(Debug, Clone, Copy)]
enum RetryReason {
    Invalid,
    Timeout,
}

/// One call's walk through a flow.
#[derive(Debug, Clone)]
pub struct IvrSession {
    flow_name: String,
    flow: Flow,
    calendars: BTreeMap<String, Calendar>,
    node: String,
    attempts: u8,
    digits: String,
    typeahead: VecDeque<char>,
    vars: BTreeMap<String, String>,
    phase: Phase,
    events: Vec<IvrEvent>,
    events_dropped: u64,
}

impl IvrSession {
    /// Starts `flow` at time `now` (Unix ms) and returns the first actions.
    pub fn start(
        flow: &str,
        config: &ValidIvrConfig,
        now: u64,
    ) -> Result<(IvrSession, Vec<IvrAction>), IvrError> {
        let config = config.config();
        let chosen = config
            .flows
            .get(flow)
            .ok_or_else(|| IvrError::UnknownFlow(flow.to_string()))?;
        let mut session = IvrSession {
            flow_name: flow.to_string(),
            flow: chosen.clone(),
            calendars: config.calendars.clone(),
            node: chosen.start.clone(),
            attempts: 0,
            digits: String::new(),
            typeahead: VecDeque::new(),
            vars: BTreeMap::new(),
            phase: Phase::Input { deadline: now },
            events: Vec::new(),
            events_dropped: 0,
        };
        let mut actions = Vec::new();
        session.enter(now, chosen.start.clone(), &mut actions);
        Ok((session, actions))
    }

    /// Feeds one input at time `now` and returns what the call engine must do.
    /// A deadline already passed is handled first, as if the `Tick` had come in time.
    pub fn handle(&mut self, now: u64, input: IvrInput) -> Vec<IvrAction> {
        let mut actions = Vec::new();
        if self.outcome().is_some() {
            return actions;
        }
        let finish_report =
            input == IvrInput::PromptFinished && matches!(self.phase, Phase::Prompt { .. });
        let overdue = self.next_deadline().is_some_and(|d| now >= d);
        if overdue && !finish_report && input != IvrInput::CallerHungUp {
            self.expire(now, &mut actions);
        }
        match input {
            IvrInput::Digit(d) if is_dtmf(d) => self.digit(now, d, &mut actions),
            IvrInput::Digit(d) => self.log_digit(now, d, DigitUse::Ignored),
            IvrInput::PromptFinished if finish_report => self.prompt_done(now, &mut actions),
            IvrInput::PromptFinished | IvrInput::Tick => {}
            IvrInput::CallerHungUp => self.end(now, IvrOutcome::CallerHungUp),
        }
        self.drain_typeahead(now, &mut actions);
        actions
    }

    /// When the session next needs a [`IvrInput::Tick`]; `None` once it has ended.
    pub fn next_deadline(&self) -> Option<u64> {
        match &self.phase {
            Phase::Prompt { guard_at, .. } => Some(*guard_at),
            Phase::Input { deadline } => Some(*deadline),
            Phase::Done(_) => None,
        }
    }

    /// How the session ended, or `None` while it runs.
    pub fn outcome(&self) -> Option<IvrOutcome> {
        match self.phase {
            Phase::Done(outcome) => Some(outcome),
            _ => None,
        }
    }

    /// The flow this session runs.
    pub fn flow_name(&self) -> &str {
        &self.flow_name
    }

    /// The node the session is in (the last one, once ended).
    pub fn current_node(&self) -> &str {
        &self.node
    }

    /// Variables collected so far.
    pub fn vars(&self) -> &BTreeMap<String, String> {
        &self.vars
    }

    /// The session log, oldest first.
    pub fn events(&self) -> &[IvrEvent] {
        &self.events
    }

    /// Log entries beyond [`MAX_EVENTS`] that were not kept.
    pub fn events_dropped(&self) -> u64 {
        self.events_dropped
    }

    /// The nodes visited, in order (the CDR's "IVR path").
    pub fn path(&self) -> Vec<&str> {
        self.events
            .iter()
            .filter_map(|e| match &e.kind {
                IvrEventKind::NodeEntered { node } => Some(node.as_str()),
                _ => None,
            })
            .collect()
    }

    fn log(&mut self, at_ms: u64, kind: IvrEventKind) {
        if self.events.len() < MAX_EVENTS {
            self.events.push(IvrEvent { at_ms, kind });
        } else {
            self.events_dropped += 1;
        }
    }

    fn log_digit(&mut self, now: u64, digit: char, used: DigitUse) {
        let node = self.node.clone();
        self.log(now, IvrEventKind::Digit { node, digit, used });
    }

    fn end(&mut self, now: u64, outcome: IvrOutcome) {
        self.phase = Phase::Done(outcome);
        self.typeahead.clear();
        self.log(now, IvrEventKind::Ended { outcome });
    }

    fn hang_up(&mut self, now: u64, outcome: IvrOutcome, actions: &mut Vec<IvrAction>) {
        actions.push(IvrAction::Hangup);
        self.end(now, outcome);
    }

    /// Enters `name`, following nodes that move on at once (hours checks, barged
    /// prompts). Validation makes those hops acyclic; the bound only guards that.
    fn enter(&mut self, now: u64, mut name: String, actions: &mut Vec<IvrAction>) {
        for _ in 0..=self.flow.nodes.len() {
            match self.enter_one(now, name, actions) {
                Some(next) => name = next,
                None => return,
            }
        }
        self.hang_up(now, IvrOutcome::HungUp, actions);
    }

    /// Enters one node; returns the next node when this one needs no waiting.
    fn enter_one(
        &mut self,
        now: u64,
        name: String,
        actions: &mut Vec<IvrAction>,
    ) -> Option<String> {
        self.log(now, IvrEventKind::NodeEntered { node: name.clone() });
        self.node = name;
        self.attempts = 0;
        self.digits.clear();
        let Some(node) = self.flow.nodes.get(&self.node).cloned() else {
            self.hang_up(now, IvrOutcome::HungUp, actions);
            return None;
        };
        match node {
            Node::Play(play) => {
                if play.barge_in && !self.typeahead.is_empty() {
                    return Some(play.next);
                }
                self.prompts(
                    now,
                    play.prompts.into(),
                    play.barge_in,
                    Then::Enter(play.next),
                    actions,
                );
            }
            Node::Menu(m) => self.ask(now, m.prompt, m.barge_in, actions),
            Node::Collect(c) => self.ask(now, c.prompt, c.barge_in, actions),
            Node::CallbackOffer(c) => self.ask(now, c.prompt, true, actions),
            Node::Hours(h) => {
                let open = self
                    .calendars
                    .get(&h.calendar)
                    .is_some_and(|c| c.is_open(now));
                let node = self.node.clone();
                self.log(now, IvrEventKind::Hours { node, open });
                return Some(if open { h.open } else { h.closed });
            }
            Node::Queue(q) => {
                actions.push(IvrAction::RouteToQueue {
                    queue: q.queue,
                    priority: q.priority,
                    vars: self.vars.clone(),
                });
                self.end(now, IvrOutcome::Queued { queue: q.queue });
            }
            Node::ClosedMessage(c) => {
                self.typeahead.clear();
                actions.push(IvrAction::PlayClosedMessage { prompt: c.prompt });
                self.phase = Phase::Prompt {
                    rest: VecDeque::new(),
                    barge_in: false,
                    guard_at: self.guard(now),
                    then: Then::HangUp,
                };
            }
            Node::Hangup => self.hang_up(now, IvrOutcome::HungUp, actions),
        }
        None
    }

    /// Starts an input node: its prompt, or straight to listening if digits typed
    /// ahead will barge in anyway.
    fn ask(&mut self, now: u64, prompt: Prompt, barge_in: bool, actions: &mut Vec<IvrAction>) {
        if barge_in && !self.typeahead.is_empty() {
            self.listen(now);
        } else {
            self.prompts(
                now,
                VecDeque::from([prompt]),
                barge_in,
                Then::Listen,
                actions,
            );
        }
    }

    fn guard(&self, now: u64) -> u64 {
        now.saturating_add(u64::from(self.flow.max_prompt_ms))
    }

    fn prompts(
        &mut self,
        now: u64,
        mut list: VecDeque<Prompt>,
        barge_in: bool,
        then: Then,
        actions: &mut Vec<IvrAction>,
    ) {
        if !barge_in {
            self.typeahead.clear();
        }
        match list.pop_front() {
            Some(prompt) => {
                actions.push(IvrAction::Play { prompt, barge_in });
                self.phase = Phase::Prompt {
                    rest: list,
                    barge_in,
                    guard_at: self.guard(now),
                    then,
                };
            }
            None => self.after_prompts(now, then, actions),
        }
    }

    fn prompt_done(&mut self, now: u64, actions: &mut Vec<IvrAction>) {
        if let Phase::Prompt {
            rest,
            barge_in,
            then,
            ..
        } = std::mem::replace(&mut self.phase, Phase::Input { deadline: now })
        {
            self.prompts(now, rest, barge_in, then, actions);
        }
    }

    fn after_prompts(&mut self, now: u64, then: Then, actions: &mut Vec<IvrAction>) {
        match then {
            Then::Enter(next) => self.enter(now, next, actions),
            Then::Listen => self.listen(now),
            Then::HangUp => self.hang_up(now, IvrOutcome::Closed, actions),
        }
    }

    /// Waits for the current node's input, with the timeout that applies now.
    fn listen(&mut self, now: u64) {
        let timeout = match self.flow.nodes.get(&self.node) {
            Some(Node::Menu(m)) => m.timeout_ms,
            Some(Node::Collect(c)) if self.digits.is_empty() => c.first_digit_timeout_ms,
            Some(Node::Collect(c)) => c.inter_digit_timeout_ms,
            Some(Node::CallbackOffer(c)) => c.timeout_ms,
            _ => self.flow.max_prompt_ms,
        };
        self.phase = Phase::Input {
            deadline: now.saturating_add(u64::from(timeout)),
        };
    }

    fn expire(&mut self, now: u64, actions: &mut Vec<IvrAction>) {
        match self.phase {
            Phase::Prompt { .. } => {
                let node = self.node.clone();
                self.log(now, IvrEventKind::PromptOverran { node });
                self.prompt_done(now, actions);
            }
            Phase::Input { .. } => {
                let node = self.node.clone();
                match self.flow.nodes.get(&self.node).cloned() {
                    Some(Node::Collect(_)) if !self.digits.is_empty() => {
                        self.collect_complete(now, actions)
                    }
                    Some(Node::CallbackOffer(c)) => {
                        self.log(now, IvrEventKind::Timeout { node });
                        self.enter(now, c.declined, actions);
                    }
                    _ => {
                        self.log(now, IvrEventKind::Timeout { node });
                        self.retry(now, RetryReason::Timeout, actions);
                    }
                }
            }
            Phase::Done(_) => {}
        }
    }

    fn digit(&mut self, now: u64, d: char, actions: &mut Vec<IvrAction>) {
        match &self.phase {
            Phase::Done(_) => {}
            Phase::Prompt {
                barge_in: false, ..
            } => self.log_digit(now, d, DigitUse::Ignored),
            Phase::Prompt { then, .. } => {
                actions.push(IvrAction::StopPrompt);
                match then.clone() {
                    Then::Enter(next) => {
                        if self.typeahead.len() < MAX_TYPEAHEAD {
                            self.typeahead.push_back(d);
                        }
                        self.log_digit(now, d, DigitUse::TypedAhead);
                        self.enter(now, next, actions);
                    }
                    Then::Listen => {
                        self.listen(now);
                        self.input_digit(now, d, actions);
                    }
                    Then::HangUp => self.hang_up(now, IvrOutcome::Closed, actions),
                }
            }
            Phase::Input { .. } => self.input_digit(now, d, actions),
        }
    }

    fn input_digit(&mut self, now: u64, d: char, actions: &mut Vec<IvrAction>) {
        match self.flow.nodes.get(&self.node).cloned() {
            Some(Node::Menu(m)) => match m.options.get(d.to_string().as_str()) {
                Some(next) => {
                    self.log_digit(now, d, DigitUse::Accepted);
                    self.enter(now, next.clone(), actions);
                }
                None => {
                    self.log_digit(now, d, DigitUse::Invalid);
                    self.retry(now, RetryReason::Invalid, actions);
                }
            },
            Some(Node::Collect(c)) => {
                if d == '#' && c.terminator {
                    self.collect_complete(now, actions);
                } else if d.is_ascii_digit() {
                    self.digits.push(d);
                    if self.digits.len() >= usize::from(c.max_len) {
                        self.collect_complete(now, actions);
                    } else {
                        self.listen(now);
                    }
                } else {
                    self.retry(now, RetryReason::Invalid, actions);
                }
            }
            Some(Node::CallbackOffer(c)) => {
                if d == c.accept_digit {
                    self.log_digit(now, d, DigitUse::Accepted);
                    actions.push(IvrAction::RegisterCallback {
                        queue: c.queue,
                        vars: self.vars.clone(),
                    });
                    self.enter(now, c.accepted, actions);
                } else {
                    self.log_digit(now, d, DigitUse::Invalid);
                    self.enter(now, c.declined, actions);
                }
            }
            _ => self.log_digit(now, d, DigitUse::Ignored),
        }
    }

    fn collect_complete(&mut self, now: u64, actions: &mut Vec<IvrAction>) {
        let Some(Node::Collect(c)) = self.flow.nodes.get(&self.node).cloned() else {
            return;
        };
        if self.digits.len() >= usize::from(c.min_len) {
            let value = std::mem::take(&mut self.digits);
            let node = self.node.clone();
            let len = u8::try_from(value.len()).unwrap_or(u8::MAX);
            self.log(
                now,
                IvrEventKind::Collected {
                    node,
                    variable: c.variable.clone(),
                    len,
                },
            );
            self.vars.insert(c.variable, value);
            self.enter(now, c.next, actions);
        } else {
            self.retry(now, RetryReason::Invalid, actions);
        }
    }

    /// Offers the current input node again, or leaves by its exhaustion edge.
    fn retry(&mut self, now: u64, reason: RetryReason, actions: &mut Vec<IvrAction>) {
        self.typeahead.clear();
        self.digits.clear();
        self.attempts = self.attempts.saturating_add(1);
        let node = self.node.clone();
        let (max_retries, prompt, extra, barge_in, exhausted) =
            match self.flow.nodes.get(&self.node).cloned() {
                Some(Node::Menu(m)) => {
                    let extra = match reason {
                        RetryReason::Invalid => m.invalid_prompt,
                        RetryReason::Timeout => m.timeout_prompt,
                    };
                    (m.max_retries, m.prompt, extra, m.barge_in, m.on_exhausted)
                }
                Some(Node::Collect(c)) => (
                    c.max_retries,
                    c.prompt,
                    c.invalid_prompt,
                    c.barge_in,
                    c.on_exhausted,
                ),
                _ => return self.hang_up(now, IvrOutcome::HungUp, actions),
            };
        if self.attempts > max_retries {
            self.log(now, IvrEventKind::Exhausted { node });
            self.enter(now, exhausted, actions);
            return;
        }
        let attempt = self.attempts;
        self.log(now, IvrEventKind::Retry { node, attempt });
        let list: VecDeque<Prompt> = extra.into_iter().chain([prompt]).collect();
        self.prompts(now, list, barge_in, Then::Listen, actions);
    }

    /// Feeds digits typed ahead into the node that now listens.
    fn drain_typeahead(&mut self, now: u64, actions: &mut Vec<IvrAction>) {
        let mut budget = MAX_TYPEAHEAD * (self.flow.nodes.len() + 1);
        while budget > 0 && !self.typeahead.is_empty() {
            budget -= 1;
            let listening = match &self.phase {
                Phase::Input { .. } => true,
                Phase::Prompt { barge_in, .. } => *barge_in,
                Phase::Done(_) => false,
            };
            if !listening {
                self.typeahead.clear();
                return;
            }
            if let Some(d) = self.typeahead.pop_front() {
                self.digit(now, d, actions);
            }
        }
    }
}
