//! Analog line ports (FXO and FXS): what the gateway's call control drives.
//!
//! A port is a synchronous object: the gateway's line task reads one audio frame
//! (which paces it, as a sound card period does), drains signalling events, acts,
//! and writes one frame back. Nothing here needs an async runtime, so the same
//! call-control code runs over the simulator, a SLIC/DAA on SPI, or a test double.

pub use crate::board::PortKind;
use crate::dsp::callerid::{CallerId, CidStandard};

/// Loop state of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Hook {
    On,
    Off,
}

/// Signalling a port reports. FXO ports report what the exchange does; FXS ports
/// report what the phone does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineEvent {
    /// FXO: ringing voltage appeared (one event per ring burst).
    RingStart,
    /// FXO: ringing voltage went away (between bursts, or for good).
    RingStop,
    /// FXO: the exchange reversed the loop polarity (caller ID alert, answer or
    /// disconnect supervision, depending on the exchange).
    PolarityReversal,
    /// FXO: loop current appeared or went away while off hook. A drop is the
    /// commonest disconnect signal (debounce it: see `fxo::Supervisor`).
    LoopCurrent { present: bool },
    /// FXS: the phone went on or off hook.
    Hook(Hook),
    /// FXS: a hook flash (short on-hook) — transfer/hold on analog phones.
    Flash,
}

/// What the gateway can tell a port to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineCommand {
    /// FXO: go off hook (answer or seize) or on hook (release).
    SetHook(Hook),
    /// FXS: ring the phone with the board's ring cadence, sending caller ID the
    /// way `standard` requires (before the first ring or between the first two).
    Ring {
        caller_id: Option<(CallerId, CidStandard)>,
    },
    /// FXS: stop ringing.
    StopRing,
    /// FXS: reverse loop polarity (answer supervision towards a PBX or payphone).
    ReversePolarity,
}

/// Errors from a line port.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    #[error("port {port}: {command} is not possible on an {kind:?} port")]
    WrongKind {
        port: String,
        kind: PortKind,
        command: &'static str,
    },
    #[error("port {port}: frame of {got} samples, the port uses {expected}")]
    FrameSize {
        port: String,
        expected: usize,
        got: usize,
    },
    #[error("port {port}: caller ID cannot be sent: {reason}")]
    CallerId { port: String, reason: String },
    #[error("port {port}: {reason}")]
    State { port: String, reason: &'static str },
    #[error("port {port}: hardware fault: {reason}")]
    Hardware { port: String, reason: String },
}

/// Checks a frame against the port's frame length, for implementations.
pub(crate) fn check_frame(port: &str, expected: usize, got: usize) -> Result<(), LineError> {
    if expected == got {
        Ok(())
    } else {
        Err(LineError::FrameSize {
            port: port.to_owned(),
            expected,
            got,
        })
    }
}

/// An FXO or FXS port.
pub trait LinePort: Send {
    /// The port id from the board file.
    fn id(&self) -> &str;
    /// Which way the port faces.
    fn kind(&self) -> PortKind;
    /// Samples per frame (8 kHz linear PCM); `read_frame`/`write_frame` use this size.
    fn frame_len(&self) -> usize;
    /// Applies a command; the wrong command for the port kind is an error.
    fn command(&mut self, cmd: LineCommand) -> Result<(), LineError>;
    /// Next pending signalling event, if any.
    fn poll_event(&mut self) -> Option<LineEvent>;
    /// Receives one frame from the line, waiting for it as hardware would.
    fn read_frame(&mut self, out: &mut [i16]) -> Result<(), LineError>;
    /// Sends one frame to the line.
    fn write_frame(&mut self, frame: &[i16]) -> Result<(), LineError>;
}
