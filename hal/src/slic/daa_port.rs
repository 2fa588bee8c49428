//! An FXO [`LinePort`] on real hardware: an Si3050 DAA for signalling and an audio
//! device for the line's TDM slot (on Linux boards, an ALSA `dsnoop`/`dshare`
//! binding of the slot, so each port opens its own mono PCM).

use super::si3050::{DaaError, Si3050};
use crate::audio::{AudioDevice, AudioError};
use crate::board::PortKind;
use crate::dsp::LINE_RATE;
use crate::line::{LineCommand, LineError, LineEvent, LinePort};
use embedded_hal::digital::{InputPin, OutputPin};
use embedded_hal::spi::SpiDevice;

/// One FXO line: DAA + audio.
pub struct DaaPort<S, R, I, A> {
    id: String,
    daa: Si3050<S, R, I>,
    audio: A,
}

impl<S, R, I, A> DaaPort<S, R, I, A>
where
    S: SpiDevice + Send,
    R: OutputPin + Send,
    I: InputPin + Send,
    A: AudioDevice,
{
    /// Joins an initialised DAA with the audio device of its slot (8 kHz).
    pub fn new(id: &str, daa: Si3050<S, R, I>, audio: A) -> Result<Self, LineError> {
        if audio.sample_rate() != LINE_RATE {
            return Err(LineError::Hardware {
                port: id.to_owned(),
                reason: format!(
                    "audio device {} runs at {} Hz, lines need 8000",
                    audio.name(),
                    audio.sample_rate()
                ),
            });
        }
        Ok(Self {
            id: id.to_owned(),
            daa,
            audio,
        })
    }

    fn chip(&self, e: DaaError) -> LineError {
        LineError::Hardware {
            port: self.id.clone(),
            reason: e.to_string(),
        }
    }

    fn sound(&self, e: AudioError) -> LineError {
        LineError::Hardware {
            port: self.id.clone(),
            reason: e.to_string(),
        }
    }
}

impl<S, R, I, A> LinePort for DaaPort<S, R, I, A>
where
    S: SpiDevice + Send,
    R: OutputPin + Send,
    I: InputPin + Send,
    A: AudioDevice,
{
    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> PortKind {
        PortKind::Fxo
    }

    fn frame_len(&self) -> usize {
        self.audio.period()
    }

    fn command(&mut self, cmd: LineCommand) -> Result<(), LineError> {
        match cmd {
            LineCommand::SetHook(hook) => self.daa.set_hook(hook).map_err(|e| self.chip(e)),
            _ => Err(LineError::WrongKind {
                port: self.id.clone(),
                kind: PortKind::Fxo,
                command: "FXS command",
            }),
        }
    }

    fn poll_event(&mut self) -> Option<LineEvent> {
        self.daa.poll_event()
    }

    /// Reads the slot's audio (which paces the caller), then services the chip so
    /// signalling is at most one frame late.
    fn read_frame(&mut self, out: &mut [i16]) -> Result<(), LineError> {
        self.audio.read(out).map_err(|e| self.sound(e))?;
        self.daa.service().map_err(|e| self.chip(e))?;
        self.daa.poll().map_err(|e| self.chip(e))
    }

    fn write_frame(&mut self, frame: &[i16]) -> Result<(), LineError> {
        self.audio.write(frame).map_err(|e| self.sound(e))
    }
}
