//! One line's call, sans I/O: line signals and line audio in, hook commands
//! (or E1 line-signalling bits), prompts, routing requests and the finished CDR
//! out. The engine's audio thread drives one [`CallLine`] per FXO port and per
//! E1 voice channel; tests drive it with a fake clock.
//!
//! The call's life (IVR, queue hand-off, CDR, release) is shared; only the
//! signalling front end differs: an FXO [`Supervisor`] (ring, caller ID, loop
//! current, busy tone) or an E1 channel's Q.421 CAS ([`super::cas`]).
//!
//! ```text
//! idle ─ring─▶ ringing ─caller ID or 2nd ring─▶ answer ─▶ IVR ─queue─▶ routed
//!                 │                                     │ closed / hangup   │
//!                 └─caller gave up─▶ CDR                └──────────▶ release ◀── Release
//!                                           far end gone (loop break, polarity, busy) ─▶ CDR
//! ```
//! Answering on caller ID (or the second ring when none comes) means the number
//! is known before the IVR starts, without making the caller wait longer. An E1
//! seizure on a span with line signalling only carries no number, so it is
//! answered at once; on an MFC/R2 span the register phase ([`super::r2`]) runs
//! first and the call is answered once it has the numbers (or cleared back
//! when it fails). Its clear-forward is the "far end gone", and a span alarm
//! ends the call as a line fault.

use std::collections::BTreeMap;
use std::sync::Arc;

use tandem_hal::board::R2Settings;
use tandem_hal::dsp::dtmf::DtmfDetector;
use tandem_hal::e1::{Abcd, SpanStatus};
use tandem_hal::fxo::{Disconnect, Signal, Supervisor, SupervisorConfig};
use tandem_hal::line::{Hook, LineEvent};
use tandem_node::calls::{
    CallUp, Cdr, CdrEventKind, EndCause, Hangup, ReleaseReason, ValidCenterConfig,
};
use tandem_node::ivr::{IvrAction, IvrEventKind, IvrInput, IvrSession, Prompt};
use tandem_node::names::Site;
use tandem_node::routing::{CallId, QueueId};

use super::cas::{CD_CHINA, CasSignal, CasSignalling};
use super::r2::{R2Channel, R2Outcome};
use super::record::CdrBuilder;

/// Something the line's audio should carry next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sound {
    /// An IVR prompt.
    Ivr(Prompt),
    /// The short message before the gateway releases the line.
    ReleaseMessage,
    /// DTMF digits dialled on an outbound call.
    Digits(String),
}

/// The call variable carrying the dialled number (DNIS) of an E1 call with
/// register signalling, for routing and the agent's screen.
pub const DNIS_VAR: &str = "dnis";

/// How long an outbound call waits for dial tone before dialling.
const DIAL_TONE_WAIT_MS: u64 = 1000;

/// What the engine must do for the line.
#[derive(Debug, Clone, PartialEq)]
pub enum LineOut {
    /// Go off hook (answer) or on hook (release) (FXO).
    Hook(Hook),
    /// Send these ABCD bits on the channel (E1).
    Abcd(Abcd),
    /// The line was answered: the call's media starts.
    Answered {
        /// The call.
        call: CallId,
    },
    /// Play into the caller's ear; the engine reports the end with
    /// [`CallLine::prompt_finished`].
    Play(Sound),
    /// Stop the prompt playing (the caller barged in).
    StopPrompt,
    /// The IVR handed the call on: [`CallUp::Arrived`] (route it) or
    /// [`CallUp::CallbackRequested`]. Sent to the coordinator when online,
    /// else routed by the local router.
    Up(CallUp),
    /// The call is over and the line on hook; write the CDR, then tell the world.
    Ended(Box<Cdr>),
}

enum Phase {
    Ringing {
        rings: u32,
    },
    Ivr {
        session: Box<IvrSession>,
        closed: bool,
        seen: usize,
    },
    Routed,
    /// Outbound: seized, waiting for dial tone, then dialling.
    Dialing {
        digits: String,
        dial_at: u64,
    },
    /// Outbound on E1: dialled, waiting for the answer signal.
    Alerting,
    /// Outbound: dialled; the far end is taken as answered (FXO lines rarely
    /// signal an answer; a polarity reversal later is a hang-up).
    Outbound,
    Releasing {
        hangup: Hangup,
        cause: EndCause,
    },
}

struct Active {
    cdr: CdrBuilder,
    caller: Option<String>,
    /// The number the caller dialled (DNIS), when register signalling gave it.
    dialled: Option<String>,
    phase: Phase,
    prompt: bool,
    /// A callback prompt offered while queued: digit 1 accepts.
    callback_offer: Option<QueueId>,
}

/// How the line signals: the front end in front of the shared call life.
enum Signalling {
    Fxo(Box<Supervisor>),
    /// E1 CAS line signalling, with MFC/R2 register signalling on spans that run it.
    Cas {
        cas: CasSignalling,
        r2: Option<Box<R2Channel>>,
    },
}

/// One line's call logic (an FXO port or an E1 voice channel).
pub struct CallLine {
    site: Site,
    id: String,
    signalling: Signalling,
    dtmf: DtmfDetector,
    config: Option<Arc<ValidCenterConfig>>,
    call: Option<Active>,
    next_call: Box<dyn FnMut(u64) -> CallId + Send>,
}

impl CallLine {
    /// A line `id` of `site`, supervised with `supervisor`; `next_call` chooses
    /// the id of each new call from the current Unix ms.
    pub fn new(
        site: Site,
        id: &str,
        supervisor: SupervisorConfig,
        next_call: Box<dyn FnMut(u64) -> CallId + Send>,
    ) -> Self {
        Self::with(
            site,
            id,
            Signalling::Fxo(Box::new(Supervisor::new(supervisor))),
            next_call,
        )
    }

    /// E1 voice channel `id` (`"<span>/<channel>"`) of `site`, signalling with
    /// CAS, and with MFC/R2 China register signalling when `register` is set
    /// (then the C/D bits are China's 11); `next_call` as for [`CallLine::new`].
    pub fn e1(
        site: Site,
        id: &str,
        register: Option<R2Settings>,
        next_call: Box<dyn FnMut(u64) -> CallId + Send>,
    ) -> Self {
        let signalling = match register {
            Some(settings) => Signalling::Cas {
                cas: CasSignalling::with_cd(CD_CHINA),
                r2: Some(Box::new(R2Channel::new(settings))),
            },
            None => Signalling::Cas {
                cas: CasSignalling::new(),
                r2: None,
            },
        };
        Self::with(site, id, signalling, next_call)
    }

    fn with(
        site: Site,
        id: &str,
        signalling: Signalling,
        next_call: Box<dyn FnMut(u64) -> CallId + Send>,
    ) -> Self {
        CallLine {
            site,
            id: id.to_owned(),
            signalling,
            dtmf: DtmfDetector::new(),
            config: None,
            call: None,
            next_call,
        }
    }

    /// The port id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The configuration new calls use (calls in progress keep their flow).
    pub fn set_config(&mut self, config: Arc<ValidCenterConfig>) {
        self.config = Some(config);
    }

    /// The call on this line, once answered or ringing.
    pub fn call(&self) -> Option<CallId> {
        self.call.as_ref().map(|c| c.cdr.call())
    }

    /// Whether a prompt the engine must report on is playing.
    pub fn prompt_playing(&self) -> bool {
        self.call.as_ref().is_some_and(|c| c.prompt)
    }

    /// Whether the call has been handed to routing (and not yet answered).
    pub fn routed(&self) -> bool {
        self.call
            .as_ref()
            .is_some_and(|c| matches!(c.phase, Phase::Routed))
    }

    /// Whether an agent answered the call.
    pub fn answered(&self) -> bool {
        self.call.as_ref().is_some_and(|c| c.cdr.answered())
    }

    /// The caller's number, if known.
    pub fn caller(&self) -> Option<&str> {
        self.call.as_ref().and_then(|c| c.caller.as_deref())
    }

    /// The call's CDR so far, kept durably while the call is up.
    pub fn cdr_snapshot(&self) -> Option<tandem_node::calls::Cdr> {
        self.call.as_ref().map(|c| c.cdr.snapshot())
    }

    /// Adds a routing or media fact to the call's CDR.
    pub fn log(&mut self, now_ms: u64, kind: CdrEventKind) {
        if let Some(c) = &mut self.call {
            c.cdr.event(now_ms * 1000, kind);
        }
    }

    /// A line event from the port (FXO; ignored on an E1 channel).
    pub fn on_event(&mut self, now_ms: u64, event: &LineEvent) -> Vec<LineOut> {
        let mut signals = Vec::new();
        if let Signalling::Fxo(sup) = &mut self.signalling {
            sup.on_event(event, |s| signals.push(s));
        }
        let mut out = Vec::new();
        for s in signals {
            self.signal(now_ms, s, &mut out);
        }
        out
    }

    /// The far end's ABCD bits on this E1 channel changed (ignored on FXO).
    pub fn on_abcd(&mut self, now_ms: u64, bits: Abcd) -> Vec<LineOut> {
        let mut out = Vec::new();
        let Signalling::Cas { cas, .. } = &mut self.signalling else {
            return out;
        };
        let signal = cas.on_abcd(bits, |b| out.push(LineOut::Abcd(b)));
        if let Some(signal) = signal {
            self.cas_signal(now_ms, signal, &mut out);
        }
        out
    }

    /// The E1 span's status changed: an alarm ends this channel's call with
    /// [`EndCause::LineFault`] (ignored on FXO).
    pub fn on_span_status(&mut self, now_ms: u64, status: &SpanStatus) -> Vec<LineOut> {
        let mut out = Vec::new();
        let Signalling::Cas { cas, .. } = &mut self.signalling else {
            return out;
        };
        if let Some(signal) = cas.on_status(status) {
            self.cas_signal(now_ms, signal, &mut out);
        }
        out
    }

    fn cas_signal(&mut self, now_ms: u64, signal: CasSignal, out: &mut Vec<LineOut>) {
        match signal {
            CasSignal::Seized => {
                self.incoming(now_ms);
                let accept = self.can_answer();
                if let Signalling::Cas { r2: Some(r2), .. } = &mut self.signalling {
                    // The numbers come first; the answer follows group B.
                    r2.start(now_ms, accept);
                    return;
                }
                // No caller number comes with line signalling: answer at once.
                self.answer(now_ms, out);
            }
            CasSignal::Cleared => self.far_end_gone(now_ms, out),
            CasSignal::SeizeAcked => {
                if let Some(c) = &mut self.call
                    && let Phase::Dialing { dial_at, .. } = &mut c.phase
                {
                    *dial_at = now_ms;
                }
            }
            CasSignal::Answered => {
                if let Some(c) = &mut self.call
                    && std::mem::take(&mut c.prompt)
                {
                    // Answered before the last digit went out.
                    out.push(LineOut::StopPrompt);
                }
                self.dial_answered(now_ms, out);
            }
            CasSignal::Fault(reason) => {
                if let Some(c) = &self.call {
                    tracing::warn!(call = %c.cdr.call(), line = %self.id, %reason, "line fault ends the call");
                }
                self.end(now_ms, Hangup::System, EndCause::LineFault(reason), out);
            }
        }
    }

    /// The register phase ended: the call arrives with its numbers, or the
    /// line clears back.
    fn registered(&mut self, now_ms: u64, outcome: R2Outcome, out: &mut Vec<LineOut>) {
        let Some(c) = &mut self.call else {
            return;
        };
        let call = c.cdr.call();
        match outcome {
            R2Outcome::Accepted(numbers) => {
                tracing::info!(%call, line = %self.id, dnis = %numbers.dnis, ani = ?numbers.ani, "MFC/R2 numbers received");
                if let Some(ani) = numbers
                    .ani
                    .as_ref()
                    .filter(|n| n.len() <= tandem_node::limits::MAX_NUMBER)
                {
                    c.cdr.set_number(ani.clone());
                }
                c.caller = numbers.ani.and_then(tandem_node::limits::caller_number);
                c.dialled = Some(numbers.dnis);
                self.answer(now_ms, out);
            }
            R2Outcome::Refused(numbers) => {
                tracing::warn!(%call, line = %self.id, dnis = %numbers.dnis, "MFC/R2 call refused busy: no IVR flow can take it");
                let reason = "refused busy (B-2): no IVR flow for the line".to_owned();
                self.end(now_ms, Hangup::System, EndCause::LineFault(reason), out);
            }
            R2Outcome::Failed(failure) => {
                tracing::warn!(%call, line = %self.id, %failure, "MFC/R2 register signalling failed; clearing back");
                self.end(
                    now_ms,
                    Hangup::System,
                    EndCause::LineFault(failure.to_string()),
                    out,
                );
            }
        }
    }

    /// Whether an incoming call could be answered now (configuration and an
    /// IVR flow for this line).
    fn can_answer(&self) -> bool {
        self.config
            .as_ref()
            .is_some_and(|c| c.flow_for(&self.site, &self.id).is_some())
    }

    /// Writes the register signalling tone due now into the line's outgoing
    /// frame; the engine calls it for lines without call audio. Leaves `out`
    /// alone when no register phase runs.
    pub fn register_tone(&mut self, out: &mut [i16]) {
        if let Signalling::Cas { r2: Some(r2), .. } = &mut self.signalling {
            r2.fill(out);
        }
    }

    /// The number the caller dialled, if register signalling gave it.
    pub fn dialled(&self) -> Option<&str> {
        self.call.as_ref().and_then(|c| c.dialled.as_deref())
    }

    /// One frame of line audio (which also advances the FXO supervisor's
    /// clock), then due IVR deadlines.
    pub fn on_audio(&mut self, now_ms: u64, frame: &[i16]) -> Vec<LineOut> {
        let mut signals = Vec::new();
        if let Signalling::Fxo(sup) = &mut self.signalling {
            sup.on_audio(frame, |s| signals.push(s));
        }
        let mut out = Vec::new();
        for s in signals {
            self.signal(now_ms, s, &mut out);
        }
        let register = match &mut self.signalling {
            Signalling::Cas { r2: Some(r2), .. } => r2.on_audio(now_ms, frame),
            _ => None,
        };
        if let Some(outcome) = register {
            self.registered(now_ms, outcome, &mut out);
        }
        let listening = self
            .call
            .as_ref()
            .is_some_and(|c| matches!(c.phase, Phase::Ivr { .. }) || c.callback_offer.is_some());
        if listening {
            let mut digits = Vec::new();
            self.dtmf.process(frame, |d| digits.push(d));
            for d in digits {
                self.digit(now_ms, d, &mut out);
            }
        }
        if let Some(c) = &mut self.call
            && let Phase::Dialing { digits, dial_at } = &c.phase
            && now_ms >= *dial_at
            && !c.prompt
        {
            let digits = digits.clone();
            c.prompt = true;
            out.push(LineOut::Play(Sound::Digits(digits)));
        }
        let due = self.call.as_ref().and_then(|c| match &c.phase {
            Phase::Ivr { session, .. } => session.next_deadline(),
            _ => None,
        });
        if due.is_some_and(|d| now_ms >= d) {
            self.ivr(now_ms, IvrInput::Tick, &mut out);
        }
        out
    }

    /// The prompt last asked for has finished playing.
    pub fn prompt_finished(&mut self, now_ms: u64) -> Vec<LineOut> {
        let mut out = Vec::new();
        let Some(c) = &mut self.call else {
            return out;
        };
        if !std::mem::take(&mut c.prompt) {
            return out;
        }
        match &c.phase {
            Phase::Ivr { .. } => self.ivr(now_ms, IvrInput::PromptFinished, &mut out),
            Phase::Releasing { hangup, cause } => {
                let (hangup, cause) = (hangup.clone(), cause.clone());
                self.end(now_ms, hangup, cause, &mut out);
            }
            Phase::Dialing { .. } if matches!(self.signalling, Signalling::Cas { .. }) => {
                c.phase = Phase::Alerting;
            }
            Phase::Dialing { .. } => self.dial_answered(now_ms, &mut out),
            _ => {}
        }
        out
    }

    /// The routing side releases the call (blacklist, queue full, agent hung up…).
    pub fn release(&mut self, now_ms: u64, reason: &ReleaseReason) -> Vec<LineOut> {
        let mut out = Vec::new();
        let Some(c) = &self.call else {
            return out;
        };
        if matches!(c.phase, Phase::Ringing { .. } | Phase::Releasing { .. }) {
            return out;
        }
        let (hangup, cause, message) = match reason {
            ReleaseReason::Blacklisted => (Hangup::System, EndCause::Blacklisted, true),
            ReleaseReason::QueueFull => (Hangup::System, EndCause::QueueFull, true),
            ReleaseReason::AgentHungUp(a) => (Hangup::Agent(*a), EndCause::Completed, false),
            ReleaseReason::ForceReleased(_) => (Hangup::System, EndCause::ForceReleased, false),
            ReleaseReason::CallbackRegistered => (Hangup::System, EndCause::IvrHangup, true),
        };
        let cause = match cause {
            EndCause::Completed if !c.cdr.answered() => EndCause::AbandonedInQueue,
            other => other,
        };
        if message {
            self.releasing(hangup, cause, &mut out);
        } else {
            self.end(now_ms, hangup, cause, &mut out);
        }
        out
    }

    /// Places an outbound call (a callback, an agent's call). FXO: seize the
    /// line, wait for dial tone, dial `number`'s digits; once dialled the call
    /// counts as answered (FXO lines rarely signal it). E1: seize, dial DTMF
    /// once the far end acknowledges, and wait for its answer signal. Then
    /// [`CallUp::DialAnswered`] goes out. Refused while the line has a call
    /// (or, on E1, while the span is in alarm).
    pub fn dial(
        &mut self,
        now_ms: u64,
        call: CallId,
        number: &str,
    ) -> Result<Vec<LineOut>, String> {
        if self.call.is_some() {
            return Err(format!("line {} is busy", self.id));
        }
        let mut out = Vec::new();
        // FXO: off hook, then dial after the dial tone. E1: seize, then dial
        // once the far end acknowledges.
        let dial_at = match &mut self.signalling {
            Signalling::Fxo(_) => now_ms + DIAL_TONE_WAIT_MS,
            Signalling::Cas { cas, .. } => {
                cas.seize(|b| out.push(LineOut::Abcd(b)))
                    .map_err(|e| format!("line {}: {e}", self.id))?;
                u64::MAX
            }
        };
        let digits: String = number
            .chars()
            .filter(|c| tandem_hal::dsp::dtmf::tones_of(*c).is_some())
            .collect();
        if digits.is_empty() {
            return Err(format!("{number:?} has no digits to dial"));
        }
        let mut cdr = CdrBuilder::inbound(call, self.site.clone(), &self.id, now_ms * 1000);
        cdr.set_outbound(number.to_owned());
        cdr.event(now_ms * 1000, CdrEventKind::LineSeized);
        tracing::info!(call = %call, line = %self.id, "dialling out");
        self.call = Some(Active {
            cdr,
            caller: Some(number.to_owned()),
            dialled: None,
            phase: Phase::Dialing { digits, dial_at },
            prompt: false,
            callback_offer: None,
        });
        if let Signalling::Fxo(_) = self.signalling {
            self.off_hook(&mut out);
        }
        out.push(LineOut::Answered { call });
        Ok(out)
    }

    /// The routing side proposes a callback to the waiting caller: a prompt,
    /// then digit 1 accepts.
    pub fn offer_callback(&mut self, queue: QueueId) -> Vec<LineOut> {
        match &mut self.call {
            Some(c) if matches!(c.phase, Phase::Routed) => {
                c.callback_offer = Some(queue);
                self.dtmf.reset();
                vec![LineOut::Play(Sound::Ivr(Prompt::Tone(
                    tandem_node::ivr::ToneSpec {
                        frequencies_hz: vec![520],
                        duration_ms: 300,
                    },
                )))]
            }
            _ => Vec::new(),
        }
    }

    fn signal(&mut self, now_ms: u64, signal: Signal, out: &mut Vec<LineOut>) {
        match signal {
            Signal::Incoming => {
                if self.call.is_none() {
                    self.incoming(now_ms);
                } else if let Some(Active {
                    phase: Phase::Ringing { rings },
                    ..
                }) = &mut self.call
                {
                    *rings += 1;
                }
            }
            Signal::CallerId(r) => {
                let number = r.id.number.as_str().to_owned();
                if let Some(c) = &mut self.call
                    && !number.is_empty()
                    && let Some(number) = tandem_node::limits::caller_number(number)
                {
                    let n = number;
                    tracing::info!(call = %c.cdr.call(), caller = %n, "caller ID");
                    c.cdr.set_number(n.clone());
                    c.caller = Some(n);
                }
                self.answer(now_ms, out);
            }
            Signal::Abandoned => {
                if self.call.is_some() {
                    self.end(now_ms, Hangup::Caller, EndCause::AbandonedInIvr, out);
                }
            }
            Signal::FarEndGone(how) => {
                let _: Disconnect = how;
                if let Some(c) = &self.call {
                    tracing::info!(call = %c.cdr.call(), how = ?how, "far end hung up");
                }
                self.far_end_gone(now_ms, out);
            }
        }
        // Without caller ID, answer on the second ring.
        if let Some(Active {
            phase: Phase::Ringing { rings },
            ..
        }) = &self.call
            && *rings >= 2
        {
            self.answer(now_ms, out);
        }
    }

    /// A new incoming call on the idle line (FXO ring or E1 seizure).
    fn incoming(&mut self, now_ms: u64) {
        if self.call.is_some() {
            return;
        }
        let call = (self.next_call)(now_ms);
        let mut cdr = CdrBuilder::inbound(call, self.site.clone(), &self.id, now_ms * 1000);
        cdr.event(now_ms * 1000, CdrEventKind::LineSeized);
        let span = tracing::info_span!("call", call = %call, line = %self.id);
        tracing::info!(parent: &span, "incoming call");
        self.call = Some(Active {
            cdr,
            caller: None,
            dialled: None,
            phase: Phase::Ringing { rings: 1 },
            prompt: false,
            callback_offer: None,
        });
    }

    /// The caller hung up (FXO disconnect signal, E1 clear-forward).
    fn far_end_gone(&mut self, now_ms: u64, out: &mut Vec<LineOut>) {
        let Some(c) = &self.call else {
            return;
        };
        let cause = match &c.phase {
            _ if c.cdr.answered() => EndCause::Completed,
            Phase::Routed => EndCause::AbandonedInQueue,
            Phase::Dialing { .. } | Phase::Alerting => EndCause::NoAnswer,
            Phase::Outbound => EndCause::Completed,
            Phase::Releasing { cause, .. } => cause.clone(),
            _ => EndCause::AbandonedInIvr,
        };
        self.end(now_ms, Hangup::Caller, cause, out);
    }

    /// Outbound: the called party is taken as (FXO) or signalled (E1) answered.
    fn dial_answered(&mut self, now_ms: u64, out: &mut Vec<LineOut>) {
        let Some(c) = &mut self.call else {
            return;
        };
        if !matches!(c.phase, Phase::Dialing { .. } | Phase::Alerting) {
            return;
        }
        c.phase = Phase::Outbound;
        c.cdr.event(now_ms * 1000, CdrEventKind::LineAnswered);
        tracing::info!(call = %c.cdr.call(), line = %self.id, "outbound call answered");
        out.push(LineOut::Up(CallUp::DialAnswered { call: c.cdr.call() }));
    }

    /// Takes the line: off hook (FXO) or answer bits (E1).
    fn off_hook(&mut self, out: &mut Vec<LineOut>) {
        match &mut self.signalling {
            Signalling::Fxo(sup) => {
                sup.answered();
                out.push(LineOut::Hook(Hook::Off));
            }
            Signalling::Cas { cas, .. } => cas.answered(|b| out.push(LineOut::Abcd(b))),
        }
    }

    /// Gives the line back: on hook if it was taken (FXO), clear-back or idle (E1).
    fn on_hook(&mut self, was_off_hook: bool, out: &mut Vec<LineOut>) {
        match &mut self.signalling {
            Signalling::Fxo(sup) => {
                sup.released();
                if was_off_hook {
                    out.push(LineOut::Hook(Hook::On));
                }
            }
            Signalling::Cas { cas, r2 } => {
                if let Some(r2) = r2 {
                    r2.stop();
                }
                cas.released(|b| out.push(LineOut::Abcd(b)))
            }
        }
    }

    fn answer(&mut self, now_ms: u64, out: &mut Vec<LineOut>) {
        let Some(c) = &mut self.call else {
            return;
        };
        if !matches!(c.phase, Phase::Ringing { .. }) {
            return;
        }
        let Some(config) = self.config.clone() else {
            tracing::warn!(line = %self.id, "no configuration yet: the call is left ringing");
            return;
        };
        let Some(flow) = config.flow_for(&self.site, &self.id) else {
            tracing::warn!(line = %self.id, site = %self.site, "no IVR flow for this site: the call is left ringing");
            return;
        };
        let started = IvrSession::start(flow, config.ivr(), now_ms);
        let (session, actions) = match started {
            Ok(s) => s,
            Err(err) => {
                tracing::error!(line = %self.id, %err, "IVR flow cannot start: the call is left ringing");
                return;
            }
        };
        let call = c.cdr.call();
        c.cdr.event(now_ms * 1000, CdrEventKind::LineAnswered);
        c.phase = Phase::Ivr {
            session: Box::new(session),
            closed: false,
            seen: 0,
        };
        self.dtmf.reset();
        self.off_hook(out);
        out.push(LineOut::Answered { call });
        self.ivr_actions(now_ms, actions, out);
    }

    fn digit(&mut self, now_ms: u64, d: char, out: &mut Vec<LineOut>) {
        let Some(c) = &mut self.call else {
            return;
        };
        if let Some(queue) = c.callback_offer {
            if d == '1' {
                c.callback_offer = None;
                c.cdr.event(now_ms * 1000, CdrEventKind::CallbackRequested);
                out.push(LineOut::Up(CallUp::CallbackRequested {
                    call: c.cdr.call(),
                    caller: c.caller.clone(),
                    queue,
                    vars: BTreeMap::new(),
                }));
            }
            return;
        }
        self.ivr(now_ms, IvrInput::Digit(d), out);
    }

    fn ivr(&mut self, now_ms: u64, input: IvrInput, out: &mut Vec<LineOut>) {
        let Some(Active {
            phase: Phase::Ivr { session, .. },
            ..
        }) = &mut self.call
        else {
            return;
        };
        let actions = session.handle(now_ms, input);
        self.ivr_actions(now_ms, actions, out);
    }

    fn ivr_actions(&mut self, now_ms: u64, actions: Vec<IvrAction>, out: &mut Vec<LineOut>) {
        self.ivr_nodes(now_ms);
        for action in actions {
            let Some(c) = &mut self.call else {
                return;
            };
            let Phase::Ivr {
                session, closed, ..
            } = &mut c.phase
            else {
                return;
            };
            match action {
                IvrAction::Play { prompt, .. } => {
                    c.prompt = true;
                    out.push(LineOut::Play(Sound::Ivr(prompt)));
                }
                IvrAction::StopPrompt => {
                    c.prompt = false;
                    out.push(LineOut::StopPrompt);
                }
                IvrAction::PlayClosedMessage { prompt } => {
                    *closed = true;
                    c.prompt = true;
                    out.push(LineOut::Play(Sound::Ivr(prompt)));
                }
                IvrAction::RouteToQueue {
                    queue,
                    priority,
                    mut vars,
                } => {
                    if let Some(dnis) = &c.dialled {
                        vars.insert(DNIS_VAR.to_owned(), dnis.clone());
                    }
                    let ivr_path = session.path().iter().map(|s| s.to_string()).collect();
                    c.phase = Phase::Routed;
                    c.prompt = false;
                    out.push(LineOut::Up(CallUp::Arrived {
                        call: c.cdr.call(),
                        line: self.id.clone(),
                        caller: c.caller.clone(),
                        queue,
                        priority,
                        vars,
                        ivr_path,
                    }));
                }
                IvrAction::RegisterCallback { queue, vars } => {
                    c.cdr.event(now_ms * 1000, CdrEventKind::CallbackRequested);
                    out.push(LineOut::Up(CallUp::CallbackRequested {
                        call: c.cdr.call(),
                        caller: c.caller.clone(),
                        queue,
                        vars,
                    }));
                }
                IvrAction::Hangup => {
                    let cause = if *closed {
                        EndCause::Closed
                    } else {
                        EndCause::IvrHangup
                    };
                    self.end(now_ms, Hangup::System, cause, out);
                }
            }
        }
    }

    /// Copies IVR nodes entered since the last look into the CDR timeline.
    fn ivr_nodes(&mut self, now_ms: u64) {
        let Some(c) = &mut self.call else {
            return;
        };
        let Phase::Ivr { session, seen, .. } = &mut c.phase else {
            return;
        };
        let events = session.events();
        for e in events.get(*seen..).unwrap_or_default() {
            if let IvrEventKind::NodeEntered { node } = &e.kind {
                c.cdr.event(
                    e.at_ms.min(now_ms) * 1000,
                    CdrEventKind::Ivr { node: node.clone() },
                );
            }
        }
        *seen = events.len();
    }

    fn releasing(&mut self, hangup: Hangup, cause: EndCause, out: &mut Vec<LineOut>) {
        if let Some(c) = &mut self.call {
            c.phase = Phase::Releasing { hangup, cause };
            c.prompt = true;
            c.callback_offer = None;
            out.push(LineOut::StopPrompt);
            out.push(LineOut::Play(Sound::ReleaseMessage));
        }
    }

    fn end(&mut self, now_ms: u64, hangup: Hangup, cause: EndCause, out: &mut Vec<LineOut>) {
        let Some(mut c) = self.call.take() else {
            return;
        };
        if let Phase::Ivr { session, .. } = &mut c.phase
            && hangup == Hangup::Caller
        {
            session.handle(now_ms, IvrInput::CallerHungUp);
        }
        let was_off_hook = !matches!(c.phase, Phase::Ringing { .. });
        self.dtmf.reset();
        self.on_hook(was_off_hook, out);
        tracing::info!(call = %c.cdr.call(), ?cause, ?hangup, "call ended");
        out.push(LineOut::Ended(Box::new(c.cdr.finish(
            now_ms * 1000,
            hangup,
            cause,
        ))));
    }
}
