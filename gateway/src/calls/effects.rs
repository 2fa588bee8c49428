//! The engine's slow side, on its own thread: CDRs go to the outbox (one fsync,
//! off the audio thread), recordings are opened and closed, and `CallUp`
//! messages go to the uplink's queue. A call's `Ended` leaves only
//! after its CDR is committed, so the coordinator never hears of an end the
//! gateway could still lose.
//!
//! Each answered call is kept in the outbox while it is up
//! ([`Effect::CallOpen`], refreshed at its milestones); its CDR replaces it in one transaction. A gateway
//! that crashed mid-call finds the entry when it starts again and writes the
//! call's CDR then, with [`tandem_node::calls::EndCause::GatewayRestart`] ([`close_cut_calls`]).
//!
//! A write the outbox refuses (a full disk, an I/O error) is held here, in
//! order, and retried every [`RETRY_EVERY`] until the outbox takes it again;
//! nothing is dropped unless [`HELD_LIMIT`] writes are waiting, and then loudly.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tandem_node::calls::{CallUp, Cdr};
use tandem_node::proto::RecordKind;
use tokio::sync::mpsc;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::time::Duration;

use tandem_node::media::SampleRate;
use tandem_node::routing::CallId;

use super::record::{close_cut, encode_cdr};
use super::{Cmd, Stats};
use crate::media::mixer::ParticipantId;
use crate::media::recorder::{self, RecorderConfig, Recording};
use crate::outbox::Outbox;

/// What the engine hands to the tokio side.
#[derive(Debug)]
pub enum Effect {
    /// Send to the coordinator (queued while offline).
    Up(CallUp),
    /// Commit the CDR; then, if `ended` is set, send it.
    Cdr {
        /// The record.
        cdr: Box<Cdr>,
        /// The `Ended` message to send once committed (calls the coordinator knew).
        ended: Option<CallUp>,
    },
    /// An answered call, or one that reached a milestone (queued, answered by
    /// an agent, transferred): keep its record so far until its CDR replaces it.
    CallOpen(Box<Cdr>),
    /// Commit what the local router decided (WAN down), for upload.
    QueueEvents(Vec<tandem_node::routing::Event>),
    /// Open a recording file, then hand its tap to the engine.
    StartRecording(RecordingRequest),
    /// The call ended (its tap is dropped): close the file.
    FinishRecording(Recording),
}

impl std::fmt::Debug for Recording {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Recording")
    }
}

/// A call to record, as decided by the engine.
#[derive(Debug)]
pub struct RecordingRequest {
    /// The call.
    pub call: CallId,
    /// The agent's participant (right channel; the caller is left).
    pub agent: ParticipantId,
    /// Directory of the gateway's recordings.
    pub dir: PathBuf,
}

/// `CallUp` messages waiting for the uplink's control stream.
pub const UPLINK_QUEUE: usize = 1024;

/// Starts the effects thread; it runs until the engine drops its sender, so
/// joining it after the engine stopped means every CDR is committed (and the
/// database handle released).
pub(crate) fn spawn(
    rx: Receiver<Effect>,
    outbox: Outbox,
    up: mpsc::Sender<CallUp>,
    stats: Arc<Stats>,
    engine: SyncSender<Cmd>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let span = tracing::Span::current();
    std::thread::Builder::new()
        .name("tandem-effects".to_owned())
        .spawn(move || {
            let _enter = span.enter();
            run(rx, outbox, up, stats, engine)
        })
}

/// How often writes the outbox refused are tried again.
pub const RETRY_EVERY: Duration = Duration::from_secs(1);

/// Outbox writes held at most while the outbox refuses them (hours of a busy
/// branch's calls and events); past it the oldest are dropped, each logged.
pub const HELD_LIMIT: usize = 20_000;

/// One outbox write, kept until it commits.
enum Write {
    Open {
        call: CallId,
        body: Vec<u8>,
    },
    Cdr {
        call: CallId,
        at_us: u64,
        body: Vec<u8>,
        ended: Option<CallUp>,
    },
    Event {
        at_us: u64,
        body: Vec<u8>,
    },
}

/// Writes waiting for the outbox, oldest first.
struct Held {
    writes: VecDeque<Write>,
    /// Whether the last attempt failed (to log a fault once, not per write).
    failing: bool,
}

impl Held {
    fn push(&mut self, write: Write) {
        if self.writes.len() >= HELD_LIMIT
            && let Some(lost) = self.writes.pop_front()
        {
            let what = match lost {
                Write::Open { .. } => "an open call's record",
                Write::Cdr { .. } => "a CDR",
                Write::Event { .. } => "a routing event",
            };
            tracing::error!(
                what,
                held = HELD_LIMIT,
                "outbox refusing writes too long: the oldest is lost"
            );
        }
        self.writes.push_back(write);
    }

    /// Commits what is held, in order, until the outbox refuses one.
    fn flush(&mut self, outbox: &Outbox, up: &mpsc::Sender<CallUp>, stats: &Stats) {
        while let Some(write) = self.writes.front() {
            let result = match write {
                Write::Open { call, body } => outbox.hold_open(call.0, body).map(|()| None),
                Write::Cdr {
                    call, at_us, body, ..
                } => outbox
                    .append_closing(RecordKind::Cdr, *at_us, body.clone(), Some(call.0))
                    .map(Some),
                Write::Event { at_us, body } => outbox
                    .append(RecordKind::QueueEvent, *at_us, body.clone())
                    .map(Some),
            };
            match result {
                Ok(seq) => {
                    if self.failing {
                        self.failing = false;
                        tracing::info!("the outbox takes writes again");
                    }
                    let done = self.writes.pop_front();
                    if let Some(Write::Cdr { call, ended, .. }) = done {
                        stats.cdrs.fetch_add(1, Ordering::Relaxed);
                        tracing::info!(call = %call, seq, "CDR committed");
                        if let Some(msg) = ended {
                            send(up, msg);
                        }
                    }
                }
                Err(err) => {
                    if !self.failing {
                        self.failing = true;
                        tracing::error!(%err, held = self.writes.len(), "the outbox refuses writes; holding them and retrying");
                    }
                    return;
                }
            }
        }
    }
}

fn run(
    rx: Receiver<Effect>,
    outbox: Outbox,
    up: mpsc::Sender<CallUp>,
    stats: Arc<Stats>,
    engine: SyncSender<Cmd>,
) {
    let mut held = Held {
        writes: VecDeque::new(),
        failing: false,
    };
    loop {
        let effect = match rx.recv_timeout(RETRY_EVERY) {
            Ok(effect) => effect,
            Err(RecvTimeoutError::Timeout) => {
                held.flush(&outbox, &up, &stats);
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        match effect {
            Effect::Up(msg) => send(&up, msg),
            Effect::CallOpen(cdr) => held.push(Write::Open {
                call: cdr.call,
                body: encode_cdr(&cdr),
            }),
            Effect::Cdr { cdr, ended } => held.push(Write::Cdr {
                call: cdr.call,
                at_us: cdr.ended_us,
                body: encode_cdr(&cdr),
                ended,
            }),
            Effect::QueueEvents(events) => {
                for e in events {
                    held.push(Write::Event {
                        at_us: e.at.0.saturating_mul(1000),
                        body: e.to_record(),
                    });
                }
            }
            Effect::StartRecording(req) => start_recording(req, &engine),
            Effect::FinishRecording(rec) => {
                // Draining the recorder may take a moment; CDRs must not wait.
                let spawned = std::thread::Builder::new()
                    .name("tandem-rec-close".to_owned())
                    .spawn(move || match rec.finish() {
                        Ok(s) => tracing::info!(
                            path = %s.path.display(),
                            frames = s.frames,
                            gaps = s.gap_frames,
                            "recording closed"
                        ),
                        Err(err) => tracing::error!(%err, "recording failed"),
                    });
                if let Err(err) = spawned {
                    tracing::error!(%err, "cannot close a recording");
                }
            }
        }
        held.flush(&outbox, &up, &stats);
    }
    // The engine stopped: one last attempt; a call still open stays in the
    // outbox and is closed at the next start.
    held.flush(&outbox, &up, &stats);
    if !held.writes.is_empty() {
        tracing::error!(
            lost = held.writes.len(),
            "gateway stopping with outbox writes the disk refused"
        );
    }
}

/// Writes the CDRs of the calls a crash cut (kept open by
/// [`Effect::CallOpen`], never closed by their CDR), with
/// [`EndCause::GatewayRestart`]. Runs once at start, before the engine. A
/// failure (full disk) is logged; the entries stay for the next start.
pub fn close_cut_calls(outbox: &Outbox) {
    let closed = outbox.close_open(|_, body| {
        let cdr = close_cut(body)?;
        tracing::warn!(call = %cdr.call, "call cut by a gateway restart: CDR written");
        Some((RecordKind::Cdr, cdr.ended_us, encode_cdr(&cdr)))
    });
    match closed {
        Ok(seqs) if seqs.is_empty() => {}
        Ok(seqs) => tracing::warn!(
            calls = seqs.len(),
            "CDRs written for calls cut by the restart"
        ),
        Err(err) => {
            tracing::error!(%err, "cannot close the calls cut by the restart; retried at the next start")
        }
    }
}

/// Opens `<dir>/<call>.opus` and hands the tap to the engine; a recording the
/// engine cannot use any more (the call ended meanwhile) is closed at once.
fn start_recording(req: RecordingRequest, engine: &SyncSender<Cmd>) {
    let file = format!("{}.opus", req.call);
    if let Err(err) = tandem_node_io::private_files::dir(&req.dir) {
        tracing::error!(dir = %req.dir.display(), %err, "cannot create the recordings directory");
        return;
    }
    let mut cfg = RecorderConfig::call(SampleRate::Narrowband);
    cfg.tags
        .push(("TANDEM_CALL".to_owned(), req.call.to_string()));
    // One stream per file: the call id's low bits (random) make a fine serial.
    let serial = req.call.0 as u32;
    match recorder::start(&req.dir.join(&file), cfg, serial) {
        Ok((tap, recording)) => {
            let cmd = Cmd::Recording {
                call: req.call,
                agent: req.agent,
                file,
                tap,
                recording,
            };
            if let Err(err) = engine.try_send(cmd) {
                tracing::error!(call = %req.call, %err, "engine did not take the recording");
            }
        }
        Err(err) => tracing::error!(call = %req.call, %err, "cannot start recording"),
    }
}

fn send(up: &mpsc::Sender<CallUp>, msg: CallUp) {
    // A full queue means a long outage; the oldest facts matter less than the
    // audio thread never waiting, so the newest is dropped and logged.
    if let Err(err) = up.try_send(msg) {
        tracing::warn!(%err, "uplink queue full; call-control message dropped");
    }
}
