//! Telephony signal processing: everything between raw line samples and the events
//! call control acts on. All blocks are per-channel state machines fed with frames
//! of 16-bit linear PCM at 8 kHz; none allocates once constructed, so thousands of
//! channels run on one core without touching the allocator on the audio path.

pub mod callerid;
pub mod dtmf;
pub mod g711;
pub mod level;
pub mod oscillator;
pub mod progress;
pub mod r2;
pub mod resample;

pub mod spectrum;
pub mod tones;

/// Line-side sample rate: every analog line and E1 timeslot runs at 8 kHz.
pub const LINE_RATE: u32 = 8_000;

/// Samples in one 20 ms line frame, the default media frame.
pub const FRAME_20MS: usize = 160;

/// Samples in one 10 ms line frame, for latency-sensitive legs.
pub const FRAME_10MS: usize = 80;

/// Converts milliseconds to 8 kHz samples.
pub const fn ms_to_samples(ms: u32) -> usize {
    (ms as usize) * (LINE_RATE as usize) / 1000
}
