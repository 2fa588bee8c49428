//! The engine's slow side, on its own thread: CDRs go to the outbox (one fsync,
//! off the audio thread), recordings are opened and closed, and `CallUp`
//! messages go to the uplink's queue. A call's `Ended` leaves only
//! after its CDR is committed, so the coordinator never hears of an end the
//! gateway could still lose.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tandem_node::calls::{CallUp, Cdr};
use tandem_node::proto::RecordKind;
use tokio::sync::mpsc;

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender};

use tandem_node::media::SampleRate;
use tandem_node::routing::CallId;

use super::record::encode_cdr;
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

fn run(
    rx: Receiver<Effect>,
    outbox: Outbox,
    up: mpsc::Sender<CallUp>,
    stats: Arc<Stats>,
    engine: SyncSender<Cmd>,
) {
    while let Ok(effect) = rx.recv() {
        match effect {
            Effect::Up(msg) => send(&up, msg),
            Effect::Cdr { cdr, ended } => {
                let call = cdr.call;
                match outbox.append(RecordKind::Cdr, cdr.ended_us, encode_cdr(&cdr)) {
                    Ok(seq) => {
                        stats.cdrs.fetch_add(1, Ordering::Relaxed);
                        tracing::info!(call = %call, seq, "CDR committed");
                    }
                    Err(err) => tracing::error!(call = %call, %err, "cannot write the CDR"),
                }
                if let Some(msg) = ended {
                    send(&up, msg);
                }
            }
            Effect::QueueEvents(events) => {
                for e in events {
                    let at_us = e.at.0.saturating_mul(1000);
                    if let Err(err) = outbox.append(RecordKind::QueueEvent, at_us, e.to_record()) {
                        tracing::error!(%err, "cannot write a local routing event");
                    }
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
