//! The audio thread: reads every line port, E1 span and seat once per 20 ms
//! frame, runs the line machines (one per FXO port and per E1 voice channel), mixes each call, writes the frames back, and carries out
//! call-control commands between frames. It never blocks on anything but the
//! devices' own frame pacing; commands come in over a bounded channel and
//! effects leave over [`super::effects`].

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tandem_hal::audio::AudioDevice;
use tandem_hal::board::R2Settings;
use tandem_hal::dsp::callerid::{CallerId, CidStandard};
use tandem_hal::dsp::g711::Law;
use tandem_hal::dsp::resample::Resampler;
use tandem_hal::dsp::tones::TonePlan;
use tandem_hal::dsp::{FRAME_20MS, LINE_RATE};
use tandem_hal::e1::{E1Span, SpanEvent, SpanStatus, VOICE_CHANNELS};
use tandem_hal::fxo::SupervisorConfig;
use tandem_hal::line::{Hook, LineCommand, LineEvent, LinePort, PortKind};
use tandem_node::calls::{
    AgentCommand, AgentView, AnchoredCall, AnchoredParty, AnchoredState, CallDown, CallUp,
    CdrEventKind, Endpoint, PartyId, PartyRole, ReleaseReason, ValidCenterConfig,
};
use tandem_node::media::{
    CodecConfig, FrameDuration, JitterConfig, LegId, LegReceiver, LegSender, SampleRate,
};
use tandem_node::names::Site;
use tandem_node::routing::{AgentId, AgentState, CallId, QueueId};
use tandem_node_io::media::worker::InboxReader;
use tokio::sync::broadcast;

use super::effects::{Effect, RecordingRequest};
use super::line::{CallLine, LineOut, Sound};
use super::local::LocalRouting;
use super::media_tally::MediaTally;
use super::prompts::{self, PromptStore};
use super::{AgentViews, CallsError, Cmd, Stats};
use crate::media::anchor::CallMedia;
use crate::media::mixer::{ParticipantId, PromptSource, Role};
use crate::media::recorder::{Recording, RecordingTap};
use crate::media_link::{LegEvent, MediaLink};

/// Commands waiting for the audio thread (a few frames' worth of bursts).
const COMMAND_QUEUE: usize = 256;

/// The line's participant in every call's mixer.
pub(crate) const LINE_PARTICIPANT: ParticipantId = ParticipantId(0);

/// Handle to the engine thread: commands in, stop on drop.
pub struct EngineHandle {
    tx: SyncSender<Cmd>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl EngineHandle {
    pub(crate) fn send(&self, cmd: Cmd) -> Result<(), CallsError> {
        self.tx.try_send(cmd).map_err(|e| match e {
            TrySendError::Full(_) => CallsError::Busy,
            TrySendError::Disconnected(_) => CallsError::Stopped,
        })
    }

    pub(crate) fn sender(&self) -> SyncSender<Cmd> {
        self.tx.clone()
    }

    /// Stops the thread and waits for its last frame.
    pub fn stop(&mut self) {
        let _ = self.tx.try_send(Cmd::Stop);
        if let Some(t) = self.thread.take() {
            // A panicking engine already logged itself.
            let _ = t.join();
        }
    }
}

impl Drop for EngineHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Everything the engine needs from the gateway.
pub(crate) struct EngineSetup {
    pub site: Site,
    pub node: String,
    pub lines: Vec<Box<dyn LinePort>>,
    /// E1 spans: each voice channel becomes a line "<span>/<channel>".
    pub spans: Vec<Box<dyn E1Span>>,
    /// MFC/R2 settings of the spans that run it, by span id (board file).
    pub r2_spans: HashMap<String, R2Settings>,
    /// Seat devices with their board ids.
    pub seats: Vec<(String, Box<dyn AudioDevice>)>,
    pub plan: &'static TonePlan,
    pub prompt_dir: Option<std::path::PathBuf>,
    /// Where recordings go (sites with `record = true`).
    pub recordings_dir: std::path::PathBuf,
    pub config: Option<Arc<ValidCenterConfig>>,
    pub media: MediaLink,
    pub effects: std::sync::mpsc::Sender<Effect>,
    pub views: AgentViews,
    pub stats: Arc<Stats>,
}

/// Starts the engine thread.
pub(crate) fn spawn(setup: EngineSetup) -> Result<EngineHandle, CallsError> {
    let (tx, rx) = std::sync::mpsc::sync_channel(COMMAND_QUEUE);
    let span = tracing::info_span!("engine", node = %setup.node, site = %setup.site);
    let mut engine = Engine::new(setup);
    let thread = std::thread::Builder::new()
        .name("tandem-engine".to_owned())
        .spawn(move || {
            let _enter = span.enter();
            engine.run(rx);
        })?;
    Ok(EngineHandle {
        tx,
        thread: Some(thread),
    })
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// An FXS port: an analog phone that is an agent's seat.
struct FxsSlot {
    port: Box<dyn LinePort>,
    ringing: Option<CallId>,
    off_hook: bool,
    /// The phone is a hosted seat on a call anchored elsewhere.
    remote: Option<SeatLeg>,
}

enum Port {
    Fxo(Box<dyn LinePort>, Box<CallLine>),
    Fxs(Box<FxsSlot>),
    /// Voice channel `channel` (1-based) of span `span` (index into `spans`).
    E1 {
        span: usize,
        channel: u8,
        line: Box<CallLine>,
    },
}

/// An E1 span: the device, one frame of every voice channel each way (A-law,
/// channel-major, as the span trait moves them) and the port of channel 1
/// (its channels' ports follow in order).
struct SpanSlot {
    span: Box<dyn E1Span>,
    rx: Vec<u8>,
    tx: Vec<u8>,
    first_port: usize,
}

impl SpanSlot {
    /// Port index of `channel`, when it is a voice channel.
    fn port_of(&self, channel: u8) -> Option<usize> {
        (1..=VOICE_CHANNELS)
            .contains(&channel)
            .then(|| self.first_port + usize::from(channel - 1))
    }
}

/// A seat on a remote leg (this box hosts the seat, the call is elsewhere).
struct SeatLeg {
    leg: LegId,
    tx: LegSender,
    rx: LegReceiver,
    inbox: InboxReader<Bytes>,
    pcm: Vec<i16>,
}

impl SeatLeg {
    /// Codec and jitter buffer for `leg` at the seat's rate, and its inbox.
    fn open(leg: LegId, rate: SampleRate, period: usize, media: &MediaLink) -> Option<SeatLeg> {
        let jitter = JitterConfig::for_frame(FrameDuration::Ms20);
        match (
            LegSender::new(leg, CodecConfig::voice(rate)),
            LegReceiver::new(leg, rate, jitter),
        ) {
            (Ok(tx), Ok(rx)) => Some(SeatLeg {
                leg,
                tx,
                rx,
                inbox: media.attach(leg),
                pcm: vec![0; period],
            }),
            (Err(err), _) | (_, Err(err)) => {
                tracing::error!(leg = leg.0, %err, "cannot attach a seat to its leg");
                None
            }
        }
    }
}

struct SeatSlot {
    id: String,
    dev: Box<dyn AudioDevice>,
    /// Device rate → 8 kHz and back, when the device is wideband.
    down: Option<Resampler>,
    up: Option<Resampler>,
    mic: Vec<i16>,
    mic8: Vec<i16>,
    ear8: Vec<i16>,
    ear: Vec<i16>,
    ring: Option<Box<dyn PromptSource>>,
    ring_buf: Vec<i16>,
    remote: Option<SeatLeg>,
    failed: bool,
}

/// How a party's audio reaches the mixer.
enum PartyAt {
    Seat(usize),
    Fxs(usize),
    Leg(LegId, InboxReader<Bytes>),
}

/// A party in a call's mix, with what the coordinator said of it (reported
/// back when a session starts, see [`CallUp::Anchored`]).
struct Joined {
    at: PartyAt,
    agent: Option<AgentId>,
    role: PartyRole,
}

pub(crate) struct CallState {
    pub line: usize,
    pub media: CallMedia,
    parties: BTreeMap<PartyId, Joined>,
    /// The coordinator knows the call (Arrived was sent).
    pub announced: bool,
    /// When the call reached its queue (ms), for its place after a restart.
    pub queued_at: Option<u64>,
    /// When its first party joined (ms).
    pub joined_at: Option<u64>,
    pub queue: Option<QueueId>,
    pub priority: u8,
    pub caller: Option<String>,
    pub held: bool,
    /// Recording: requested (`None` inside) or running (the agent recorded
    /// on the right channel, and the file's writer).
    recording: Option<Option<(ParticipantId, Recording)>>,
}

pub(crate) struct Engine {
    pub site: Site,
    ports: Vec<Port>,
    spans: Vec<SpanSlot>,
    frames: Vec<Vec<i16>>,
    seats: Vec<SeatSlot>,
    pub calls: HashMap<CallId, CallState>,
    pub config: Option<Arc<ValidCenterConfig>>,
    pub online: bool,
    pub local: LocalRouting,
    /// Last known state of agents seated here, for handing them over between
    /// the coordinator and the local router.
    pub presence: BTreeMap<AgentId, AgentState>,
    prompts: PromptStore,
    recordings_dir: std::path::PathBuf,
    media: MediaLink,
    leg_events: broadcast::Receiver<LegEvent>,
    effects: std::sync::mpsc::Sender<Effect>,
    pub views: AgentViews,
    stats: Arc<Stats>,
    /// Every leg's jitter-buffer counters, summed for the coordinator.
    media_tally: MediaTally,
    out_frame: Vec<i16>,
}

fn map_role(role: PartyRole) -> Role {
    match role {
        PartyRole::Party => Role::Party,
        PartyRole::Monitor => Role::Monitor,
        PartyRole::Whisper { to } => Role::Whisper {
            to: ParticipantId(to.0),
        },
        PartyRole::Held => Role::Held,
    }
}

impl Engine {
    fn new(s: EngineSetup) -> Self {
        let supervisor = SupervisorConfig::for_plan(s.plan);
        let mut ports = Vec::new();
        for port in s.lines {
            match port.kind() {
                PortKind::Fxo => {
                    let mut line = CallLine::new(
                        s.site.clone(),
                        port.id(),
                        supervisor,
                        Box::new(super::ids::new_call_id),
                    );
                    if let Some(c) = &s.config {
                        line.set_config(c.clone());
                    }
                    ports.push(Port::Fxo(port, Box::new(line)));
                }
                PortKind::Fxs => ports.push(Port::Fxs(Box::new(FxsSlot {
                    port,
                    ringing: None,
                    off_hook: false,
                    remote: None,
                }))),
            }
        }
        let mut spans = Vec::new();
        for span in s.spans {
            let id = span.id().to_owned();
            if span.frame_len() != FRAME_20MS {
                // The mixer runs on 20 ms frames; a span paced otherwise would
                // need its own buffering, which no board needs today.
                tracing::error!(span = %id, frame_len = span.frame_len(), "E1 span frames are not 20 ms; span not used");
                continue;
            }
            let first_port = ports.len();
            for channel in 1..=VOICE_CHANNELS {
                let mut line = CallLine::e1(
                    s.site.clone(),
                    &format!("{id}/{channel}"),
                    s.r2_spans.get(&id).copied(),
                    Box::new(super::ids::new_call_id),
                );
                if let Some(c) = &s.config {
                    line.set_config(c.clone());
                }
                ports.push(Port::E1 {
                    span: spans.len(),
                    channel,
                    line: Box::new(line),
                });
            }
            let len = usize::from(VOICE_CHANNELS) * FRAME_20MS;
            spans.push(SpanSlot {
                span,
                rx: vec![Law::Alaw.silence(); len],
                tx: vec![Law::Alaw.silence(); len],
                first_port,
            });
        }
        let frames = ports.iter().map(|_| vec![0; FRAME_20MS]).collect();
        let seats = s
            .seats
            .into_iter()
            .map(|(id, dev)| {
                let rate = dev.sample_rate();
                let period = dev.period();
                let resampler = |from, to| match Resampler::new(from, to) {
                    Ok(r) => Some(r),
                    Err(err) => {
                        tracing::error!(seat = %id, %err, "seat rate not supported");
                        None
                    }
                };
                let wide = rate != LINE_RATE;
                SeatSlot {
                    down: wide.then(|| resampler(rate, LINE_RATE)).flatten(),
                    up: wide.then(|| resampler(LINE_RATE, rate)).flatten(),
                    mic: vec![0; period],
                    mic8: vec![0; FRAME_20MS],
                    ear8: vec![0; FRAME_20MS],
                    ear: vec![0; period],
                    ring: None,
                    ring_buf: vec![0; FRAME_20MS],
                    remote: None,
                    failed: false,
                    id: id.clone(),
                    dev,
                }
            })
            .collect();
        let local = LocalRouting::default();
        Engine {
            site: s.site,
            ports,
            spans,
            frames,
            seats,
            calls: HashMap::new(),
            config: s.config,
            online: false,
            local,
            presence: BTreeMap::new(),
            prompts: PromptStore::new(s.prompt_dir),
            recordings_dir: s.recordings_dir,
            leg_events: s.media.events(),
            media: s.media,
            effects: s.effects,
            views: s.views,
            stats: s.stats,
            media_tally: MediaTally::default(),
            out_frame: vec![0; FRAME_20MS],
        }
    }

    fn run(&mut self, rx: Receiver<Cmd>) {
        let paced_by_devices = !self.ports.is_empty() || !self.seats.is_empty();
        let start = Instant::now();
        let mut frame_no: u32 = 0;
        tracing::info!(
            lines = self.ports.len(),
            seats = self.seats.len(),
            "call engine running"
        );
        loop {
            loop {
                match rx.try_recv() {
                    Ok(Cmd::Stop) | Err(TryRecvError::Disconnected) => {
                        tracing::info!("call engine stopping");
                        return;
                    }
                    Ok(cmd) => self.command(cmd),
                    Err(TryRecvError::Empty) => break,
                }
            }
            self.leg_events();
            self.frame();
            if !paced_by_devices {
                frame_no = frame_no.wrapping_add(1);
                let due = start + Duration::from_millis(20) * frame_no;
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
            }
        }
    }

    pub(crate) fn effect(&self, effect: Effect) {
        // The tokio side outlives the engine except at shutdown.
        let _ = self.effects.send(effect);
    }

    pub(crate) fn up(&self, msg: CallUp) {
        self.effect(Effect::Up(msg));
    }

    fn command(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Config(c) => {
                tracing::info!("configuration applied to new calls");
                for i in 0..self.ports.len() {
                    if let Some(line) = self.call_line_mut(i) {
                        line.set_config(c.clone());
                    }
                }
                self.config = Some(c.clone());
                let now = now_ms();
                self.local.replace_config(&c, &self.site, now);
            }
            Cmd::Down(down) => self.call_down(down),
            Cmd::Recording {
                call,
                agent,
                file,
                tap,
                recording,
            } => self.recording_ready(call, agent, file, tap, recording),
            Cmd::Agent(agent, command) => self.agent_command(agent, command),
            Cmd::Online(online) => self.set_online(online),
            Cmd::Stop => {}
        }
    }

    // ----------------------------------------------------------------- frames

    fn frame(&mut self) {
        let now = now_ms();
        let now_us = now * 1000;
        // Spans in: every channel's audio, then signalling and alarms.
        let mut span_events = Vec::new();
        for (s, slot) in self.spans.iter_mut().enumerate() {
            if let Err(err) = slot.span.read_frame(&mut slot.rx) {
                tracing::warn!(span = slot.span.id(), %err, "span read failed");
                slot.rx.fill(Law::Alaw.silence());
            }
            for (ch, codes) in slot.rx.chunks_exact(FRAME_20MS).enumerate() {
                if let Some(frame) = self.frames.get_mut(slot.first_port + ch) {
                    Law::Alaw.decode(codes, frame);
                }
            }
            while let Some(e) = slot.span.poll_event() {
                span_events.push((s, e));
            }
        }
        for (s, e) in span_events {
            self.span_event(now, s, e);
        }
        // Lines in.
        for i in 0..self.ports.len() {
            let mut outs = Vec::new();
            let mut fxs_events = Vec::new();
            match &mut self.ports[i] {
                Port::Fxo(port, line) => {
                    if let Err(err) = port.read_frame(&mut self.frames[i]) {
                        tracing::warn!(line = port.id(), %err, "line read failed");
                        self.frames[i].fill(0);
                    }
                    while let Some(e) = port.poll_event() {
                        outs.extend(line.on_event(now, &e));
                    }
                    outs.extend(line.on_audio(now, &self.frames[i]));
                }
                Port::Fxs(slot) => {
                    if let Err(err) = slot.port.read_frame(&mut self.frames[i]) {
                        tracing::warn!(line = slot.port.id(), %err, "line read failed");
                        self.frames[i].fill(0);
                    }
                    while let Some(e) = slot.port.poll_event() {
                        fxs_events.push(e);
                    }
                }
                Port::E1 { line, .. } => outs.extend(line.on_audio(now, &self.frames[i])),
            }
            self.line_outs(i, outs);
            for e in fxs_events {
                self.fxs_event(i, e);
            }
        }
        // Seats in.
        for s in &mut self.seats {
            if s.failed {
                continue;
            }
            if let Err(err) = s.dev.read(&mut s.mic) {
                tracing::error!(seat = %s.id, %err, "seat capture failed; seat disabled");
                s.failed = true;
                continue;
            }
            match &mut s.down {
                Some(r) => {
                    let n = r.process(&s.mic, &mut s.mic8);
                    s.mic8[n.min(FRAME_20MS)..].fill(0);
                }
                None => {
                    let n = s.mic.len().min(FRAME_20MS);
                    s.mic8[..n].copy_from_slice(&s.mic[..n]);
                }
            }
            s.ear8.fill(0);
        }
        // Calls.
        let ids: Vec<CallId> = self.calls.keys().copied().collect();
        let mut finished = Vec::new();
        for id in ids {
            if let Some(done) = self.mix_call(id, now_us) {
                finished.push(done);
            }
        }
        for (i, call) in finished {
            if let Some(line) = self.call_line_mut(i)
                && line.call() == Some(call)
            {
                let outs = line.prompt_finished(now);
                self.line_outs(i, outs);
            }
        }
        // Lines out: lines without a call hear silence; a phone on a remote
        // leg hears its leg.
        for i in 0..self.ports.len() {
            let busy = self.calls.values().any(|c| c.line == i)
                || matches!(&self.ports[i], Port::Fxs(_))
                    && self.calls.values().any(|c| {
                        c.parties
                            .values()
                            .any(|p| matches!(p.at, PartyAt::Fxs(j) if j == i))
                    });
            if busy {
                continue;
            }
            self.out_frame.fill(0);
            if let Port::E1 { line, .. } = &mut self.ports[i] {
                // MFC/R2 backward tones while the numbers come in.
                line.register_tone(&mut self.out_frame);
            }
            if let Port::Fxs(slot) = &mut self.ports[i]
                && let Some(leg) = &mut slot.remote
            {
                Self::seat_leg(
                    &self.media,
                    leg,
                    &self.frames[i],
                    &mut self.out_frame,
                    now_us,
                );
            }
            write_line(&mut self.ports, &mut self.spans, i, &self.out_frame);
        }
        // Spans out: every channel's frame at once.
        for slot in &mut self.spans {
            if let Err(err) = slot.span.write_frame(&slot.tx) {
                tracing::warn!(span = slot.span.id(), %err, "span write failed");
            }
        }
        // Seats out.
        for s in &mut self.seats {
            if s.failed {
                continue;
            }
            if let Some(leg) = &mut s.remote {
                Self::seat_leg(&self.media, leg, &s.mic, &mut s.ear, now_us);
            } else {
                if let Some(ring) = &mut s.ring {
                    s.ring_buf.fill(0);
                    if ring.next_frame(&mut s.ring_buf) {
                        for (e, r) in s.ear8.iter_mut().zip(&s.ring_buf) {
                            *e = e.saturating_add(*r);
                        }
                    }
                }
                match &mut s.up {
                    Some(r) => {
                        let n = r.process(&s.ear8, &mut s.ear);
                        let len = s.ear.len();
                        s.ear[n.min(len)..].fill(0);
                    }
                    None => {
                        let n = s.ear.len().min(FRAME_20MS);
                        s.ear[..n].copy_from_slice(&s.ear8[..n]);
                    }
                }
            }
            if let Err(err) = s.dev.write(&s.ear) {
                tracing::error!(seat = %s.id, %err, "seat playback failed; seat disabled");
                s.failed = true;
            }
        }
        self.local_tick(now);
        if self.media_tally.due() {
            self.publish_media();
        }
    }

    /// Publishes the media totals: ended legs plus every live one (anchored
    /// calls' remote parties, hosted seats and phones on remote legs).
    fn publish_media(&mut self) {
        let calls = self.calls.values().flat_map(|c| c.media.remote_leg_stats());
        let seats = self.seats.iter().filter_map(|s| s.remote.as_ref());
        let phones = self.ports.iter().filter_map(|p| match p {
            Port::Fxs(slot) => slot.remote.as_ref(),
            _ => None,
        });
        let hosted = seats.chain(phones).map(|l| l.rx.stats());
        self.media_tally
            .publish(calls.chain(hosted), &self.stats.media);
    }

    /// A hosted seat whose call is anchored elsewhere: mic out as Opus, the
    /// leg's audio into the earpiece.
    fn seat_leg(media: &MediaLink, leg: &mut SeatLeg, mic: &[i16], ear: &mut [i16], now_us: u64) {
        if mic.len() == leg.pcm.len()
            && let Ok(Some(d)) = leg.tx.encode_frame(mic)
        {
            let _ = media.send(d);
        }
        for d in leg.inbox.drain() {
            let _ = leg.rx.on_datagram(now_us, &d);
        }
        if leg.rx.play_frame(now_us, &mut leg.pcm).is_ok() && leg.pcm.len() == ear.len() {
            ear.copy_from_slice(&leg.pcm);
        } else {
            ear.fill(0);
        }
    }

    /// One frame of one call; returns the line index when the line's prompt
    /// just finished.
    fn mix_call(&mut self, id: CallId, now_us: u64) -> Option<(usize, CallId)> {
        let c = self.calls.get_mut(&id)?;
        let line = c.line;
        let _ = c
            .media
            .set_local_input(LINE_PARTICIPANT, &self.frames[line]);
        for (party, joined) in &mut c.parties {
            let pid = ParticipantId(party.0);
            match &mut joined.at {
                PartyAt::Seat(s) => {
                    if let Some(seat) = self.seats.get(*s) {
                        let _ = c.media.set_local_input(pid, &seat.mic8);
                    }
                }
                PartyAt::Fxs(j) => {
                    let _ = c.media.set_local_input(pid, &self.frames[*j]);
                }
                PartyAt::Leg(_, inbox) => {
                    for d in inbox.drain() {
                        let _ = c.media.on_datagram(now_us, &d);
                    }
                }
            }
        }
        let media = &self.media;
        if let Err(err) = c.media.tick(now_us, |d| {
            let _ = media.send(d);
        }) {
            tracing::warn!(call = %id, %err, "mixing failed this frame");
        }
        if let Ok(out) = c.media.local_output(LINE_PARTICIPANT) {
            write_line(&mut self.ports, &mut self.spans, line, out);
        }
        for (party, joined) in &c.parties {
            let pid = ParticipantId(party.0);
            let Ok(out) = c.media.local_output(pid) else {
                continue;
            };
            match &joined.at {
                PartyAt::Seat(s) => {
                    if let Some(seat) = self.seats.get_mut(*s) {
                        for (e, x) in seat.ear8.iter_mut().zip(out) {
                            *e = e.saturating_add(*x);
                        }
                    }
                }
                PartyAt::Fxs(j) => {
                    if let Port::Fxs(slot) = &mut self.ports[*j] {
                        let _ = slot.port.write_frame(out);
                    }
                }
                PartyAt::Leg(..) => {}
            }
        }
        let playing = call_line(&self.ports, line).is_some_and(|l| l.prompt_playing());
        (playing && !c.media.prompt_active(LINE_PARTICIPANT).unwrap_or(false)).then_some((line, id))
    }

    // ----------------------------------------------------------------- lines

    fn line_mut(&mut self, call: CallId) -> Option<(usize, &mut CallLine)> {
        let i = self.calls.get(&call)?.line;
        Some((i, self.call_line_mut(i)?))
    }

    /// The call line of port `i` (FXO port or E1 channel).
    fn call_line_mut(&mut self, i: usize) -> Option<&mut CallLine> {
        match self.ports.get_mut(i)? {
            Port::Fxo(_, line) | Port::E1 { line, .. } => Some(line),
            Port::Fxs(_) => None,
        }
    }

    /// A span's status or signalling changed.
    fn span_event(&mut self, now: u64, s: usize, event: SpanEvent) {
        let Some(slot) = self.spans.get(s) else {
            return;
        };
        match event {
            SpanEvent::Status(status) => {
                self.span_status(now, s, &status);
            }
            SpanEvent::Abcd { channel, bits } => {
                let Some(i) = slot.port_of(channel) else {
                    tracing::warn!(
                        span = slot.span.id(),
                        channel,
                        "ABCD change on a channel that does not exist"
                    );
                    return;
                };
                if let Some(line) = self.call_line_mut(i) {
                    let outs = line.on_abcd(now, bits);
                    self.line_outs(i, outs);
                }
            }
        }
    }

    /// Logs a span's alarms and tells its channels (an alarm ends their calls).
    fn span_status(&mut self, now: u64, s: usize, status: &SpanStatus) {
        let Some(slot) = self.spans.get(s) else {
            return;
        };
        if status.alarms.any() {
            tracing::warn!(span = slot.span.id(), alarms = ?status.alarms, "E1 span in alarm");
        } else {
            tracing::info!(
                span = slot.span.id(),
                frame_sync = status.frame_sync,
                cas_sync = status.cas_sync,
                "E1 span status"
            );
        }
        let first = slot.first_port;
        for i in first..first + usize::from(VOICE_CHANNELS) {
            if let Some(line) = self.call_line_mut(i) {
                let outs = line.on_span_status(now, status);
                self.line_outs(i, outs);
            }
        }
    }

    /// Adds a fact to a call's CDR.
    pub(crate) fn log(&mut self, call: CallId, kind: CdrEventKind) {
        let now = now_ms();
        if let Some((_, line)) = self.line_mut(call) {
            line.log(now, kind);
        }
    }

    /// Releases a call's line (message first when the reason calls for one).
    pub(crate) fn release(&mut self, call: CallId, reason: &ReleaseReason) {
        let now = now_ms();
        if let Some((i, line)) = self.line_mut(call) {
            let outs = line.release(now, reason);
            self.line_outs(i, outs);
        }
    }

    /// Plays into the caller's ear.
    pub(crate) fn play_to_caller(&mut self, call: CallId, src: Box<dyn PromptSource>) {
        if let Some(c) = self.calls.get_mut(&call)
            && let Err(err) = c.media.play(LINE_PARTICIPANT, src)
        {
            tracing::warn!(call = %call, %err, "cannot play to the caller");
        }
    }

    /// Puts the caller on hold (music, heard by nobody) or back in the call.
    pub(crate) fn hold(&mut self, call: CallId, on: bool) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.held == on {
            return;
        }
        c.held = on;
        let _ = c.media.stop_prompts(LINE_PARTICIPANT);
        let role = if on { Role::Held } else { Role::Party };
        let _ = c.media.set_role(LINE_PARTICIPANT, role);
        if on {
            let _ = c.media.play(LINE_PARTICIPANT, prompts::music_on_hold());
        }
        self.log(
            call,
            if on {
                CdrEventKind::Held
            } else {
                CdrEventKind::Resumed
            },
        );
    }

    pub(crate) fn offer_callback(&mut self, call: CallId) {
        let queue = self.calls.get(&call).and_then(|c| c.queue);
        if let (Some(queue), Some((i, line))) = (queue, self.line_mut(call)) {
            let outs = line.offer_callback(queue);
            self.line_outs(i, outs);
        }
    }

    fn line_outs(&mut self, i: usize, outs: Vec<LineOut>) {
        for out in outs {
            self.line_out(i, out);
        }
    }

    fn line_out(&mut self, i: usize, out: LineOut) {
        let now = now_ms();
        match out {
            LineOut::Hook(h) => {
                if let Port::Fxo(port, _) = &mut self.ports[i]
                    && let Err(err) = port.command(LineCommand::SetHook(h))
                {
                    tracing::error!(line = port.id(), %err, "hook command failed");
                }
            }
            LineOut::Abcd(bits) => {
                if let Port::E1 { span, channel, .. } = &self.ports[i]
                    && let Some(slot) = self.spans.get_mut(*span)
                    && let Err(err) = slot.span.set_abcd(*channel, bits)
                {
                    tracing::error!(span = slot.span.id(), channel, %err, "ABCD command failed");
                }
            }
            LineOut::Answered { call } => {
                let caller = call_line(&self.ports, i).and_then(|l| l.caller().map(str::to_owned));
                let mut media = CallMedia::new(
                    SampleRate::Narrowband,
                    JitterConfig::for_frame(FrameDuration::Ms20),
                );
                if let Err(err) = media.add_local(LINE_PARTICIPANT, Role::Party) {
                    tracing::error!(call = %call, %err, "cannot start the call's media");
                }
                self.calls.insert(
                    call,
                    CallState {
                        line: i,
                        media,
                        parties: BTreeMap::new(),
                        announced: false,
                        queued_at: None,
                        joined_at: None,
                        queue: None,
                        priority: 0,
                        caller,
                        held: false,
                        recording: None,
                    },
                );
                self.stats.active.fetch_add(1, Ordering::Relaxed);
                self.stats.total.fetch_add(1, Ordering::Relaxed);
            }
            LineOut::Play(sound) => {
                let call = call_line(&self.ports, i).and_then(|l| l.call());
                let src = match sound {
                    Sound::Ivr(p) => self.prompts.source(&p),
                    Sound::ReleaseMessage => prompts::release_message(),
                    Sound::Digits(d) => prompts::digits(&d),
                };
                if let Some(call) = call {
                    self.play_to_caller(call, src);
                }
            }
            LineOut::StopPrompt => {
                if let Some(call) = call_line(&self.ports, i).and_then(|l| l.call())
                    && let Some(c) = self.calls.get_mut(&call)
                {
                    let _ = c.media.stop_prompts(LINE_PARTICIPANT);
                }
            }
            LineOut::Up(msg) => self.handed_on(msg, now),
            LineOut::Ended(cdr) => self.ended(cdr),
        }
    }

    /// The IVR handed a call on: to the coordinator when online, else to the
    /// local router.
    fn handed_on(&mut self, msg: CallUp, now: u64) {
        match &msg {
            CallUp::Arrived {
                call,
                caller,
                queue,
                priority,
                ..
            } => {
                let (call, queue, priority, caller) = (*call, *queue, *priority, caller.clone());
                if let Some(c) = self.calls.get_mut(&call) {
                    c.queue = Some(queue);
                    c.priority = priority;
                    c.announced = self.online;
                    c.queued_at = Some(now);
                }
                if self.online {
                    tracing::info!(call = %call, queue = %queue, "call handed to the coordinator");
                    self.log(
                        call,
                        CdrEventKind::Queued {
                            queue,
                            local: false,
                        },
                    );
                    self.up(msg);
                } else {
                    tracing::info!(call = %call, queue = %queue, "WAN down: routing the call locally");
                    self.route_locally(call, queue, priority, caller, now);
                }
            }
            CallUp::DialAnswered { call } => {
                let call = *call;
                if let Some(c) = self.calls.get_mut(&call) {
                    c.announced = true;
                }
                self.up(msg);
            }
            CallUp::CallbackRequested { call, .. } => {
                let call = *call;
                if self.online {
                    if let Some(c) = self.calls.get_mut(&call) {
                        c.announced = true;
                    }
                    self.up(msg);
                } else {
                    self.local_callback(call, now);
                }
            }
            _ => self.up(msg),
        }
    }

    fn ended(&mut self, cdr: Box<tandem_node::calls::Cdr>) {
        let call = cdr.call;
        let cause = cdr.cause.clone();
        let state = self.calls.remove(&call);
        let announced = state.as_ref().is_some_and(|c| c.announced);
        if let Some(mut state) = state {
            self.stats.active.fetch_sub(1, Ordering::Relaxed);
            for leg in state.media.remote_leg_stats() {
                self.media_tally.leg_ended(leg);
            }
            self.stop_recording(&mut state);
            for (_, joined) in state.parties {
                self.party_gone(joined.at);
            }
        }
        self.local_call_ended(call);
        self.effect(Effect::Cdr {
            cdr,
            ended: announced.then_some(CallUp::Ended { call, cause }),
        });
    }

    fn party_gone(&mut self, at: PartyAt) {
        match at {
            PartyAt::Leg(leg, _) => self.media.detach(leg),
            PartyAt::Seat(_) => {}
            PartyAt::Fxs(_) => {}
        }
    }

    // ----------------------------------------------------------------- parties

    /// Adds a party to a call's mix.
    pub(crate) fn join(
        &mut self,
        call: CallId,
        party: PartyId,
        endpoint: &Endpoint,
        role: PartyRole,
        agent: Option<AgentId>,
    ) -> Result<(), String> {
        let at = match endpoint {
            Endpoint::Local(id) => {
                if let Some(s) = self.seats.iter().position(|s| &s.id == id) {
                    self.seats[s].ring = None;
                    PartyAt::Seat(s)
                } else if let Some(j) = self
                    .ports
                    .iter()
                    .position(|p| matches!(p, Port::Fxs(slot) if slot.port.id() == id.as_str()))
                {
                    PartyAt::Fxs(j)
                } else {
                    return Err(format!("no local seat or FXS port {id:?}"));
                }
            }
            Endpoint::Leg(n) => {
                let leg = LegId(*n);
                PartyAt::Leg(leg, self.media.attach(leg))
            }
        };
        let Some(c) = self.calls.get_mut(&call) else {
            return Err(format!("call {call} is not on this gateway"));
        };
        let pid = ParticipantId(party.0);
        let added = match &at {
            PartyAt::Leg(leg, _) => c.media.add_remote(
                pid,
                map_role(role),
                *leg,
                CodecConfig::voice(SampleRate::Narrowband),
            ),
            _ => c.media.add_local(pid, map_role(role)),
        };
        if let Err(err) = added {
            if let PartyAt::Leg(leg, _) = &at {
                self.media.detach(*leg);
            }
            return Err(err.to_string());
        }
        let local = !matches!(at, PartyAt::Leg(..));
        c.parties.insert(party, Joined { at, agent, role });
        c.joined_at.get_or_insert_with(now_ms);
        if role == PartyRole::Held {
            let _ = c.media.play(pid, prompts::music_on_hold());
        }
        let record_site = self
            .config
            .as_ref()
            .and_then(|cfg| cfg.site(&self.site))
            .is_some_and(|s| s.record);
        if record_site && agent.is_some() && role == PartyRole::Party && c.recording.is_none() {
            c.recording = Some(None);
            let _ = self.effects.send(Effect::StartRecording(RecordingRequest {
                call,
                agent: pid,
                dir: self.recordings_dir.clone(),
            }));
        }
        tracing::info!(call = %call, party = party.0, agent = ?agent, local, "party joined");
        self.log(
            call,
            CdrEventKind::Joined {
                party,
                agent,
                role,
                local,
            },
        );
        Ok(())
    }

    /// Removes a party from a call's mix.
    pub(crate) fn leave(&mut self, call: CallId, party: PartyId) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let pid = ParticipantId(party.0);
        if matches!(&c.recording, Some(Some((agent, _))) if *agent == pid) {
            Self::stop_recording_of(&self.effects, c);
        }
        if let Ok(Some(leg)) = c.media.remove(pid) {
            self.media_tally.leg_ended(&leg);
        }
        if let Some(joined) = c.parties.remove(&party) {
            self.party_gone(joined.at);
            self.log(call, CdrEventKind::Left { party });
        }
    }

    fn set_role(&mut self, call: CallId, party: PartyId, role: PartyRole) -> Result<(), String> {
        let Some(c) = self.calls.get_mut(&call) else {
            return Err(format!("call {call} is not on this gateway"));
        };
        let pid = ParticipantId(party.0);
        c.media
            .set_role(pid, map_role(role))
            .map_err(|e| e.to_string())?;
        if let Some(joined) = c.parties.get_mut(&party) {
            joined.role = role;
        }
        let _ = c.media.stop_prompts(pid);
        if role == PartyRole::Held {
            let _ = c.media.play(pid, prompts::music_on_hold());
        }
        self.log(call, CdrEventKind::RoleChanged { party, role });
        Ok(())
    }

    // ----------------------------------------------------------------- recording

    fn recording_ready(
        &mut self,
        call: CallId,
        agent: ParticipantId,
        file: String,
        tap: RecordingTap,
        recording: Recording,
    ) {
        let Some(c) = self.calls.get_mut(&call) else {
            drop(tap);
            self.effect(Effect::FinishRecording(recording));
            return;
        };
        if !c.media.has(agent) || !matches!(c.recording, Some(None)) {
            drop(tap);
            self.effect(Effect::FinishRecording(recording));
            return;
        }
        c.media.start_recording(tap, LINE_PARTICIPANT, agent);
        c.recording = Some(Some((agent, recording)));
        tracing::info!(call = %call, file = %file, "recording");
        self.log(call, CdrEventKind::RecordingStarted { file });
    }

    fn stop_recording(&mut self, c: &mut CallState) {
        Self::stop_recording_of(&self.effects, c);
    }

    /// Ends the file (dropping the tap) and lets the tokio side close it.
    fn stop_recording_of(effects: &std::sync::mpsc::Sender<Effect>, c: &mut CallState) {
        drop(c.media.stop_recording());
        if let Some(Some((_, rec))) = c.recording.take() {
            let _ = effects.send(Effect::FinishRecording(rec));
        }
    }

    // ----------------------------------------------------------------- seats

    /// Rings a seat: a ring tone in a headset, or the FXS phone's bell with
    /// caller ID.
    pub(crate) fn ring(&mut self, endpoint: &str, call: CallId, caller: Option<&str>) {
        if let Some(s) = self.seats.iter_mut().find(|s| s.id == endpoint) {
            s.ring = Some(prompts::ring_tone());
            return;
        }
        for p in &mut self.ports {
            if let Port::Fxs(slot) = p
                && slot.port.id() == endpoint
            {
                let caller_id = caller
                    .and_then(|n| CallerId::with_number(n).ok())
                    .map(|id| (id, CidStandard::Bell202));
                match slot.port.command(LineCommand::Ring { caller_id }) {
                    Ok(()) => slot.ringing = Some(call),
                    Err(err) => tracing::warn!(endpoint, %err, "cannot ring the phone"),
                }
                return;
            }
        }
        tracing::warn!(endpoint, "ring for a seat this gateway does not have");
    }

    /// Stops ringing a seat.
    pub(crate) fn stop_ring(&mut self, endpoint: &str) {
        if let Some(s) = self.seats.iter_mut().find(|s| s.id == endpoint) {
            s.ring = None;
            return;
        }
        for p in &mut self.ports {
            if let Port::Fxs(slot) = p
                && slot.port.id() == endpoint
                && slot.ringing.take().is_some()
            {
                let _ = slot.port.command(LineCommand::StopRing);
            }
        }
    }

    /// Silences every ringing seat (headsets and FXS phones).
    pub(crate) fn stop_all_rings(&mut self) {
        for s in &mut self.seats {
            s.ring = None;
        }
        for p in &mut self.ports {
            if let Port::Fxs(slot) = p
                && slot.ringing.take().is_some()
            {
                let _ = slot.port.command(LineCommand::StopRing);
            }
        }
    }

    fn fxs_event(&mut self, i: usize, event: LineEvent) {
        let Port::Fxs(slot) = &mut self.ports[i] else {
            return;
        };
        let off_hook = match event {
            LineEvent::Hook(Hook::Off) => true,
            LineEvent::Hook(Hook::On) => false,
            _ => return,
        };
        if slot.off_hook == off_hook {
            return;
        }
        slot.off_hook = off_hook;
        if off_hook {
            slot.ringing = None;
        }
        let endpoint = slot.port.id().to_owned();
        tracing::info!(endpoint = %endpoint, off_hook, "seat phone hook");
        let agent = self
            .config
            .as_ref()
            .and_then(|c| c.agent_at(&self.site, &endpoint));
        match agent {
            Some(agent) if self.local.handles(agent, self.online) => {
                let cmd = if off_hook {
                    AgentCommand::Answer
                } else {
                    AgentCommand::Hangup
                };
                self.local_agent_command(agent, cmd);
            }
            _ if self.online => self.up(CallUp::SeatHook { endpoint, off_hook }),
            _ => {}
        }
    }

    /// A leg opened for a seat hosted here (headset or FXS phone) whose call
    /// is anchored elsewhere; legs for this box's own calls arrive as `Join`.
    /// A leg the seat already has is only relayed again (a restarted
    /// coordinator): the seat keeps its sender. A leg of a call anchored here
    /// that is relayed again gets a fresh receiver, since its seat may have
    /// started a new stream meanwhile.
    fn leg_opened(&mut self, open: &tandem_node::proto::LegOpen) {
        let leg = LegId(open.leg);
        let ours = self.calls.iter_mut().find(|(_, c)| {
            c.parties
                .values()
                .any(|p| matches!(&p.at, PartyAt::Leg(l, _) if *l == leg))
        });
        if let Some((call, c)) = ours {
            match c.media.restart_receiver(leg) {
                Ok(Some(old)) => {
                    tracing::info!(leg = open.leg, call = %call, "leg relayed again: receiving afresh");
                    self.media_tally.leg_ended(&old);
                }
                Ok(None) => {}
                Err(err) => tracing::warn!(leg = open.leg, call = %call, %err, "leg relayed again"),
            }
            return;
        }
        let attached = |r: &Option<SeatLeg>| r.as_ref().is_some_and(|r| r.leg == leg);
        let again = self.seats.iter().any(|s| attached(&s.remote))
            || self
                .ports
                .iter()
                .any(|p| matches!(p, Port::Fxs(slot) if attached(&slot.remote)));
        if again {
            tracing::info!(leg = open.leg, call = %open.call, "leg relayed again");
            return;
        }
        if let Some(s) = self.seats.iter_mut().find(|s| s.id == open.endpoint) {
            let rate = if s.dev.sample_rate() == 16_000 {
                SampleRate::Wideband
            } else {
                SampleRate::Narrowband
            };
            if let Some(l) = SeatLeg::open(leg, rate, s.dev.period(), &self.media) {
                tracing::info!(leg = open.leg, seat = %s.id, call = %open.call, "seat attached to a leg");
                s.ring = None;
                if let Some(old) = s.remote.replace(l) {
                    self.media_tally.leg_ended(old.rx.stats());
                }
            }
            return;
        }
        for p in &mut self.ports {
            if let Port::Fxs(slot) = p
                && slot.port.id() == open.endpoint
            {
                if let Some(l) = SeatLeg::open(leg, SampleRate::Narrowband, FRAME_20MS, &self.media)
                {
                    tracing::info!(leg = open.leg, seat = slot.port.id(), call = %open.call, "phone attached to a leg");
                    if let Some(old) = slot.remote.replace(l) {
                        self.media_tally.leg_ended(old.rx.stats());
                    }
                }
                return;
            }
        }
    }

    fn leg_events(&mut self) {
        loop {
            match self.leg_events.try_recv() {
                Ok(LegEvent::Opened(open)) => self.leg_opened(&open),
                Ok(LegEvent::Closed(leg)) => {
                    let mine = |r: &mut SeatLeg| r.leg == leg;
                    for s in &mut self.seats {
                        if let Some(gone) = s.remote.take_if(mine) {
                            tracing::info!(leg = leg.0, seat = %s.id, "seat detached from its leg");
                            self.media_tally.leg_ended(gone.rx.stats());
                        }
                    }
                    for p in &mut self.ports {
                        if let Port::Fxs(slot) = p
                            && let Some(gone) = slot.remote.take_if(mine)
                        {
                            tracing::info!(
                                leg = leg.0,
                                seat = slot.port.id(),
                                "phone detached from its leg"
                            );
                            self.media_tally.leg_ended(gone.rx.stats());
                        }
                    }
                }
                Err(broadcast::error::TryRecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "leg events missed");
                }
                Err(_) => return,
            }
        }
    }

    // ----------------------------------------------------------------- control

    fn call_down(&mut self, down: CallDown) {
        let failed = |call: CallId, reason: String| CallUp::Failed { call, reason };
        match down {
            CallDown::Join {
                call,
                party,
                endpoint,
                role,
                agent,
            } => {
                if let Err(reason) = self.join(call, party, &endpoint, role, agent) {
                    tracing::warn!(call = %call, %reason, "join failed");
                    self.up(failed(call, reason));
                }
            }
            CallDown::Leave { call, party } => self.leave(call, party),
            CallDown::SetRole { call, party, role } => {
                if let Err(reason) = self.set_role(call, party, role) {
                    self.up(failed(call, reason));
                }
            }
            CallDown::Hold { call, on } => self.hold(call, on),
            CallDown::Announce { call, position, .. } => {
                self.play_to_caller(call, prompts::announcement(position));
                self.log(call, CdrEventKind::Announced { position });
            }
            CallDown::OfferCallback { call, .. } => self.offer_callback(call),
            CallDown::Log { call, event } => self.log(call, event),
            CallDown::Release { call, reason } => {
                if !self.calls.contains_key(&call) {
                    self.up(failed(call, "no such call on this gateway".to_owned()));
                }
                self.release(call, &reason);
            }
            CallDown::Dial {
                call, line, number, ..
            } => {
                if let Err(reason) = self.dial(call, line.as_deref(), &number) {
                    tracing::warn!(call = %call, %reason, "cannot dial");
                    self.up(failed(call, reason));
                }
            }
            CallDown::Ring {
                call,
                endpoint,
                caller,
                ..
            } => self.ring(&endpoint, call, caller.as_deref()),
            CallDown::StopRing { endpoint, .. } => self.stop_ring(&endpoint),
            CallDown::AgentUpdate(update) => {
                if let Some(reason) = &update.refused {
                    tracing::info!(agent = %update.agent, %reason, "agent command refused");
                }
                if let Some(state) = &update.view.state {
                    self.presence.insert(update.agent, state.clone());
                }
                self.views.set(update.agent, update.view);
            }
        }
    }

    fn agent_command(&mut self, agent: AgentId, command: AgentCommand) {
        let span = tracing::info_span!("agent", agent = %agent);
        let _e = span.enter();
        if self.local.handles(agent, self.online) {
            self.local_agent_command(agent, command);
        } else {
            tracing::debug!(?command, "agent command to the coordinator");
            self.up(CallUp::Agent { agent, command });
        }
    }

    fn set_online(&mut self, online: bool) {
        if online == self.online {
            return;
        }
        self.online = online;
        let now = now_ms();
        if online {
            tracing::info!("WAN back: new calls go to the coordinator");
            for (agent, state) in self.local.logged_in() {
                self.up(CallUp::Agent {
                    agent,
                    command: AgentCommand::Login,
                });
                if state == AgentState::Ready {
                    self.up(CallUp::Agent {
                        agent,
                        command: AgentCommand::Ready,
                    });
                }
            }
            // A coordinator that restarted (or forgot these calls when the
            // link dropped) rebuilds them from this.
            let calls = self.anchored_calls(now);
            if !calls.is_empty() {
                tracing::info!(calls = calls.len(), "reporting the calls anchored here");
                self.up(CallUp::Anchored(calls));
            }
        } else {
            tracing::warn!("WAN lost: routing on this gateway alone");
            self.go_local(now);
        }
    }

    /// The calls the coordinator routed that are still up here, with their
    /// parties. Calls the local router took over stay its own until they end
    /// (one router per call), so they are left out.
    fn anchored_calls(&self, now: u64) -> Vec<AnchoredCall> {
        self.calls
            .iter()
            .filter(|(id, c)| c.announced && !self.local.owns(**id))
            .filter_map(|(id, c)| {
                let line = call_line(&self.ports, c.line)?;
                let state = match c.joined_at {
                    Some(at) if !c.parties.is_empty() => AnchoredState::Connected {
                        talk_ms: now.saturating_sub(at),
                    },
                    _ if line.routed() => AnchoredState::Queued {
                        waited_ms: now.saturating_sub(c.queued_at.unwrap_or(now)),
                    },
                    // Neither talking nor waiting (releasing): nothing to rebuild.
                    _ => return None,
                };
                let parties = c
                    .parties
                    .iter()
                    .filter_map(|(party, joined)| {
                        let endpoint = match &joined.at {
                            PartyAt::Seat(s) => Endpoint::Local(self.seats.get(*s)?.id.clone()),
                            PartyAt::Fxs(j) => match self.ports.get(*j)? {
                                Port::Fxs(slot) => Endpoint::Local(slot.port.id().to_owned()),
                                _ => return None,
                            },
                            PartyAt::Leg(leg, _) => Endpoint::Leg(leg.0),
                        };
                        Some(AnchoredParty {
                            party: *party,
                            agent: joined.agent,
                            role: joined.role,
                            endpoint,
                        })
                    })
                    .collect();
                Some(AnchoredCall {
                    call: *id,
                    line: line.id().to_owned(),
                    caller: c.caller.clone(),
                    queue: c.queue,
                    priority: c.priority,
                    state,
                    held: c.held,
                    parties,
                })
            })
            .collect()
    }

    /// The view of an agent served by the local router.
    pub(crate) fn local_view(&self, agent: AgentId, call: Option<CallId>) -> AgentView {
        let c = call.and_then(|c| self.calls.get(&c));
        AgentView {
            state: self.local.agent_state(agent),
            call,
            caller: c.and_then(|c| c.caller.clone()),
            queue: c.and_then(|c| c.queue),
            held: c.is_some_and(|c| c.held),
            consulting: None,
            supervising: None,
        }
    }

    /// Places an outbound call on `line` (or the first idle FXO line, then E1
    /// channel: analog ports come first in the port list).
    fn dial(&mut self, call: CallId, line: Option<&str>, number: &str) -> Result<(), String> {
        if self.calls.contains_key(&call) {
            return Err(format!("call {call} is already up on this gateway"));
        }
        let now = now_ms();
        let i = self
            .ports
            .iter()
            .position(|p| match p {
                Port::Fxo(_, l) | Port::E1 { line: l, .. } => {
                    line.is_none_or(|id| l.id() == id) && l.call().is_none()
                }
                Port::Fxs(_) => false,
            })
            .ok_or_else(|| match line {
                Some(id) => {
                    format!("line {id} is not an idle FXO line or E1 channel of this gateway")
                }
                None => "no idle FXO line or E1 channel".to_owned(),
            })?;
        let Some(l) = self.call_line_mut(i) else {
            return Err("not a trunk line".to_owned());
        };
        let outs = l.dial(now, call, number)?;
        self.line_outs(i, outs);
        Ok(())
    }

    /// Whether the call is routed (waiting) and whether an agent answered.
    pub(crate) fn line_of(&self, call: CallId) -> Option<(bool, bool)> {
        let i = self.calls.get(&call)?.line;
        call_line(&self.ports, i).map(|line| (line.routed(), line.answered()))
    }
}

/// The call line of port `i` (FXO port or E1 channel).
fn call_line(ports: &[Port], i: usize) -> Option<&CallLine> {
    match ports.get(i)? {
        Port::Fxo(_, line) | Port::E1 { line, .. } => Some(line),
        Port::Fxs(_) => None,
    }
}

/// Sends one frame to port `i`: straight to an analog port, or into its
/// span's outgoing frame (A-law) for an E1 channel, sent once all are mixed.
fn write_line(ports: &mut [Port], spans: &mut [SpanSlot], i: usize, frame: &[i16]) {
    match ports.get_mut(i) {
        Some(Port::Fxo(port, _)) => {
            let _ = port.write_frame(frame);
        }
        Some(Port::Fxs(slot)) => {
            let _ = slot.port.write_frame(frame);
        }
        Some(Port::E1 { span, channel, .. }) => {
            let start = usize::from(*channel - 1) * FRAME_20MS;
            if let Some(slot) = spans.get_mut(*span)
                && let Some(codes) = slot.tx.get_mut(start..start + FRAME_20MS)
                && frame.len() == FRAME_20MS
            {
                Law::Alaw.encode(frame, codes);
            }
        }
        None => {}
    }
}
