//! Audio devices for agent seats (headsets): the same frame-paced model as line
//! ports, at the device's own rate (8 or 16 kHz; resample with `dsp::resample`).

/// Errors from an audio device.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AudioError {
    #[error("audio device {device}: buffer of {got} samples, the period is {expected}")]
    PeriodSize {
        device: String,
        expected: usize,
        got: usize,
    },
    #[error("audio device {device}: {reason}")]
    Device { device: String, reason: String },
}

/// A mono capture + playback device.
pub trait AudioDevice: Send {
    /// Device name (ALSA PCM name, or `sim:` and the seat id).
    fn name(&self) -> &str;
    /// Samples per second.
    fn sample_rate(&self) -> u32;
    /// Samples per period; `read`/`write` take exactly this many.
    fn period(&self) -> usize;
    /// Captures one period (microphone), waiting for it.
    fn read(&mut self, out: &mut [i16]) -> Result<(), AudioError>;
    /// Plays one period (earpiece).
    fn write(&mut self, frame: &[i16]) -> Result<(), AudioError>;
}

/// Checks a buffer against the device period, for implementations.
pub(crate) fn check_period(device: &str, expected: usize, got: usize) -> Result<(), AudioError> {
    if expected == got {
        Ok(())
    } else {
        Err(AudioError::PeriodSize {
            device: device.to_owned(),
            expected,
            got,
        })
    }
}
