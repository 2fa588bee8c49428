//! E1 spans (G.704): status, alarms, channel-associated signalling (CAS) and the
//! audio of the 30 voice channels.
//!
//! The signalling protocols on top belong to the gateway's call lines (Q.421
//! line signalling and MFC/R2 register signalling, whose tones are
//! [`crate::dsp::r2`]); this layer delivers the ABCD bits per channel,
//! validated and debounced, and the span status the gateway reports as line
//! health.

pub mod cas;
pub mod framing;

pub use cas::{CasReceiver, cas_multiframe};

/// Voice channels on an E1 with CAS (timeslots 1–15 and 17–31).
pub const VOICE_CHANNELS: u8 = 30;

/// Timeslot carrying voice channel `channel` (1-based): TS16 is skipped.
pub fn timeslot_of(channel: u8) -> Option<u8> {
    match channel {
        1..=15 => Some(channel),
        16..=30 => Some(channel + 1),
        _ => None,
    }
}

/// The four CAS bits of one channel, A in bit 3 down to D in bit 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Abcd(u8);

impl Abcd {
    /// Validates the bits: 4 bits wide and not 0000, which G.704 forbids because
    /// it would imitate the multiframe alignment signal.
    pub fn new(bits: u8) -> Result<Self, SpanError> {
        if bits == 0 || bits > 0x0F {
            return Err(SpanError::BadAbcd(bits));
        }
        Ok(Self(bits))
    }

    /// The raw bits, A in bit 3.
    pub fn bits(self) -> u8 {
        self.0
    }
}

/// Span alarms.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Alarms {
    /// Loss of signal (red).
    pub los: bool,
    /// Loss of frame alignment.
    pub lof: bool,
    /// Alarm indication signal: all ones from upstream (blue).
    pub ais: bool,
    /// Remote alarm indication from the far end (yellow).
    pub rai: bool,
}

impl Alarms {
    /// Whether the span is in any alarm (the line-health LED and report use this).
    pub fn any(&self) -> bool {
        self.los || self.lof || self.ais || self.rai
    }
}

/// Framing and alarm state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SpanStatus {
    /// Basic frame alignment (FAS in TS0) found.
    pub frame_sync: bool,
    /// CRC-4 multiframe found (false also when the far end does not use CRC-4:
    /// after 400 ms without it the span runs without CRC-4).
    pub crc4: bool,
    /// TS16 multiframe alignment found (CAS usable).
    pub cas_sync: bool,
    pub alarms: Alarms,
}

/// Something that changed on a span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanEvent {
    Status(SpanStatus),
    /// Received ABCD bits of a channel changed (after debouncing).
    Abcd {
        channel: u8,
        bits: Abcd,
    },
}

/// Errors from a span.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpanError {
    #[error("channel {0} does not exist (E1 CAS channels are 1 to 30)")]
    NoSuchChannel(u8),
    #[error("ABCD bits {0:#06b} are invalid (4 bits, 0000 is forbidden)")]
    BadAbcd(u8),
    #[error("span {span}: frame of {got} bytes, expected {expected} (30 channels × frame length)")]
    FrameSize {
        span: String,
        expected: usize,
        got: usize,
    },
    #[error("span {span}: hardware fault: {reason}")]
    Hardware { span: String, reason: String },
}

/// An E1 span with CAS.
pub trait E1Span: Send {
    /// The span id from the board file.
    fn id(&self) -> &str;
    /// Samples per channel per frame.
    fn frame_len(&self) -> usize;
    /// Framing and alarm state now.
    fn status(&self) -> SpanStatus;
    /// Sets the ABCD bits transmitted on `channel`.
    fn set_abcd(&mut self, channel: u8, bits: Abcd) -> Result<(), SpanError>;
    /// Last validated ABCD bits received on `channel` (None before CAS sync).
    fn rx_abcd(&self, channel: u8) -> Result<Option<Abcd>, SpanError>;
    /// Next pending status or ABCD change.
    fn poll_event(&mut self) -> Option<SpanEvent>;
    /// Receives one frame of every voice channel: A-law codes, channel-major
    /// (`out[(channel - 1) * frame_len + i]`), waiting for it as hardware would.
    fn read_frame(&mut self, out: &mut [u8]) -> Result<(), SpanError>;
    /// Sends one frame of every voice channel, same layout.
    fn write_frame(&mut self, frame: &[u8]) -> Result<(), SpanError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn channel_to_timeslot_skips_ts16() {
        assert_eq!(timeslot_of(1), Some(1));
        assert_eq!(timeslot_of(15), Some(15));
        assert_eq!(timeslot_of(16), Some(17));
        assert_eq!(timeslot_of(30), Some(31));
        assert_eq!(timeslot_of(0), None);
        assert_eq!(timeslot_of(31), None);
        assert_eq!(Abcd::new(0), Err(SpanError::BadAbcd(0)));
        assert_eq!(Abcd::new(16), Err(SpanError::BadAbcd(16)));
    }
}
