//! A simulated call engine for IVR tests: a clock, a prompt player and a transcript.

#![allow(dead_code)] // each test binary uses a different subset of the helpers

use tandem_node::ivr::*;

pub const SECOND: u64 = 1_000;
pub const MINUTE: u64 = 60 * SECOND;
pub const HOUR: u64 = 60 * MINUTE;
pub const DAY: u64 = 24 * HOUR;
/// Monday 2026-11-23 00:00 UTC.
pub const MONDAY: u64 = 1_795_392_000_000;

pub fn example() -> ValidIvrConfig {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../ivr-configs/example.toml");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    ValidIvrConfig::from_toml(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn load(text: &str) -> ValidIvrConfig {
    ValidIvrConfig::from_toml(text).unwrap_or_else(|e| panic!("{e}"))
}

pub fn file(name: &str) -> Prompt {
    Prompt::File(name.to_string())
}

/// One call: the session, the simulated clock and every action so far.
pub struct Call {
    pub session: IvrSession,
    pub now: u64,
    pub actions: Vec<IvrAction>,
    /// Whether a prompt is playing (a `Play` or closed message not yet finished).
    pub playing: bool,
}

impl Call {
    pub fn start(config: &ValidIvrConfig, flow: &str, now: u64) -> Call {
        let (session, actions) =
            IvrSession::start(flow, config, now).unwrap_or_else(|e| panic!("{e}"));
        let mut call = Call {
            session,
            now,
            actions: Vec::new(),
            playing: false,
        };
        call.record(actions);
        call
    }

    fn record(&mut self, actions: Vec<IvrAction>) -> Vec<IvrAction> {
        for a in &actions {
            match a {
                IvrAction::Play { .. } | IvrAction::PlayClosedMessage { .. } => self.playing = true,
                IvrAction::StopPrompt => self.playing = false,
                _ => {}
            }
        }
        self.actions.extend(actions.iter().cloned());
        actions
    }

    pub fn input(&mut self, input: IvrInput) -> Vec<IvrAction> {
        let actions = self.session.handle(self.now, input);
        self.record(actions)
    }

    pub fn digit(&mut self, d: char) -> Vec<IvrAction> {
        self.input(IvrInput::Digit(d))
    }

    pub fn digits(&mut self, ds: &str) {
        for d in ds.chars() {
            self.digit(d);
            self.now += 200;
        }
    }

    /// The player reports the current prompt done after `ms`.
    pub fn finish_prompt(&mut self, ms: u64) -> Vec<IvrAction> {
        assert!(self.playing, "no prompt is playing");
        self.now += ms;
        self.playing = false;
        self.input(IvrInput::PromptFinished)
    }

    /// Advance the clock to the next deadline and tick.
    pub fn tick(&mut self) -> Vec<IvrAction> {
        let deadline = self
            .session
            .next_deadline()
            .unwrap_or_else(|| panic!("no deadline"));
        self.now = self.now.max(deadline);
        self.input(IvrInput::Tick)
    }

    /// Silent caller, prompts play to the end in 1 s: run until the session ends.
    pub fn run_silent(&mut self) -> IvrOutcome {
        for _ in 0..1000 {
            if let Some(outcome) = self.session.outcome() {
                return outcome;
            }
            if self.playing {
                self.finish_prompt(SECOND);
            } else {
                self.tick();
            }
        }
        panic!("session did not end: {:?}", self.session.path());
    }

    pub fn played(&self) -> Vec<Prompt> {
        self.actions
            .iter()
            .filter_map(|a| match a {
                IvrAction::Play { prompt, .. } | IvrAction::PlayClosedMessage { prompt } => {
                    Some(prompt.clone())
                }
                _ => None,
            })
            .collect()
    }

    pub fn last(&self) -> Option<&IvrAction> {
        self.actions.last()
    }
}
