//! A simulated headset: the agent speaks into it and hears what the gateway plays.

use super::source::AudioQueue;
use super::{Audio, Pace, Pacer, SimError, lock};
use crate::audio::{AudioDevice, AudioError, check_period};
use crate::dsp::LINE_RATE;
use crate::dsp::resample::Resampler;
use crate::dsp::tones::CHINA;
use std::sync::{Arc, Mutex};

#[derive(Debug)]
struct SeatSim {
    mic: AudioQueue,
    /// Mic audio is produced at 8 kHz and converted to a wideband device's rate.
    up: Option<Resampler>,
    earpiece: Vec<i16>,
}

/// The gateway side of a simulated headset.
pub struct SimAudio {
    name: String,
    rate: u32,
    period: usize,
    pacer: Pacer,
    shared: Arc<Mutex<SeatSim>>,
}

/// The agent wearing the headset.
#[derive(Clone)]
pub struct SeatControl {
    shared: Arc<Mutex<SeatSim>>,
}

/// A headset at `rate` Hz (8, 16 or 48 kHz) with `period` samples per period.
pub fn seat(
    id: &str,
    rate: u32,
    period: usize,
    pace: Pace,
) -> Result<(SimAudio, SeatControl), SimError> {
    let up = if rate == LINE_RATE {
        None
    } else {
        Some(Resampler::new(LINE_RATE, rate).map_err(|e| SimError::Audio(e.to_string()))?)
    };
    let shared = Arc::new(Mutex::new(SeatSim {
        mic: AudioQueue::default(),
        up,
        earpiece: Vec::new(),
    }));
    Ok((
        SimAudio {
            name: format!("sim:{id}"),
            rate,
            period,
            pacer: Pacer::new(pace, period, rate),
            shared: shared.clone(),
        },
        SeatControl { shared },
    ))
}

impl AudioDevice for SimAudio {
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
        self.pacer.wait();
        let mut seat = lock(&self.shared);
        let seat = &mut *seat;
        let Some(up) = &mut seat.up else {
            seat.mic.fill(out);
            return Ok(());
        };
        let narrow_len = self.period * LINE_RATE as usize / self.rate as usize;
        let mut narrow = [0i16; 960];
        let narrow = &mut narrow[..narrow_len.min(960)];
        seat.mic.fill(narrow);
        let n = up.process(narrow, out);
        out[n..].fill(0);
        Ok(())
    }

    fn write(&mut self, frame: &[i16]) -> Result<(), AudioError> {
        check_period(&self.name, self.period, frame.len())?;
        lock(&self.shared).earpiece.extend_from_slice(frame);
        Ok(())
    }
}

impl SeatControl {
    /// The agent speaks (8 kHz audio; tones from the China plan).
    pub fn say(&self, audio: Audio) -> Result<(), SimError> {
        let src = audio.into_source(&CHINA)?;
        lock(&self.shared).mic.push(src);
        Ok(())
    }

    /// Whether everything queued has been spoken.
    pub fn done_speaking(&self) -> bool {
        lock(&self.shared).mic.is_empty()
    }

    /// Drains what the agent heard, at the device rate.
    pub fn take_heard(&self) -> Vec<i16> {
        std::mem::take(&mut lock(&self.shared).earpiece)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::dtmf::{DtmfDetector, DtmfTiming};
    use crate::dsp::resample::Resampler;

    #[test]
    fn wideband_headset_carries_speech_both_ways() {
        let (mut dev, agent) = seat("seat1", 16000, 320, Pace::Fast).unwrap();
        assert!(seat("odd", 44100, 441, Pace::Fast).is_err());
        assert_eq!(
            (dev.sample_rate(), dev.period(), dev.name()),
            (16000, 320, "sim:seat1")
        );
        agent
            .say(Audio::Dtmf {
                digits: "24".into(),
                timing: DtmfTiming::default(),
            })
            .unwrap();
        let mut wide = Vec::new();
        let mut buf = [0i16; 320];
        for _ in 0..20 {
            dev.read(&mut buf).unwrap();
            wide.extend_from_slice(&buf);
            dev.write(&buf).unwrap();
        }
        assert!(agent.done_speaking());
        let mut down = Resampler::new(16000, 8000).unwrap();
        let mut narrow = vec![0; down.output_len(wide.len())];
        down.process(&wide, &mut narrow);
        assert_eq!(DtmfDetector::decode(&narrow), "24");
        assert_eq!(agent.take_heard(), wide);
        assert!(matches!(
            dev.read(&mut [0; 10]),
            Err(AudioError::PeriodSize { .. })
        ));
    }
}
