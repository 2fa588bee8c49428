//! The E1 front end of a call line: ITU-T Q.421 line signalling on one
//! channel's ABCD bits, sans I/O. The call's life after the seizure (IVR,
//! queue, CDR, release) is the same as an FXO call's and lives in
//! [`super::line`]; this module only turns ABCD changes and span alarms into
//! line signals and the line's answer/release into the bits to send.
//!
//! On an inbound call the gateway is the incoming (backward) side:
//!
//! ```text
//! far end  idle 1001 ─▶ seize 0001 ──────────────────────▶ clear-forward 1001
//! gateway  idle 1001 ─▶ seize-ack 1101 ─▶ answer 0101 ─▶ (clear-back 1101) ─▶ idle 1001
//! ```
//! and on an outbound call the outgoing (forward) side:
//!
//! ```text
//! gateway  seize 0001 ─────────── (DTMF digits) ──────────────▶ clear-forward 1001
//! far end  idle 1001 ─▶ seize-ack 1101 ─▶ answer 0101 ─▶ (clear-back 1101) ─▶ idle 1001
//! ```
//! Only the A and B bits carry meaning; C/D stay at the ITU 01, or at 11 on
//! spans running the China MFC/R2 variant. On such spans an inbound seizure is
//! followed by register signalling in the timeslot ([`super::r2`]) before the
//! answer; elsewhere it is a call without a caller number. An outbound call
//! sends its digits as DTMF in the timeslot once the seizure is acknowledged.

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

/// Bits as [`Abcd`]; every constant above is valid, with either C/D pair.
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
    /// Outbound: the far end acknowledged our seizure; the digits may go.
    SeizeAcked,
    /// Outbound: the called party answered.
    Answered,
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
    /// Outbound: seize sent, waiting for the acknowledgement.
    OutSeized,
    /// Outbound: acknowledged, waiting for the answer.
    OutAcked,
    OutAnswered,
    /// Outbound: clear-forward sent, waiting for the far end's idle.
    ClearingForward,
}

/// Why an outbound seizure was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeizeError {
    /// The channel carries a call or is clearing one.
    #[error("the channel is busy")]
    Busy,
    /// The span is in alarm.
    #[error("the span is in alarm")]
    Blocked,
}

/// C/D bits of the ITU line states.
pub const CD_ITU: u8 = 0b01;
/// C/D bits of the China MFC/R2 variant (OpenR2 `r2config_china`).
pub const CD_CHINA: u8 = 0b11;

/// One channel's Q.421 line-signalling state.
#[derive(Debug)]
pub struct CasSignalling {
    state: State,
    /// The unused C/D bits sent with every line state.
    cd: u8,
}

impl Default for CasSignalling {
    fn default() -> Self {
        Self::new()
    }
}

impl CasSignalling {
    /// An idle channel sending the ITU C/D bits.
    pub fn new() -> Self {
        Self::with_cd(CD_ITU)
    }

    /// An idle channel sending `cd` as its C/D bits ([`CD_CHINA`] on MFC/R2
    /// China spans).
    pub fn with_cd(cd: u8) -> Self {
        CasSignalling {
            state: State::Idle,
            cd: cd & 0b11,
        }
    }

    /// Line state `bits` (A and B) with this channel's C/D bits.
    fn out(&self, bits: u8) -> Abcd {
        abcd((bits & 0b1100) | self.cd)
    }

    /// The far end's bits changed; `send` gets the bits to answer with.
    pub fn on_abcd(&mut self, bits: Abcd, mut send: impl FnMut(Abcd)) -> Option<CasSignal> {
        if matches!(
            self.state,
            State::OutSeized | State::OutAcked | State::OutAnswered | State::ClearingForward
        ) {
            return self.backward(bits);
        }
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
                send(self.out(SEIZE_ACK));
                Some(CasSignal::Seized)
            }
            (State::Seized | State::Answered, false) => {
                self.state = State::ClearedForward;
                Some(CasSignal::Cleared)
            }
            (State::ClearedBack, false) => {
                self.state = State::Idle;
                send(self.out(IDLE));
                None
            }
            _ => None,
        }
    }

    /// Backward signals on an outbound call: B=1 with A=1 is seize-ack before
    /// the answer and clear-back after it, A=0 B=1 is answer, A=1 B=0 idle.
    fn backward(&mut self, bits: Abcd) -> Option<CasSignal> {
        match (self.state, bits.bits() & 0b1100) {
            (State::OutSeized, 0b1100) => {
                self.state = State::OutAcked;
                Some(CasSignal::SeizeAcked)
            }
            (State::OutSeized | State::OutAcked, 0b0100) => {
                self.state = State::OutAnswered;
                Some(CasSignal::Answered)
            }
            (State::OutAnswered, 0b1100) => Some(CasSignal::Cleared),
            (State::ClearingForward, 0b1000) => {
                self.state = State::Idle;
                None
            }
            (State::OutSeized | State::OutAcked | State::OutAnswered, 0b1000) => {
                // The far end is idle already: our release goes straight to idle.
                self.state = State::ClearedForward;
                Some(CasSignal::Cleared)
            }
            _ => None,
        }
    }

    /// Outbound: seizes the idle channel.
    pub fn seize(&mut self, mut send: impl FnMut(Abcd)) -> Result<(), SeizeError> {
        match self.state {
            State::Idle => {
                self.state = State::OutSeized;
                send(self.out(SEIZE));
                Ok(())
            }
            State::Blocked => Err(SeizeError::Blocked),
            _ => Err(SeizeError::Busy),
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
            matches!(
                was,
                State::Seized
                    | State::Answered
                    | State::OutSeized
                    | State::OutAcked
                    | State::OutAnswered
            )
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
            send(self.out(ANSWER));
        }
    }

    /// The call line released: idle when the far end already cleared (or the
    /// span is down), else clear-back until it clears forward.
    pub fn released(&mut self, mut send: impl FnMut(Abcd)) {
        match self.state {
            State::Seized | State::Answered => {
                self.state = State::ClearedBack;
                send(self.out(CLEAR_BACK));
            }
            State::ClearedForward => {
                self.state = State::Idle;
                send(self.out(IDLE));
            }
            State::Blocked => send(self.out(IDLE)),
            State::OutSeized | State::OutAcked | State::OutAnswered => {
                // Clear-forward; the far end confirms with idle.
                self.state = State::ClearingForward;
                send(self.out(IDLE));
            }
            State::Idle | State::ClearedBack | State::ClearingForward => {}
        }
    }
}
