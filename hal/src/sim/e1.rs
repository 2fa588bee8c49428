//! A simulated E1 span: the far end sets ABCD bits, alarms and plays audio per
//! channel; the gateway side receives TS16 through the real CAS receiver and the
//! audio as A-law, as it would from a framer.

use super::source::AudioQueue;
use super::{Audio, Pace, Pacer, SimError, lock};
use crate::dsp::LINE_RATE;
use crate::dsp::g711::Law;
use crate::dsp::tones::CHINA;
use crate::e1::{
    Abcd, Alarms, CasReceiver, E1Span, SpanError, SpanEvent, SpanStatus, VOICE_CHANNELS,
    cas_multiframe,
};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

const CHANNELS: usize = VOICE_CHANNELS as usize;
/// Idle ABCD (ITU: A=1, B=0, C/D=01).
const IDLE: u8 = 0b1001;

#[derive(Debug)]
struct SpanSim {
    frame_len: usize,
    status: SpanStatus,
    far_abcd: [Abcd; CHANNELS],
    our_abcd: [Abcd; CHANNELS],
    cas: CasReceiver,
    mf_pos: usize,
    events: VecDeque<SpanEvent>,
    audio: Vec<AudioQueue>,
    captured: Vec<Vec<i16>>,
}

impl SpanSim {
    fn set_status(&mut self, status: SpanStatus) {
        if status != self.status {
            self.status = status;
            self.events.push_back(SpanEvent::Status(status));
        }
    }

    /// One frame period: `frame_len` E1 frames of TS16 through the CAS receiver.
    fn tick(&mut self) {
        if self.status.alarms.los || self.status.alarms.ais {
            return;
        }
        let mf = cas_multiframe(&self.far_abcd, self.status.alarms.rai);
        for _ in 0..self.frame_len {
            let byte = mf[self.mf_pos];
            self.mf_pos = (self.mf_pos + 1) % mf.len();
            let events = &mut self.events;
            self.cas.push(byte, |channel, bits| {
                events.push_back(SpanEvent::Abcd { channel, bits })
            });
        }
        let mut status = self.status;
        status.cas_sync = self.cas.in_sync();
        self.set_status(status);
    }
}

/// The gateway side of a simulated span.
pub struct SimSpan {
    id: String,
    frame_len: usize,
    pacer: Pacer,
    shared: Arc<Mutex<SpanSim>>,
}

/// The far end (the carrier's exchange) of a simulated span.
#[derive(Clone)]
pub struct FarEnd {
    shared: Arc<Mutex<SpanSim>>,
}

/// A span in frame sync with CRC-4, and its far end.
pub fn span(id: &str, frame_len: usize, pace: Pace) -> (SimSpan, FarEnd) {
    let idle = [Abcd::new(IDLE).unwrap_or_else(|_| unreachable!("1001 is valid")); CHANNELS];
    let shared = Arc::new(Mutex::new(SpanSim {
        frame_len,
        status: SpanStatus {
            frame_sync: true,
            crc4: true,
            cas_sync: false,
            alarms: Alarms::default(),
        },
        far_abcd: idle,
        our_abcd: idle,
        cas: CasReceiver::new(),
        mf_pos: 0,
        events: VecDeque::new(),
        audio: (0..CHANNELS).map(|_| AudioQueue::default()).collect(),
        captured: vec![Vec::new(); CHANNELS],
    }));
    (
        SimSpan {
            id: id.to_owned(),
            frame_len,
            pacer: Pacer::new(pace, frame_len, LINE_RATE),
            shared: shared.clone(),
        },
        FarEnd { shared },
    )
}

fn index(channel: u8) -> Result<usize, SpanError> {
    if (1..=VOICE_CHANNELS).contains(&channel) {
        Ok(usize::from(channel - 1))
    } else {
        Err(SpanError::NoSuchChannel(channel))
    }
}

impl E1Span for SimSpan {
    fn id(&self) -> &str {
        &self.id
    }

    fn frame_len(&self) -> usize {
        self.frame_len
    }

    fn status(&self) -> SpanStatus {
        lock(&self.shared).status
    }

    fn set_abcd(&mut self, channel: u8, bits: Abcd) -> Result<(), SpanError> {
        lock(&self.shared).our_abcd[index(channel)?] = bits;
        Ok(())
    }

    fn rx_abcd(&self, channel: u8) -> Result<Option<Abcd>, SpanError> {
        index(channel)?;
        Ok(lock(&self.shared).cas.abcd(channel))
    }

    fn poll_event(&mut self) -> Option<SpanEvent> {
        lock(&self.shared).events.pop_front()
    }

    fn read_frame(&mut self, out: &mut [u8]) -> Result<(), SpanError> {
        let expected = CHANNELS * self.frame_len;
        if out.len() != expected {
            return Err(SpanError::FrameSize {
                span: self.id.clone(),
                expected,
                got: out.len(),
            });
        }
        self.pacer.wait();
        let mut span = lock(&self.shared);
        span.tick();
        let silent = span.status.alarms.los || span.status.alarms.ais;
        let mut pcm = [0i16; 480];
        let n = self.frame_len.min(pcm.len());
        for (ch, codes) in out.chunks_exact_mut(self.frame_len).enumerate() {
            span.audio[ch].fill(&mut pcm[..n]);
            if silent {
                codes.fill(Law::Alaw.silence());
            } else {
                Law::Alaw.encode(&pcm[..n], codes);
            }
        }
        Ok(())
    }

    fn write_frame(&mut self, frame: &[u8]) -> Result<(), SpanError> {
        let expected = CHANNELS * self.frame_len;
        if frame.len() != expected {
            return Err(SpanError::FrameSize {
                span: self.id.clone(),
                expected,
                got: frame.len(),
            });
        }
        let mut span = lock(&self.shared);
        let mut pcm = [0i16; 480];
        let n = self.frame_len.min(pcm.len());
        for (ch, codes) in frame.chunks_exact(self.frame_len).enumerate() {
            Law::Alaw.decode(codes, &mut pcm[..n]);
            span.captured[ch].extend_from_slice(&pcm[..n]);
        }
        Ok(())
    }
}

impl FarEnd {
    /// Sets the ABCD bits the far end transmits on `channel`.
    pub fn set_abcd(&self, channel: u8, bits: Abcd) -> Result<(), SpanError> {
        lock(&self.shared).far_abcd[index(channel)?] = bits;
        Ok(())
    }

    /// The ABCD bits the gateway transmits on `channel`.
    pub fn gateway_abcd(&self, channel: u8) -> Result<Abcd, SpanError> {
        Ok(lock(&self.shared).our_abcd[index(channel)?])
    }

    /// Raises or clears alarms as the gateway's framer would see them: loss of
    /// signal and AIS also drop frame sync and CAS.
    pub fn set_alarms(&self, alarms: Alarms) {
        let mut span = lock(&self.shared);
        let lost = alarms.los || alarms.lof || alarms.ais;
        if lost {
            span.cas = CasReceiver::new();
        }
        let status = SpanStatus {
            frame_sync: !lost,
            crc4: !lost && span.status.crc4,
            cas_sync: !lost && span.cas.in_sync(),
            alarms,
        };
        span.set_status(status);
    }

    /// Whether the far end runs CRC-4 (a non-CRC-4 far end leaves it false).
    pub fn set_crc4(&self, on: bool) {
        let mut span = lock(&self.shared);
        let mut status = span.status;
        status.crc4 = on && status.frame_sync;
        span.set_status(status);
    }

    /// Queues audio on `channel` towards the gateway (tones use the China plan).
    pub fn play(&self, channel: u8, audio: Audio) -> Result<(), SimError> {
        let i = index(channel).map_err(|e| SimError::Audio(e.to_string()))?;
        let src = audio.into_source(&CHINA)?;
        lock(&self.shared).audio[i].push(src);
        Ok(())
    }

    /// Drains what the gateway sent on `channel` (decoded from A-law).
    pub fn take_captured(&self, channel: u8) -> Result<Vec<i16>, SpanError> {
        let i = index(channel)?;
        Ok(std::mem::take(&mut lock(&self.shared).captured[i]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::dtmf::{DtmfDetector, DtmfTiming};
    use crate::dsp::g711::alaw_decode;

    fn read(span: &mut SimSpan, frames: usize) -> Vec<Vec<i16>> {
        let mut out = vec![Vec::new(); CHANNELS];
        let mut buf = vec![0u8; CHANNELS * span.frame_len()];
        for _ in 0..frames {
            span.read_frame(&mut buf).unwrap();
            for (ch, codes) in buf.chunks_exact(span.frame_len()).enumerate() {
                out[ch].extend(codes.iter().map(|&c| alaw_decode(c)));
            }
        }
        out
    }

    #[test]
    fn abcd_changes_travel_through_ts16_with_debounce() {
        let (mut span, far) = span("e1a", 160, Pace::Fast);
        read(&mut span, 1);
        assert!(span.status().cas_sync);
        let initial: Vec<_> = std::iter::from_fn(|| span.poll_event()).collect();
        assert!(initial.contains(&SpanEvent::Abcd {
            channel: 30,
            bits: Abcd::new(IDLE).unwrap()
        }));
        far.set_abcd(17, Abcd::new(0b0001).unwrap()).unwrap();
        read(&mut span, 1);
        let events: Vec<_> = std::iter::from_fn(|| span.poll_event()).collect();
        assert_eq!(
            events,
            [SpanEvent::Abcd {
                channel: 17,
                bits: Abcd::new(0b0001).unwrap()
            }]
        );
        assert_eq!(span.rx_abcd(17).unwrap(), Some(Abcd::new(1).unwrap()));
        span.set_abcd(3, Abcd::new(0b1101).unwrap()).unwrap();
        assert_eq!(far.gateway_abcd(3).unwrap().bits(), 0b1101);
        assert_eq!(
            span.set_abcd(31, Abcd::new(1).unwrap()),
            Err(SpanError::NoSuchChannel(31))
        );
    }

    #[test]
    fn audio_is_alaw_per_channel_both_ways() {
        let (mut span, far) = span("e1a", 160, Pace::Fast);
        far.play(
            30,
            Audio::Dtmf {
                digits: "159".into(),
                timing: DtmfTiming::default(),
            },
        )
        .unwrap();
        let heard = read(&mut span, 30);
        assert_eq!(DtmfDetector::decode(&heard[29]), "159");
        assert_eq!(DtmfDetector::decode(&heard[0]), "");
        let mut frame = vec![Law::Alaw.silence(); CHANNELS * 160];
        frame[160..320].fill(crate::dsp::g711::alaw_encode(1000));
        span.write_frame(&frame).unwrap();
        let ch2 = far.take_captured(2).unwrap();
        assert_eq!(ch2.len(), 160);
        assert!(ch2.iter().all(|&s| (s - 1000).abs() < 32));
        assert!(span.write_frame(&frame[1..]).is_err());
    }

    #[test]
    fn alarms_drop_sync_and_are_reported() {
        let (mut span, far) = span("e1a", 160, Pace::Fast);
        read(&mut span, 1);
        while span.poll_event().is_some() {}
        far.set_alarms(Alarms {
            los: true,
            ..Alarms::default()
        });
        let ev = span.poll_event().unwrap();
        let SpanEvent::Status(s) = ev else {
            panic!("{ev:?}")
        };
        assert!(!s.frame_sync && s.alarms.los && !s.cas_sync);
        let heard = read(&mut span, 1);
        assert!(
            heard[0]
                .iter()
                .all(|&x| x == alaw_decode(Law::Alaw.silence()))
        );
        far.set_alarms(Alarms::default());
        far.set_crc4(false);
        read(&mut span, 1);
        let s = span.status();
        assert!(s.frame_sync && !s.crc4 && s.cas_sync && !s.alarms.any());
    }
}
