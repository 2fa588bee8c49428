//! Simulated analog lines: FXO lines from a programmable exchange, and analog
//! phones on FXS ports.

use super::source::{AudioQueue, Source};
use super::{Audio, Pace, Pacer, SimError, lock};
use crate::board::PortKind;
use crate::dsp::callerid::dtmf_cid;
use crate::dsp::callerid::fsk::FskTransmitter;
use crate::dsp::callerid::receiver::{CallerIdReceiver, Received};
use crate::dsp::callerid::{CallerId, CidStandard};
use crate::dsp::dtmf::{DtmfDetector, DtmfTiming};
use crate::dsp::tones::{ToneGenerator, ToneKind, TonePlan};
use crate::dsp::{LINE_RATE, ms_to_samples};
use crate::line::{Hook, LineCommand, LineError, LineEvent, LinePort, check_frame};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// Delay from the first ring's end to the FSK burst (Bell: ~0.5 s).
const FSK_AFTER_RING_MS: u32 = 500;
/// Delay from the polarity reversal to DTMF caller ID (ETSI: ≥ 100 ms).
const DTMF_CID_DELAY_MS: u32 = 300;
/// Silence after the gateway's last dialled digit before the exchange rings the
/// number and plays ringback.
const RINGBACK_AFTER_DIGITS_MS: u32 = 1000;
/// Delay from the end of DTMF caller ID to the first ring (ETSI: 200–500 ms).
const RING_AFTER_DTMF_MS: u32 = 400;

/// A call the exchange offers on an FXO line.
#[derive(Debug, Clone, PartialEq)]
pub struct IncomingCall {
    pub caller_id: Option<CallerId>,
    /// How the exchange sends the caller ID.
    pub standard: CidStandard,
    /// The caller gives up after this many rings (None: rings until answered).
    pub max_rings: Option<u32>,
}

impl IncomingCall {
    /// A call from `number` with Bell 202 caller ID, ringing until answered.
    pub fn from_number(number: &str) -> Result<Self, SimError> {
        Ok(Self {
            caller_id: Some(
                CallerId::with_number(number).map_err(|e| SimError::Audio(e.to_string()))?,
            ),
            standard: CidStandard::Bell202,
            max_rings: None,
        })
    }
}

/// How the exchange tells the gateway the far end has hung up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HangUp {
    /// Loop current drops for `ms` milliseconds (CPC / open-loop disconnect).
    LoopBreak { ms: u32 },
    /// The exchange reverses polarity.
    PolarityReversal,
    /// The exchange plays a tone (busy or congestion) until the gateway hangs up.
    Tone(ToneKind),
    /// Nothing at all: only silence (the gateway needs a timeout).
    Silent,
}

/// The exchange's view of an FXO line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FxoState {
    Idle,
    /// A call is being offered (caller ID and rings).
    Alerting,
    /// The gateway answered, or the exchange answered the gateway's call.
    Connected,
    /// The gateway is off hook without a call: dial tone, digits collected.
    Dialing,
    /// The far end hung up; the disconnect signal is applied until the gateway
    /// goes on hook.
    Released,
}

#[derive(Debug, Clone)]
struct Alerting {
    t_ms: u32,
    first_ring_ms: u32,
    call: IncomingCall,
    ringing: bool,
    rings: u32,
}

#[derive(Debug)]
enum Side {
    Fxo {
        state: FxoState,
        alerting: Option<Alerting>,
        /// The caller's audio, played once the call is answered.
        pending: AudioQueue,
        loop_restore_in_ms: Option<u32>,
        dialed: String,
        /// Time since the gateway's last digit, while dialing.
        since_digit_ms: Option<u32>,
        dial_detector: Box<DtmfDetector>,
        gateway_released: bool,
    },
    Phone {
        hook: Hook,
        ringing: Option<Alerting>,
        ring_on: bool,
        rings: u32,
        polarity_reversed: bool,
        cid_audio: AudioQueue,
        cid_rx: Box<CallerIdReceiver>,
        caller_id: Option<Received>,
    },
}

#[derive(Debug)]
struct LineSim {
    id: String,
    plan: &'static TonePlan,
    frame_len: usize,
    events: VecDeque<LineEvent>,
    /// What the gateway hears.
    to_gateway: AudioQueue,
    /// What the gateway sent (while a call is up).
    from_gateway: Vec<i16>,
    side: Side,
}

fn ring_is_on(plan: &TonePlan, a: &Alerting) -> bool {
    let (on, off) = match plan.ring_cadence {
        [on, off, ..] => (*on, *off),
        _ => (1000, 4000),
    };
    a.t_ms >= a.first_ring_ms && (a.t_ms - a.first_ring_ms) % (on + off) < on
}

/// Builds the caller-ID signal for a call and the time of its first ring.
fn alert_schedule(
    plan: &TonePlan,
    call: &IncomingCall,
) -> Result<(Alerting, Option<(u32, Source)>), SimError> {
    let ring_on = plan.ring_cadence.first().copied().unwrap_or(1000);
    let audio_err = |e: crate::dsp::callerid::CallerIdError| SimError::Audio(e.to_string());
    let (first_ring_ms, cid) = match (&call.caller_id, call.standard) {
        (None, _) => (0, None),
        (Some(id), CidStandard::Dtmf) => {
            let digits = dtmf_cid::encode(id).map_err(audio_err)?;
            let ms = digits.len() as u32 * (dtmf_cid::TIMING.on_ms + dtmf_cid::TIMING.off_ms);
            let g = dtmf_cid::transmitter(id).map_err(audio_err)?;
            (
                DTMF_CID_DELAY_MS + ms + RING_AFTER_DTMF_MS,
                Some((DTMF_CID_DELAY_MS, Source::Dtmf(g))),
            )
        }
        (Some(id), std) => {
            let tx = FskTransmitter::new(id.encode(false).map_err(audio_err)?, std)
                .ok_or(SimError::Audio("not an FSK standard".to_owned()))?;
            (0, Some((ring_on + FSK_AFTER_RING_MS, Source::Fsk(tx))))
        }
    };
    Ok((
        Alerting {
            t_ms: 0,
            first_ring_ms,
            call: call.clone(),
            ringing: false,
            rings: 0,
        },
        cid,
    ))
}

impl LineSim {
    fn frame_ms(&self) -> u32 {
        (self.frame_len as u32 * 1000) / LINE_RATE
    }

    /// Advances line time by one frame.
    fn tick(&mut self) {
        let frame_ms = self.frame_ms();
        let plan = self.plan;
        match &mut self.side {
            Side::Fxo {
                state,
                alerting,
                loop_restore_in_ms,
                since_digit_ms,
                ..
            } => {
                // A second after the last digit the number is complete: ringback
                // until the far end answers (or is made busy by the test).
                if *state == FxoState::Dialing
                    && let Some(t) = since_digit_ms
                {
                    *t += frame_ms;
                    if *t >= RINGBACK_AFTER_DIGITS_MS {
                        *since_digit_ms = None;
                        self.to_gateway.clear();
                        self.to_gateway
                            .push(Source::Tone(ToneGenerator::new(&plan.ringback), None));
                    }
                }
                if let Some(left) = loop_restore_in_ms {
                    *left = left.saturating_sub(frame_ms);
                    if *left == 0 {
                        *loop_restore_in_ms = None;
                        self.events
                            .push_back(LineEvent::LoopCurrent { present: true });
                    }
                }
                if let Some(a) = alerting {
                    let on = ring_is_on(plan, a);
                    if on != a.ringing {
                        a.ringing = on;
                        if on {
                            a.rings += 1;
                            self.events.push_back(LineEvent::RingStart);
                        } else {
                            self.events.push_back(LineEvent::RingStop);
                            if a.call.max_rings.is_some_and(|m| a.rings >= m) {
                                *alerting = None;
                                *state = FxoState::Idle;
                                self.to_gateway.clear();
                                return;
                            }
                        }
                    }
                    a.t_ms += frame_ms;
                }
            }
            Side::Phone {
                ringing,
                ring_on,
                rings,
                cid_audio,
                cid_rx,
                caller_id,
                ..
            } => {
                if let Some(a) = ringing {
                    let on = ring_is_on(plan, a);
                    if on != *ring_on {
                        *ring_on = on;
                        if on {
                            *rings += 1;
                            if let Some(Ok(r)) = cid_rx.ring_started() {
                                *caller_id = Some(r);
                            }
                        }
                    }
                    a.t_ms += frame_ms;
                }
                // The phone's caller-ID display listens to what the port sends on hook.
                let mut frame = [0i16; 480];
                let n = self.frame_len.min(frame.len());
                cid_audio.fill(&mut frame[..n]);
                cid_rx.process(&frame[..n], |r| {
                    if let Ok(r) = r {
                        *caller_id = Some(r);
                    }
                });
            }
        }
    }

    fn fxo_command(&mut self, cmd: LineCommand) -> Result<(), LineError> {
        let Side::Fxo {
            state,
            alerting,
            pending,
            loop_restore_in_ms,
            dialed,
            since_digit_ms,
            dial_detector,
            gateway_released,
        } = &mut self.side
        else {
            return Err(self.wrong_kind("FXO command"));
        };
        match cmd {
            LineCommand::SetHook(Hook::Off) => match state {
                FxoState::Idle => {
                    *state = FxoState::Dialing;
                    dialed.clear();
                    *since_digit_ms = None;
                    dial_detector.reset();
                    self.to_gateway.clear();
                    self.to_gateway
                        .push(Source::Tone(ToneGenerator::new(&self.plan.dial), None));
                    self.events
                        .push_back(LineEvent::LoopCurrent { present: true });
                }
                FxoState::Alerting => {
                    if alerting.as_ref().is_some_and(|a| a.ringing) {
                        self.events.push_back(LineEvent::RingStop);
                    }
                    *alerting = None;
                    *state = FxoState::Connected;
                    self.to_gateway.clear();
                    self.to_gateway.extend(pending.take());
                    self.events
                        .push_back(LineEvent::LoopCurrent { present: true });
                }
                _ => {}
            },
            LineCommand::SetHook(Hook::On) => {
                if matches!(
                    state,
                    FxoState::Connected | FxoState::Dialing | FxoState::Released
                ) {
                    *gateway_released = *state != FxoState::Released;
                    *state = FxoState::Idle;
                    *loop_restore_in_ms = None;
                    self.to_gateway.clear();
                    pending.clear();
                }
            }
            _ => return Err(self.wrong_kind("FXS command")),
        }
        Ok(())
    }

    fn phone_command(&mut self, cmd: LineCommand) -> Result<(), LineError> {
        let plan = self.plan;
        let port = self.id.clone();
        let Side::Phone {
            hook,
            ringing,
            ring_on,
            rings,
            polarity_reversed,
            cid_audio,
            caller_id,
            ..
        } = &mut self.side
        else {
            return Err(self.wrong_kind("FXS command"));
        };
        match cmd {
            LineCommand::Ring { caller_id: cid } => {
                if *hook == Hook::Off {
                    return Err(LineError::State {
                        port,
                        reason: "cannot ring a phone that is off hook",
                    });
                }
                let call = IncomingCall {
                    caller_id: cid.as_ref().map(|c| c.0.clone()),
                    standard: cid.as_ref().map_or(CidStandard::Bell202, |c| c.1),
                    max_rings: None,
                };
                let (a, signal) = alert_schedule(plan, &call).map_err(|e| LineError::CallerId {
                    port: port.clone(),
                    reason: e.to_string(),
                })?;
                cid_audio.clear();
                if let Some((at_ms, src)) = signal {
                    cid_audio.push(Source::Silence(ms_to_samples(at_ms)));
                    cid_audio.push(src);
                }
                *caller_id = None;
                *ring_on = false;
                *rings = 0;
                *ringing = Some(a);
            }
            LineCommand::StopRing => {
                *ringing = None;
                *ring_on = false;
                cid_audio.clear();
            }
            LineCommand::ReversePolarity => *polarity_reversed = !*polarity_reversed,
            LineCommand::SetHook(_) => return Err(self.wrong_kind("FXO command")),
        }
        Ok(())
    }

    fn wrong_kind(&self, command: &'static str) -> LineError {
        LineError::WrongKind {
            port: self.id.clone(),
            kind: match self.side {
                Side::Fxo { .. } => PortKind::Fxo,
                Side::Phone { .. } => PortKind::Fxs,
            },
            command,
        }
    }

    fn gateway_sent(&mut self, frame: &[i16]) {
        match &mut self.side {
            Side::Fxo {
                state,
                dialed,
                since_digit_ms,
                dial_detector,
                ..
            } => {
                if matches!(
                    state,
                    FxoState::Connected | FxoState::Released | FxoState::Dialing
                ) {
                    self.from_gateway.extend_from_slice(frame);
                }
                if *state == FxoState::Dialing {
                    let mut first = dialed.is_empty();
                    let to_gateway = &mut self.to_gateway;
                    dial_detector.process(frame, |d| {
                        if first {
                            // Dial tone stops at the first digit.
                            to_gateway.clear();
                            first = false;
                        }
                        dialed.push(d);
                        *since_digit_ms = Some(0);
                    });
                }
            }
            Side::Phone { hook, .. } => {
                if *hook == Hook::Off {
                    self.from_gateway.extend_from_slice(frame);
                }
            }
        }
    }
}

/// The gateway side of a simulated line.
pub struct SimLinePort {
    id: String,
    kind: PortKind,
    frame_len: usize,
    pacer: Pacer,
    shared: Arc<Mutex<LineSim>>,
}

fn new_line(
    id: &str,
    plan: &'static TonePlan,
    frame_len: usize,
    side: Side,
) -> Arc<Mutex<LineSim>> {
    Arc::new(Mutex::new(LineSim {
        id: id.to_owned(),
        plan,
        frame_len,
        events: VecDeque::new(),
        to_gateway: AudioQueue::default(),
        from_gateway: Vec::new(),
        side,
    }))
}

/// An FXO port and the exchange's control of its line.
pub fn fxo(
    id: &str,
    plan: &'static TonePlan,
    frame_len: usize,
    pace: Pace,
) -> (SimLinePort, FxoControl) {
    let shared = new_line(
        id,
        plan,
        frame_len,
        Side::Fxo {
            state: FxoState::Idle,
            alerting: None,
            pending: AudioQueue::default(),
            loop_restore_in_ms: None,
            dialed: String::new(),
            since_digit_ms: None,
            dial_detector: Box::new(DtmfDetector::new()),
            gateway_released: false,
        },
    );
    let port = SimLinePort {
        id: id.to_owned(),
        kind: PortKind::Fxo,
        frame_len,
        pacer: Pacer::new(pace, frame_len, LINE_RATE),
        shared: shared.clone(),
    };
    (port, FxoControl { shared })
}

/// An FXS port and the analog phone plugged into it.
pub fn fxs(
    id: &str,
    plan: &'static TonePlan,
    frame_len: usize,
    pace: Pace,
) -> (SimLinePort, PhoneControl) {
    let shared = new_line(
        id,
        plan,
        frame_len,
        Side::Phone {
            hook: Hook::On,
            ringing: None,
            ring_on: false,
            rings: 0,
            polarity_reversed: false,
            cid_audio: AudioQueue::default(),
            cid_rx: Box::new(CallerIdReceiver::new()),
            caller_id: None,
        },
    );
    let port = SimLinePort {
        id: id.to_owned(),
        kind: PortKind::Fxs,
        frame_len,
        pacer: Pacer::new(pace, frame_len, LINE_RATE),
        shared: shared.clone(),
    };
    (port, PhoneControl { shared })
}

impl LinePort for SimLinePort {
    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> PortKind {
        self.kind
    }

    fn frame_len(&self) -> usize {
        self.frame_len
    }

    fn command(&mut self, cmd: LineCommand) -> Result<(), LineError> {
        let mut line = lock(&self.shared);
        match self.kind {
            PortKind::Fxo => line.fxo_command(cmd),
            PortKind::Fxs => line.phone_command(cmd),
        }
    }

    fn poll_event(&mut self) -> Option<LineEvent> {
        lock(&self.shared).events.pop_front()
    }

    fn read_frame(&mut self, out: &mut [i16]) -> Result<(), LineError> {
        check_frame(&self.id, self.frame_len, out.len())?;
        self.pacer.wait();
        let mut line = lock(&self.shared);
        line.tick();
        line.to_gateway.fill(out);
        Ok(())
    }

    fn write_frame(&mut self, frame: &[i16]) -> Result<(), LineError> {
        check_frame(&self.id, self.frame_len, frame.len())?;
        lock(&self.shared).gateway_sent(frame);
        Ok(())
    }
}

/// The exchange's side of one FXO line: offer calls, play audio, hang up, listen.
#[derive(Clone)]
pub struct FxoControl {
    shared: Arc<Mutex<LineSim>>,
}

/// The FXO line as its control handle sees it: the shared line parts and the
/// FXO side, borrowed together once (as [`Phone`] does for FXS lines).
struct Fxo<'a> {
    id: &'a str,
    plan: &'static TonePlan,
    events: &'a mut VecDeque<LineEvent>,
    to_gateway: &'a mut AudioQueue,
    from_gateway: &'a mut Vec<i16>,
    state: &'a mut FxoState,
    alerting: &'a mut Option<Alerting>,
    pending: &'a mut AudioQueue,
    loop_restore_in_ms: &'a mut Option<u32>,
    dialed: &'a str,
    gateway_released: bool,
}

impl Fxo<'_> {
    fn refuse(&self, reason: &'static str) -> SimError {
        SimError::State {
            id: self.id.to_owned(),
            reason,
        }
    }
}

impl FxoControl {
    fn with<R>(&self, f: impl FnOnce(Fxo<'_>) -> R) -> R {
        let mut guard = lock(&self.shared);
        let line = &mut *guard;
        let Side::Fxo {
            state,
            alerting,
            pending,
            loop_restore_in_ms,
            dialed,
            gateway_released,
            ..
        } = &mut line.side
        else {
            unreachable!("an FxoControl always wraps an FXO line")
        };
        f(Fxo {
            id: &line.id,
            plan: line.plan,
            events: &mut line.events,
            to_gateway: &mut line.to_gateway,
            from_gateway: &mut line.from_gateway,
            state,
            alerting,
            pending,
            loop_restore_in_ms,
            dialed,
            gateway_released: *gateway_released,
        })
    }

    /// Offers a call: caller ID and rings on the line's schedule.
    pub fn place_call(&self, call: IncomingCall) -> Result<(), SimError> {
        self.with(|line| {
            if *line.state != FxoState::Idle {
                return Err(line.refuse("line is not idle"));
            }
            let (a, signal) = alert_schedule(line.plan, &call)?;
            line.to_gateway.clear();
            line.pending.clear();
            if call.standard.before_first_ring() && call.caller_id.is_some() {
                line.events.push_back(LineEvent::PolarityReversal);
            }
            if let Some((at_ms, src)) = signal {
                line.to_gateway.push(Source::Silence(ms_to_samples(at_ms)));
                line.to_gateway.push(src);
            }
            *line.alerting = Some(a);
            *line.state = FxoState::Alerting;
            Ok(())
        })
    }

    /// Queues the far party's audio: played now if connected, else once answered.
    pub fn play(&self, audio: Audio) -> Result<(), SimError> {
        self.with(|line| {
            let src = audio.into_source(line.plan)?;
            if *line.state == FxoState::Connected {
                line.to_gateway.push(src);
            } else {
                line.pending.push(src);
            }
            Ok(())
        })
    }

    /// The far end hangs up. While alerting, the caller just gives up (rings stop).
    pub fn hang_up(&self, signal: HangUp) -> Result<(), SimError> {
        self.with(|line| {
            match line.state {
                FxoState::Alerting => {
                    if line.alerting.as_ref().is_some_and(|a| a.ringing) {
                        line.events.push_back(LineEvent::RingStop);
                    }
                    *line.alerting = None;
                    *line.state = FxoState::Idle;
                    line.to_gateway.clear();
                    line.pending.clear();
                }
                FxoState::Connected | FxoState::Dialing => {
                    *line.state = FxoState::Released;
                    line.to_gateway.clear();
                    match signal {
                        HangUp::LoopBreak { ms } => {
                            line.events
                                .push_back(LineEvent::LoopCurrent { present: false });
                            *line.loop_restore_in_ms = Some(ms.max(1));
                        }
                        HangUp::PolarityReversal => {
                            line.events.push_back(LineEvent::PolarityReversal)
                        }
                        HangUp::Tone(kind) => line
                            .to_gateway
                            .push(Source::Tone(ToneGenerator::new(line.plan.tone(kind)), None)),
                        HangUp::Silent => {}
                    }
                }
                FxoState::Idle | FxoState::Released => {
                    return Err(line.refuse("no call to hang up"));
                }
            }
            Ok(())
        })
    }

    /// Answers the gateway's outgoing call (after it dialed).
    pub fn answer(&self) -> Result<(), SimError> {
        self.with(|line| {
            if *line.state != FxoState::Dialing {
                return Err(line.refuse("the gateway has not dialed a call"));
            }
            *line.state = FxoState::Connected;
            line.to_gateway.clear();
            line.to_gateway.extend(line.pending.take());
            Ok(())
        })
    }

    /// The exchange's view of the line.
    pub fn state(&self) -> FxoState {
        self.with(|line| *line.state)
    }

    /// Digits the gateway dialed on its current outgoing call (decoded from its audio).
    pub fn dialed(&self) -> String {
        self.with(|line| line.dialed.to_owned())
    }

    /// Whether the gateway hung up first on the last call.
    pub fn gateway_released(&self) -> bool {
        self.with(|line| line.gateway_released)
    }

    /// Drains the audio the gateway sent while off hook.
    pub fn take_captured(&self) -> Vec<i16> {
        self.with(|line| std::mem::take(line.from_gateway))
    }
}

/// An analog phone on an FXS port: hook switch, keypad, handset and display.
#[derive(Clone)]
pub struct PhoneControl {
    shared: Arc<Mutex<LineSim>>,
}

/// The phone-side fields of an FXS line, borrowed together.
struct Phone<'a> {
    id: &'a str,
    plan: &'static TonePlan,
    events: &'a mut VecDeque<LineEvent>,
    to_gateway: &'a mut AudioQueue,
    from_gateway: &'a mut Vec<i16>,
    hook: &'a mut Hook,
    ringing: &'a mut Option<Alerting>,
    ring_on: &'a mut bool,
    rings: u32,
    polarity_reversed: bool,
    cid_audio: &'a mut AudioQueue,
    caller_id: &'a Option<Received>,
}

impl Phone<'_> {
    fn require_off_hook(&self) -> Result<(), SimError> {
        if *self.hook == Hook::Off {
            Ok(())
        } else {
            Err(SimError::State {
                id: self.id.to_owned(),
                reason: "the phone is on hook",
            })
        }
    }
}

impl PhoneControl {
    fn with<R>(&self, f: impl FnOnce(Phone<'_>) -> R) -> R {
        let mut guard = lock(&self.shared);
        let line = &mut *guard;
        let Side::Phone {
            hook,
            ringing,
            ring_on,
            rings,
            polarity_reversed,
            cid_audio,
            caller_id,
            ..
        } = &mut line.side
        else {
            unreachable!("a PhoneControl always wraps an FXS line")
        };
        f(Phone {
            id: &line.id,
            plan: line.plan,
            events: &mut line.events,
            to_gateway: &mut line.to_gateway,
            from_gateway: &mut line.from_gateway,
            hook,
            ringing,
            ring_on,
            rings: *rings,
            polarity_reversed: *polarity_reversed,
            cid_audio,
            caller_id,
        })
    }

    /// Lifts the handset; answering stops the ringing (ring trip).
    pub fn off_hook(&self) -> Result<(), SimError> {
        self.with(|p| {
            if *p.hook == Hook::Off {
                return Err(SimError::State {
                    id: p.id.to_owned(),
                    reason: "the phone is already off hook",
                });
            }
            *p.hook = Hook::Off;
            *p.ringing = None;
            *p.ring_on = false;
            p.cid_audio.clear();
            p.events.push_back(LineEvent::Hook(Hook::Off));
            Ok(())
        })
    }

    /// Hangs up.
    pub fn on_hook(&self) -> Result<(), SimError> {
        self.with(|p| {
            p.require_off_hook()?;
            *p.hook = Hook::On;
            p.to_gateway.clear();
            p.events.push_back(LineEvent::Hook(Hook::On));
            Ok(())
        })
    }

    /// A hook flash.
    pub fn flash(&self) -> Result<(), SimError> {
        self.with(|p| {
            p.require_off_hook()?;
            p.events.push_back(LineEvent::Flash);
            Ok(())
        })
    }

    /// Presses keys (DTMF at the phone's usual timing).
    pub fn dial(&self, digits: &str) -> Result<(), SimError> {
        self.say(Audio::Dtmf {
            digits: digits.to_owned(),
            timing: DtmfTiming::default(),
        })
    }

    /// Speaks into the handset.
    pub fn say(&self, audio: Audio) -> Result<(), SimError> {
        self.with(|p| {
            p.require_off_hook()?;
            p.to_gateway.push(audio.into_source(p.plan)?);
            Ok(())
        })
    }

    /// Whether the port is ringing the phone (in a ring burst or between bursts).
    pub fn is_ringing(&self) -> bool {
        self.with(|p| p.ringing.is_some())
    }

    /// Ring bursts since the port last started ringing.
    pub fn rings(&self) -> u32 {
        self.with(|p| p.rings)
    }

    /// What the phone's caller-ID display shows (decoded from the port's signal).
    pub fn caller_id(&self) -> Option<Received> {
        self.with(|p| p.caller_id.clone())
    }

    /// Whether the port has reversed the loop polarity.
    pub fn polarity_reversed(&self) -> bool {
        self.with(|p| p.polarity_reversed)
    }

    /// Hook state.
    pub fn hook(&self) -> Hook {
        self.with(|p| *p.hook)
    }

    /// Drains what the handset heard while off hook.
    pub fn take_heard(&self) -> Vec<i16> {
        self.with(|p| std::mem::take(p.from_gateway))
    }
}

#[cfg(test)]
mod tests;
