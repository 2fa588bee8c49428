//! The simulated carrier exchange's outgoing MFC/R2 register (China variant):
//! it seizes a channel, then sends the dialled number, the category and the
//! caller's number in compelled cycles, reacting to the backward signals it
//! hears in the timeslot. It is written from the forward side's point of view
//! and shares nothing with the gateway's incoming register but the tone
//! generator and detector, so a test of one against the other checks both.
//!
//! Backward signals as the China variant uses them: A-1 next digit (of the ANI
//! after a category request until the ANI ends, else of the DNIS), A-3 address
//! complete (send the category as group II, group B follows), A-6 send the
//! category; B-1 accepted, B-2 busy, other B signals refuse the call.

use crate::dsp::r2::{Direction, R2Detector, R2Error, R2Generator, R2Signal};

/// Group II category "ordinary subscriber" (China KD = 1).
pub const ORDINARY_SUBSCRIBER: u8 = 1;
/// Group I "end of ANI".
const END_OF_ANI: u8 = 15;
/// Group I "ANI withheld".
const ANI_WITHHELD: u8 = 12;

/// The numbers of a simulated MFC/R2 call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct R2Call {
    dnis: Vec<R2Signal>,
    /// `None`: the caller's number is withheld.
    ani: Option<Vec<R2Signal>>,
    category: R2Signal,
}

impl R2Call {
    /// A call to `dnis` from `ani` (`None`: withheld) as an ordinary
    /// subscriber; fails on anything but digits.
    pub fn new(dnis: &str, ani: Option<&str>) -> Result<Self, R2Error> {
        let digits = |s: &str| s.chars().map(R2Signal::from_digit).collect();
        Ok(Self {
            dnis: digits(dnis)?,
            ani: ani.map(digits).transpose()?,
            category: R2Signal::new(ORDINARY_SUBSCRIBER)?,
        })
    }
}

/// Where a simulated MFC/R2 call stands, as the far end sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum R2CallState {
    /// Seized; waiting for the seize-ack.
    Seizing,
    /// Register signalling in progress.
    Signalling,
    /// The gateway accepted the call (B-1).
    Accepted,
    /// The gateway refused the call with this group B signal (B-2 busy…).
    Refused(R2Signal),
    /// The gateway sent a backward signal the far end cannot place.
    Failed(R2Signal),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cycle {
    /// Our signal is on until the backward signal comes.
    Sending,
    /// Ours is off; once theirs ends, `next` goes out (or we stay silent and
    /// wait for a pulsed request).
    AwaitBackOff { next: Option<R2Signal> },
    /// Nothing to send; waiting for a (pulsed) request.
    Silent,
}

/// The forward register of one channel.
#[derive(Debug, Clone)]
pub(crate) struct R2Caller {
    call: R2Call,
    state: R2CallState,
    cycle: Cycle,
    dnis_sent: usize,
    ani_sent: usize,
    /// A-1 asks for the ANI (after a category request, until the ANI ended).
    in_ani: bool,
    /// A-3 came: the next backward signal is group B.
    group_b: bool,
    tones: R2Generator,
    det: R2Detector,
}

impl R2Caller {
    pub(crate) fn new(call: R2Call) -> Self {
        Self {
            call,
            state: R2CallState::Seizing,
            cycle: Cycle::Silent,
            dnis_sent: 0,
            ani_sent: 0,
            in_ani: false,
            group_b: false,
            tones: R2Generator::new(Direction::Forward),
            det: R2Detector::new(Direction::Backward),
        }
    }

    pub(crate) fn state(&self) -> R2CallState {
        self.state.clone()
    }

    /// The gateway's A and B bits; 11 while seizing is the seize-ack, which
    /// starts the first digit.
    pub(crate) fn on_gateway_bits(&mut self, bits: u8) {
        if self.state == R2CallState::Seizing && bits & 0b1100 == 0b1100 {
            self.state = R2CallState::Signalling;
            let first = self.next_dnis();
            self.send(first);
        }
    }

    /// Audio the gateway sent on the channel.
    pub(crate) fn on_gateway_audio(&mut self, pcm: &[i16]) {
        let mut changes = Vec::new();
        self.det.process(pcm, |s| changes.push(s));
        for change in changes {
            self.on_backward(change);
        }
    }

    /// Our signal for the next samples (silence when none).
    pub(crate) fn fill(&mut self, out: &mut [i16]) {
        self.tones.fill(out);
    }

    /// Whether the register phase is still running (its audio overrides the
    /// channel's other audio).
    pub(crate) fn signalling(&self) -> bool {
        matches!(self.state, R2CallState::Seizing | R2CallState::Signalling)
    }

    fn send(&mut self, signal: Option<R2Signal>) {
        self.tones.set(signal);
        self.cycle = if signal.is_some() {
            Cycle::Sending
        } else {
            Cycle::Silent
        };
    }

    fn next_dnis(&mut self) -> Option<R2Signal> {
        let d = self.call.dnis.get(self.dnis_sent).copied();
        self.dnis_sent += usize::from(d.is_some());
        d
    }

    fn on_backward(&mut self, change: Option<R2Signal>) {
        // Once group B has ended the register phase, tones mean nothing.
        if self.state != R2CallState::Signalling {
            return;
        }
        match (self.cycle, change) {
            (Cycle::Sending | Cycle::Silent, Some(b)) => {
                // Compelled: their signal ends ours; we answer once theirs ends.
                self.tones.set(None);
                let next = self.answer(b);
                self.cycle = Cycle::AwaitBackOff { next };
            }
            (Cycle::AwaitBackOff { next }, None) => self.send(next),
            _ => {}
        }
    }

    /// What backward signal `b` asks for.
    fn answer(&mut self, b: R2Signal) -> Option<R2Signal> {
        if self.group_b {
            self.state = if b.get() == 1 {
                R2CallState::Accepted
            } else {
                R2CallState::Refused(b)
            };
            return None;
        }
        match b.get() {
            1 if self.in_ani => match &self.call.ani {
                Some(ani) if self.ani_sent < ani.len() => {
                    self.ani_sent += 1;
                    Some(ani[self.ani_sent - 1])
                }
                Some(_) => {
                    self.in_ani = false;
                    R2Signal::new(END_OF_ANI).ok()
                }
                None => {
                    self.in_ani = false;
                    R2Signal::new(ANI_WITHHELD).ok()
                }
            },
            // China has no end-of-DNIS signal: with no digit left we stay
            // silent until the gateway's timer runs out.
            1 => self.next_dnis(),
            3 => {
                self.group_b = true;
                Some(self.call.category)
            }
            6 => {
                self.in_ani = true;
                Some(self.call.category)
            }
            _ => {
                self.state = R2CallState::Failed(b);
                None
            }
        }
    }
}
