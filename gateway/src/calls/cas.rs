//! The E1 front end of a call line: ITU-T Q.421 line signalling on one
//! channel's ABCD bits, sans I/O. The call's life after the seizure (IVR,
//! queue, CDR, release) is the same as an FXO call's and lives in
//! [`super::line`]; this module only turns ABCD changes and span alarms into
//! line signals and the line's answer/release into the bits to send.
//!
//! The gateway is the incoming (backward) side of the exchange's circuits:
//!
//! ```text
//! far end  idle 1001 ─▶ seize 0001 ──────────────────────▶ clear-forward 1001
//! gateway  idle 1001 ─▶ seize-ack 1101 ─▶ answer 0101 ─▶ (clear-back 1101) ─▶ idle 1001
//! ```
//! Only the A and B bits carry meaning (C/D stay at the ITU 01, as the
//! simulated far end sends them). Register signalling (MFC/R2 digits) is not
//! spoken: a seizure is a call without a caller number.

use tandem_hal::e1::{Abcd, SpanStatus};

/// Idle, and clear-forward from the far end (A=1, B=0).
pub const IDLE: u8 = 0b1001;
/// Forward seizure (A=0, B=0).
pub const SEIZE: u8 = 0b0001;
/// Seizure acknowledged (A=1, B=1).
pub const SEIZE_ACK: u8 = 0b1101;
/// Answer (A=0, B=1).
pub const ANSWER: u8 = 0b0101;
/// Clear-back: the gateway released first (A=1, B=1, as seize-ack).
pub const CLEAR_BACK: u8 = 0b1101;

/// Bits as [`Abcd`]; every constant above is valid.
pub fn abcd(bits: u8) -> Abcd {
    Abcd::new(bits).unwrap_or_else(|_| unreachable!("Q.421 line states are never 0000"))
}

/// What the far end did, for the call line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CasSignal {
    /// A forward seizure on an idle channel: a new incoming call.
    Seized,
    /// Clear-forward while a call was up: the caller hung up.
    Cleared,
    /// The span went into alarm: the channel's call cannot go on.
    Fault(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    /// Seized and acknowledged, not answered yet.
    Seized,
    Answered,
    /// The gateway sent clear-back; waiting for clear-forward.
    ClearedBack,
    /// The far end cleared forward while the call was up; idle goes out once
    /// the call line has released.
    ClearedForward,
    /// The span is in alarm: seizures are ignored until it recovers.
    Blocked,
}

/// One channel's Q.421 line-signalling state.
#[derive(Debug)]
pub struct CasSignalling {
    state: State,
}

impl Default for CasSignalling {
    fn default() -> Self {
        Self::new()
    }
}

impl CasSignalling {
    /// An idle channel.
    pub fn new() -> Self {
        CasSignalling { state: State::Idle }
    }

    /// The far end's bits changed; `send` gets the bits to answer with.
    pub fn on_abcd(&mut self, bits: Abcd, mut send: impl FnMut(Abcd)) -> Option<CasSignal> {
        // Forward signals are told apart by A (and B = 0); B = 1 from the far
        // end is a blocking/fault condition that is ignored here.
        let seize = match bits.bits() & 0b1100 {
            0b0000 => true,
            0b1000 => false,
            other => {
                tracing::debug!(bits = other, "unexpected forward line state ignored");
                return None;
            }
        };
        match (self.state, seize) {
            (State::Idle, true) => {
                self.state = State::Seized;
                send(abcd(SEIZE_ACK));
                Some(CasSignal::Seized)
            }
            (State::Seized | State::Answered, false) => {
                self.state = State::ClearedForward;
                Some(CasSignal::Cleared)
            }
            (State::ClearedBack, false) => {
                self.state = State::Idle;
                send(abcd(IDLE));
                None
            }
            _ => None,
        }
    }

    /// The span's status changed: an alarm ends the channel's call (the
    /// caller cannot be heard any more) and blocks new seizures until it clears.
    pub fn on_status(&mut self, status: &SpanStatus) -> Option<CasSignal> {
        let a = status.alarms;
        if a.any() {
            let was = std::mem::replace(&mut self.state, State::Blocked);
            let mut what = Vec::new();
            for (on, name) in [
                (a.los, "LOS"),
                (a.lof, "LOF"),
                (a.ais, "AIS"),
                (a.rai, "RAI"),
            ] {
                if on {
                    what.push(name);
                }
            }
            matches!(was, State::Seized | State::Answered)
                .then(|| CasSignal::Fault(format!("E1 span alarm: {}", what.join("+"))))
        } else {
            if self.state == State::Blocked {
                self.state = State::Idle;
            }
            None
        }
    }

    /// The call line answered: send answer.
    pub fn answered(&mut self, mut send: impl FnMut(Abcd)) {
        if self.state == State::Seized {
            self.state = State::Answered;
            send(abcd(ANSWER));
        }
    }

    /// The call line released: idle when the far end already cleared (or the
    /// span is down), else clear-back until it clears forward.
    pub fn released(&mut self, mut send: impl FnMut(Abcd)) {
        match self.state {
            State::Seized | State::Answered => {
                self.state = State::ClearedBack;
                send(abcd(CLEAR_BACK));
            }
            State::ClearedForward => {
                self.state = State::Idle;
                send(abcd(IDLE));
            }
            State::Blocked => send(abcd(IDLE)),
            State::Idle | State::ClearedBack => {}
        }
    }
}
