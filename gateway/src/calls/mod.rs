//! The gateway's call engine: every FXO line's call from ring to CDR, the IVR,
//! the calls' media, the seats on this box, and routing on its own when the WAN
//! is down. Call control contract: [`tandem_node::calls`].
//!
//! # Threads
//! All frame I/O (line ports, headsets) and every call's mixer run on one
//! dedicated std thread (`engine`), paced by the devices' 20 ms frames. Nothing
//! on it touches disk or the network: commands arrive over a bounded channel
//! ([`EngineHandle`]), and what must be written (CDRs) or sent (`CallUp`) leaves
//! through a channel to the effects thread ([`effects`]), which commits the CDR
//! to the outbox *before* it queues `CallUp::Ended` for the uplink.
//!
//! # Modules
//! - [`line`](mod@line): the sans-I/O call line (ring or seizure, caller ID, answer,
//!   IVR, release, CDR), testable with a fake clock;
//! - [`cas`]: the E1 channels' line-signalling front end (Q.421 ABCD bits);
//! - [`r2`]: MFC/R2 China register signalling on those channels (DNIS, ANI);
//! - [`record`]: the CDR as it grows;
//! - [`prompts`]: tones, WAV prompts, music on hold, ring tone;
//! - [`engine`]: the audio thread that drives lines, seats and calls;
//! - `local`: the survivable local router over this box's seats;
//! - `media_tally`: the jitter-buffer totals of every leg received here;
//! - [`config_cache`]: the last configuration, kept in the gateway database;
//! - [`effects`]: the slow side (outbox, recordings, uplink queue).

pub mod cas;
#[cfg(test)]
mod cas_tests;
pub mod config_cache;
pub mod effects;
pub mod engine;
#[cfg(test)]
mod engine_tests;
pub mod line;
mod local;
mod media_tally;
pub mod prompts;
pub mod r2;
pub mod record;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tandem_hal::audio::AudioDevice;
use tandem_hal::e1::E1Span;
use tandem_hal::line::LinePort;
use tandem_node::calls::{AgentCommand, AgentView, CallDown, ValidCenterConfig};
use tandem_node::media::MediaTotals;
use tandem_node::routing::AgentId;
use tokio::sync::watch;

pub use engine::EngineHandle;

/// The hardware the gateway drives: line ports (FXO and FXS, board order), E1
/// spans (each voice channel is a line "<span>/<channel>") and headset seats
/// (board order, matched to the board file's seat ids).
pub struct Devices {
    /// FXO and FXS ports.
    pub lines: Vec<Box<dyn LinePort>>,
    /// E1 spans with CAS.
    pub spans: Vec<Box<dyn E1Span>>,
    /// Seat audio devices.
    pub seats: Vec<Box<dyn AudioDevice>>,
}

impl Devices {
    /// No hardware: a gateway that only links (tests, home seats without audio).
    pub fn none() -> Self {
        Devices {
            lines: Vec::new(),
            spans: Vec::new(),
            seats: Vec::new(),
        }
    }

    /// A simulated board's ports and seats, and the far-side controls that
    /// drive them (demo, tests).
    pub fn from_sim(sim: tandem_hal::sim::SimBoard) -> (Self, tandem_hal::sim::SimExchange) {
        let devices = Devices {
            lines: sim.lines,
            spans: sim
                .spans
                .into_iter()
                .map(|s| Box::new(s) as Box<dyn E1Span>)
                .collect(),
            seats: sim
                .seats
                .into_iter()
                .map(|s| Box::new(s) as Box<dyn AudioDevice>)
                .collect(),
        };
        (devices, sim.exchange)
    }
}

/// Why a call-engine request was refused.
#[derive(Debug, thiserror::Error)]
pub enum CallsError {
    /// The engine thread has stopped.
    #[error("the call engine has stopped")]
    Stopped,
    /// The engine's command queue is full (it is far behind); try again.
    #[error("the call engine is overloaded; try again")]
    Busy,
    /// The audio thread could not be started.
    #[error("cannot start the audio thread: {0}")]
    Thread(#[from] std::io::Error),
    /// A pushed or cached configuration is not valid.
    #[error(transparent)]
    Config(#[from] tandem_node::calls::CenterConfigError),
    /// The configuration cache could not be read or written.
    #[error("configuration cache: {0}")]
    Cache(String),
    /// A value of an agent's command is over its documented limit.
    #[error(transparent)]
    Limit(#[from] tandem_node::limits::LimitError),
}

/// Counters for status displays, the demo and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallStats {
    /// Calls on the lines now (answered, not yet ended).
    pub calls_active: usize,
    /// Calls answered by the gateway since start.
    pub calls_total: u64,
    /// CDRs committed to the outbox since start.
    pub cdrs_written: u64,
    /// Jitter-buffer totals of every leg received since start (ended legs and
    /// the live ones, as of the last second); reported to the coordinator.
    pub media: MediaTotals,
}

/// Shared counters behind [`CallStats`].
#[derive(Default)]
pub(crate) struct Stats {
    pub active: AtomicUsize,
    pub total: AtomicU64,
    pub cdrs: AtomicU64,
    /// Written by the audio thread with `try_lock` only (see `media_tally`).
    pub media: Mutex<MediaTotals>,
}

impl Stats {
    pub fn snapshot(&self) -> CallStats {
        CallStats {
            calls_active: self.active.load(Ordering::Relaxed),
            calls_total: self.total.load(Ordering::Relaxed),
            cdrs_written: self.cdrs.load(Ordering::Relaxed),
            media: self.media(),
        }
    }

    /// The media totals last published by the audio thread.
    pub fn media(&self) -> MediaTotals {
        // Plain data: a panicked holder cannot leave it inconsistent.
        *self.media.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Every agent's screen state, one watch channel per agent, created on demand.
#[derive(Clone, Default)]
pub struct AgentViews {
    inner: Arc<Mutex<HashMap<AgentId, watch::Sender<AgentView>>>>,
}

impl AgentViews {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<AgentId, watch::Sender<AgentView>>> {
        // Plain data: a panicked holder cannot leave it inconsistent.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Follows `agent`'s view.
    pub fn subscribe(&self, agent: AgentId) -> watch::Receiver<AgentView> {
        self.lock()
            .entry(agent)
            .or_insert_with(|| watch::channel(AgentView::default()).0)
            .subscribe()
    }

    /// Replaces `agent`'s view (a no-op for an unchanged one).
    pub fn set(&self, agent: AgentId, view: AgentView) {
        self.lock()
            .entry(agent)
            .or_insert_with(|| watch::channel(AgentView::default()).0)
            .send_if_modified(|v| {
                let changed = *v != view;
                *v = view;
                changed
            });
    }

    /// `agent`'s current view.
    pub fn get(&self, agent: AgentId) -> AgentView {
        self.lock()
            .get(&agent)
            .map(|s| s.borrow().clone())
            .unwrap_or_default()
    }
}

/// A command for the engine thread.
pub(crate) enum Cmd {
    Config(Arc<ValidCenterConfig>),
    /// A recording the tokio side opened for `call` (file creation is disk
    /// I/O, so it never happens on the audio thread).
    Recording {
        call: tandem_node::routing::CallId,
        agent: crate::media::mixer::ParticipantId,
        file: String,
        tap: crate::media::recorder::RecordingTap,
        recording: crate::media::recorder::Recording,
    },
    Down(CallDown),
    Agent(AgentId, AgentCommand),
    Online(bool),
    Stop,
}
