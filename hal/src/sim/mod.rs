//! The simulated world below the gateway: an exchange with FXO lines, analog phones
//! on FXS ports, E1 far ends, headsets and front-panel outputs.
//!
//! Everything carries real 8 kHz samples produced by the same DSP the gateway uses
//! (tones, DTMF, FSK caller ID), so a test exercises the gateway's detectors for
//! real. Time is the audio: each `read_frame` on a port is one frame of line time.
//! With [`Pace::RealTime`] a read waits for the frame's wall-clock deadline like a
//! sound card; with [`Pace::Fast`] it returns at once so tests run faster than real
//! time. Test code drives the far side through cloneable control handles
//! ([`line::FxoControl`], [`line::PhoneControl`], [`e1::FarEnd`], [`audio::SeatControl`]).

pub mod audio;
pub mod e1;
pub mod line;
pub mod outputs;
pub mod r2;
mod source;

pub use source::Audio;

use crate::board::{BoardConfig, PortKind};
use crate::dsp::tones::TonePlan;
use crate::line::LinePort;
use std::time::{Duration, Instant};

/// How fast simulated time runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// Reads wait for each frame's wall-clock deadline.
    RealTime,
    /// Reads return immediately: as fast as the consumer goes.
    Fast,
}

/// Errors from driving the simulation.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("no simulated {kind} named {id:?}")]
    NoSuchPort { kind: &'static str, id: String },
    #[error("simulated line {id}: {reason}")]
    State { id: String, reason: &'static str },
    #[error(transparent)]
    Wav(#[from] crate::wav::WavError),
    #[error("simulated audio: {0}")]
    Audio(String),
}

/// Keeps a reader to real time when asked to.
#[derive(Debug, Clone)]
pub(crate) struct Pacer {
    pace: Pace,
    start: Option<Instant>,
    frames: u32,
    frame: Duration,
}

impl Pacer {
    pub(crate) fn new(pace: Pace, samples: usize, rate: u32) -> Self {
        Self {
            pace,
            start: None,
            frames: 0,
            frame: Duration::from_secs_f64(samples as f64 / f64::from(rate)),
        }
    }

    /// Waits until the next frame is due (real time), or not at all (fast).
    pub(crate) fn wait(&mut self) {
        if self.pace == Pace::Fast {
            return;
        }
        let start = *self.start.get_or_insert_with(Instant::now);
        self.frames = self.frames.saturating_add(1);
        let due = start + self.frame * self.frames;
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
    }
}

/// A whole simulated board: the gateway-side devices and the far-side controls.
pub struct SimBoard {
    /// Line ports in board order (FXO and FXS), as the gateway will drive them.
    pub lines: Vec<Box<dyn LinePort>>,
    pub spans: Vec<e1::SimSpan>,
    pub seats: Vec<audio::SimAudio>,
    pub exchange: SimExchange,
}

/// The far side of every simulated port, looked up by port id.
#[derive(Clone, Default)]
pub struct SimExchange {
    fxo: Vec<(String, line::FxoControl)>,
    phones: Vec<(String, line::PhoneControl)>,
    far_ends: Vec<(String, e1::FarEnd)>,
    seats: Vec<(String, audio::SeatControl)>,
}

fn find<T: Clone>(list: &[(String, T)], id: &str, kind: &'static str) -> Result<T, SimError> {
    list.iter()
        .find(|(i, _)| i == id)
        .map(|(_, c)| c.clone())
        .ok_or_else(|| SimError::NoSuchPort {
            kind,
            id: id.to_owned(),
        })
}

impl SimExchange {
    /// The exchange side of FXO line `id`.
    pub fn fxo(&self, id: &str) -> Result<line::FxoControl, SimError> {
        find(&self.fxo, id, "FXO line")
    }
    /// The analog phone on FXS port `id`.
    pub fn phone(&self, id: &str) -> Result<line::PhoneControl, SimError> {
        find(&self.phones, id, "FXS phone")
    }
    /// The far end of E1 span `id`.
    pub fn far_end(&self, id: &str) -> Result<e1::FarEnd, SimError> {
        find(&self.far_ends, id, "E1 span")
    }
    /// The agent at seat `id`.
    pub fn seat(&self, id: &str) -> Result<audio::SeatControl, SimError> {
        find(&self.seats, id, "seat")
    }
}

impl SimBoard {
    /// Builds every port the board file lists, with `frame_len`-sample frames
    /// (160 = 20 ms), the national `plan` for tones and ring cadence, and `pace`.
    pub fn new(
        board: &BoardConfig,
        plan: &'static TonePlan,
        frame_len: usize,
        pace: Pace,
    ) -> Result<Self, SimError> {
        let mut exchange = SimExchange::default();
        let mut lines: Vec<Box<dyn LinePort>> = Vec::new();
        for p in &board.ports {
            match p.kind {
                PortKind::Fxo => {
                    let (port, ctl) = line::fxo(&p.id, plan, frame_len, pace);
                    exchange.fxo.push((p.id.clone(), ctl));
                    lines.push(Box::new(port));
                }
                PortKind::Fxs => {
                    let (port, ctl) = line::fxs(&p.id, plan, frame_len, pace);
                    exchange.phones.push((p.id.clone(), ctl));
                    lines.push(Box::new(port));
                }
            }
        }
        let spans = board
            .spans
            .iter()
            .map(|s| {
                let (span, far) = e1::span(&s.id, frame_len, pace);
                exchange.far_ends.push((s.id.clone(), far));
                span
            })
            .collect();
        let mut seats = Vec::new();
        for s in &board.seats {
            let period = frame_len * s.sample_rate as usize / crate::dsp::LINE_RATE as usize;
            let (dev, ctl) = audio::seat(&s.id, s.sample_rate, period, pace)?;
            exchange.seats.push((s.id.clone(), ctl));
            seats.push(dev);
        }
        Ok(Self {
            lines,
            spans,
            seats,
            exchange,
        })
    }
}

/// Locks shared simulation state; a panic in another thread holding the lock
/// leaves plain data behind, so it is used as is.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::tones::CHINA;
    use std::path::Path;

    #[test]
    fn sim_board_builds_every_port_of_sim_toml() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../board-configs/sim.toml");
        let board = BoardConfig::load(&path).unwrap();
        let sim = SimBoard::new(&board, &CHINA, crate::dsp::FRAME_20MS, Pace::Fast).unwrap();
        let kinds: Vec<_> = sim.lines.iter().map(|l| l.kind()).collect();
        assert_eq!(kinds.iter().filter(|k| **k == PortKind::Fxo).count(), 4);
        assert_eq!(kinds.iter().filter(|k| **k == PortKind::Fxs).count(), 2);
        assert_eq!(sim.spans.len(), 1);
        assert_eq!(sim.seats.len(), 2);
        assert!(sim.exchange.fxo("fxo4").is_ok());
        assert!(sim.exchange.phone("fxs2").is_ok());
        assert!(sim.exchange.far_end("e1a").is_ok());
        assert!(sim.exchange.seat("seat1").is_ok());
        let err = sim.exchange.fxo("fxs1").err().unwrap();
        assert_eq!(err.to_string(), "no simulated FXO line named \"fxs1\"");
        use crate::audio::AudioDevice;
        assert_eq!(sim.seats[0].period(), 320);
    }
}
