//! ALSA audio devices (cargo feature `alsa`): headsets on seats, and the TDM
//! interface the line chips' PCM bus is wired to.
//!
//! Mono 16-bit interleaved at the device's rate with a chosen period, four periods
//! of buffer: small enough for the latency budget (DESIGN.md: 5–10 ms periods at the
//! seat), large enough to ride out scheduling jitter. An xrun is recovered in place
//! (the frame is retried once) rather than failing the call.

use crate::audio::{AudioDevice, AudioError, check_period};
use alsa::pcm::{Access, Format, HwParams, PCM};
use alsa::{Direction, ValueOr};

/// Periods of buffering on each direction.
const PERIODS: i64 = 4;

/// A capture + playback pair opened by ALSA PCM name.
pub struct AlsaDevice {
    name: String,
    rate: u32,
    period: usize,
    capture: PCM,
    playback: PCM,
}

fn device_error(device: &str, what: &str, e: alsa::Error) -> AudioError {
    AudioError::Device {
        device: device.to_owned(),
        reason: format!("{what}: {e}"),
    }
}

fn configure(pcm: &PCM, device: &str, rate: u32, period: usize) -> Result<(), AudioError> {
    let err = |what| move |e| device_error(device, what, e);
    let hwp = HwParams::any(pcm).map_err(err("no hardware parameters"))?;
    hwp.set_access(Access::RWInterleaved)
        .map_err(err("interleaved access refused"))?;
    hwp.set_format(Format::s16())
        .map_err(err("16-bit format refused"))?;
    hwp.set_channels(1).map_err(err("mono refused"))?;
    hwp.set_rate(rate, ValueOr::Nearest)
        .map_err(err("rate refused"))?;
    let frames = period as alsa::pcm::Frames;
    hwp.set_period_size_near(frames, ValueOr::Nearest)
        .map_err(err("period refused"))?;
    hwp.set_buffer_size_near(frames * PERIODS)
        .map_err(err("buffer size refused"))?;
    pcm.hw_params(&hwp)
        .map_err(err("hardware parameters refused"))?;
    let got = pcm
        .hw_params_current()
        .map_err(err("cannot read parameters back"))?;
    let got_rate = got.get_rate().map_err(err("cannot read rate"))?;
    let got_period = got.get_period_size().map_err(err("cannot read period"))?;
    if got_rate != rate || got_period != frames {
        return Err(AudioError::Device {
            device: device.to_owned(),
            reason: format!(
                "asked for {rate} Hz / {period}-frame periods, device gave {got_rate} Hz / {got_period}"
            ),
        });
    }
    pcm.prepare().map_err(err("prepare failed"))
}

impl AlsaDevice {
    /// Opens `capture` and `playback` (they may be the same PCM name) at `rate` Hz
    /// with `period` frames per period; fails if the device cannot do exactly that.
    pub fn open(
        capture: &str,
        playback: &str,
        rate: u32,
        period: usize,
    ) -> Result<Self, AudioError> {
        let open = |name: &str, dir| {
            PCM::new(name, dir, false).map_err(|e| device_error(name, "cannot open", e))
        };
        let cap = open(capture, Direction::Capture)?;
        configure(&cap, capture, rate, period)?;
        let play = open(playback, Direction::Playback)?;
        configure(&play, playback, rate, period)?;
        Ok(Self {
            name: format!("{capture}|{playback}"),
            rate,
            period,
            capture: cap,
            playback: play,
        })
    }
}

impl AudioDevice for AlsaDevice {
    fn name(&self) -> &str {
        &self.name
    }

    fn sample_rate(&self) -> u32 {
        self.rate
    }

    fn period(&self) -> usize {
        self.period
    }

    fn read(&mut self, out: &mut [i16]) -> Result<(), AudioError> {
        check_period(&self.name, self.period, out.len())?;
        let io = self
            .capture
            .io_i16()
            .map_err(|e| device_error(&self.name, "capture I/O", e))?;
        let mut done = 0;
        let mut recovered = false;
        while done < out.len() {
            match io.readi(&mut out[done..]) {
                Ok(n) => done += n,
                Err(e) if !recovered => {
                    recovered = true;
                    self.capture
                        .try_recover(e, true)
                        .map_err(|e| device_error(&self.name, "capture xrun", e))?;
                }
                Err(e) => return Err(device_error(&self.name, "capture failed", e)),
            }
        }
        Ok(())
    }

    fn write(&mut self, frame: &[i16]) -> Result<(), AudioError> {
        check_period(&self.name, self.period, frame.len())?;
        let io = self
            .playback
            .io_i16()
            .map_err(|e| device_error(&self.name, "playback I/O", e))?;
        let mut done = 0;
        let mut recovered = false;
        while done < frame.len() {
            match io.writei(&frame[done..]) {
                Ok(n) => done += n,
                Err(e) if !recovered => {
                    recovered = true;
                    self.playback
                        .try_recover(e, true)
                        .map_err(|e| device_error(&self.name, "playback xrun", e))?;
                }
                Err(e) => return Err(device_error(&self.name, "playback failed", e)),
            }
        }
        Ok(())
    }
}
