//! A simulated E1 span: the far end sets ABCD bits, alarms and plays audio per
//! channel and sends whole G.704 frames; the gateway side runs the real framer
//! (frame and CRC-4 alignment, alarms) and CAS receiver on them and gets the
//! voice channels as A-law, as it would from a framer chip. The far end can
//! also place MFC/R2 (China) calls: it seizes and then sends the numbers as
//! compelled tones in the timeslot ([`super::r2`]).

use super::r2::{R2Call, R2CallState, R2Caller};
use super::source::AudioQueue;
use super::{Audio, Pace, Pacer, SimError, lock};
use crate::dsp::LINE_RATE;
use crate::dsp::g711::{Law, alaw_encode};
use crate::dsp::tones::CHINA;
use crate::e1::framing::{FRAME_BYTES, Framer, Transmitter};
use crate::e1::{
    Abcd, Alarms, CasReceiver, E1Span, SpanError, SpanEvent, SpanStatus, VOICE_CHANNELS,
    cas_multiframe, timeslot_of,
};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

const CHANNELS: usize = VOICE_CHANNELS as usize;
/// Idle ABCD (ITU: A=1, B=0, C/D=01).
const IDLE: u8 = 0b1001;
/// Seizure and idle with the China MFC/R2 C/D bits (11).
const R2_SEIZE: u8 = 0b0011;
const R2_IDLE: u8 = 0b1011;

#[derive(Debug)]
struct SpanSim {
    frame_len: usize,
    /// What the far end is doing wrong (it sends zeros, all ones, bad FAS, RAI).
    far_alarms: Alarms,
    tx: Transmitter,
    framer: Framer,
    status: SpanStatus,
    far_abcd: [Abcd; CHANNELS],
    our_abcd: [Abcd; CHANNELS],
    cas: CasReceiver,
    mf_pos: usize,
    events: VecDeque<SpanEvent>,
    audio: Vec<AudioQueue>,
    /// Far-end audio for one read, channel-major, reused across reads.
    pcm: Vec<i16>,
    captured: Vec<Vec<i16>>,
    /// The MFC/R2 register of each channel's call, once one was placed.
    r2: Vec<Option<R2Caller>>,
}

impl SpanSim {
    fn set_status(&mut self, status: SpanStatus) {
        if status != self.status {
            self.status = status;
            self.events.push_back(SpanEvent::Status(status));
        }
    }

    /// One read period: the far end builds `frame_len` whole E1 frames (TS0 from
    /// its transmitter, TS16 CAS, A-law voice), the gateway's framer aligns to them
    /// and the aligned frames feed the CAS receiver and `out` (channel-major codes).
    fn tick(&mut self, out: &mut [u8]) {
        let n = self.frame_len;
        out.fill(Law::Alaw.silence());
        for (ch, q) in self.audio.iter_mut().enumerate() {
            let pcm = &mut self.pcm[ch * n..(ch + 1) * n];
            q.fill(pcm);
            if let Some(r2) = &mut self.r2[ch] {
                r2.on_gateway_bits(self.our_abcd[ch].bits());
                if r2.signalling() {
                    r2.fill(pcm);
                }
            }
        }
        let mf = cas_multiframe(&self.far_abcd, false);
        let mut delivered = 0;
        for i in 0..n {
            let mut frame = [0u8; FRAME_BYTES];
            frame[16] = mf[self.mf_pos];
            self.mf_pos = (self.mf_pos + 1) % mf.len();
            for ch in 1..=VOICE_CHANNELS {
                let ts = usize::from(timeslot_of(ch).unwrap_or(0));
                frame[ts] = alaw_encode(self.pcm[usize::from(ch - 1) * n + i]);
            }
            self.tx.frame(&mut frame);
            let a = self.far_alarms;
            if a.los {
                frame = [0; FRAME_BYTES];
            } else if a.ais {
                frame = [0xFF; FRAME_BYTES];
            } else if a.lof {
                frame[0] &= 0x80;
            }
            let (cas, events) = (&mut self.cas, &mut self.events);
            self.framer.push(&frame, |f| {
                cas.push(f[16], |channel, bits| {
                    events.push_back(SpanEvent::Abcd { channel, bits })
                });
                if delivered < n {
                    for ch in 1..=VOICE_CHANNELS {
                        let ts = usize::from(timeslot_of(ch).unwrap_or(0));
                        out[usize::from(ch - 1) * n + delivered] = f[ts];
                    }
                    delivered += 1;
                }
            });
        }
        let fs = self.framer.status();
        if !fs.frame_aligned {
            self.cas = CasReceiver::new();
        }
        self.set_status(SpanStatus {
            frame_sync: fs.frame_aligned,
            crc4: fs.crc4_aligned,
            cas_sync: fs.frame_aligned && self.cas.in_sync(),
            alarms: Alarms {
                los: fs.los,
                lof: !fs.frame_aligned && !fs.los && !fs.ais,
                ais: fs.ais,
                rai: fs.rai,
            },
        });
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

/// A span whose far end sends CRC-4 framing, and that far end. The gateway side
/// aligns on the first read.
pub fn span(id: &str, frame_len: usize, pace: Pace) -> (SimSpan, FarEnd) {
    let idle = [Abcd::new(IDLE).unwrap_or_else(|_| unreachable!("1001 is valid")); CHANNELS];
    let shared = Arc::new(Mutex::new(SpanSim {
        frame_len,
        far_alarms: Alarms::default(),
        tx: Transmitter::new(true),
        framer: Framer::new(),
        status: SpanStatus::default(),
        far_abcd: idle,
        our_abcd: idle,
        cas: CasReceiver::new(),
        mf_pos: 0,
        events: VecDeque::new(),
        audio: (0..CHANNELS).map(|_| AudioQueue::default()).collect(),
        pcm: vec![0; CHANNELS * frame_len],
        captured: vec![Vec::new(); CHANNELS],
        r2: vec![None; CHANNELS],
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
        lock(&self.shared).tick(out);
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
            if let Some(r2) = &mut span.r2[ch] {
                r2.on_gateway_audio(&pcm[..n]);
            }
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

    /// Places an MFC/R2 (China) call on idle `channel`: seizes it (C/D bits
    /// 11) and, once the gateway acknowledges, sends `call`'s numbers.
    pub fn place_r2_call(&self, channel: u8, call: R2Call) -> Result<(), SpanError> {
        let i = index(channel)?;
        let mut span = lock(&self.shared);
        span.far_abcd[i] = Abcd::new(R2_SEIZE)?;
        span.r2[i] = Some(R2Caller::new(call));
        Ok(())
    }

    /// Where the MFC/R2 call on `channel` stands (`None`: none placed).
    pub fn r2_state(&self, channel: u8) -> Result<Option<R2CallState>, SpanError> {
        let i = index(channel)?;
        Ok(lock(&self.shared).r2[i].as_ref().map(R2Caller::state))
    }

    /// The MFC/R2 caller on `channel` hangs up: clear-forward (idle with the
    /// China C/D bits), at any point of the call.
    pub fn clear_r2_call(&self, channel: u8) -> Result<(), SpanError> {
        let i = index(channel)?;
        let mut span = lock(&self.shared);
        span.far_abcd[i] = Abcd::new(R2_IDLE)?;
        span.r2[i] = None;
        Ok(())
    }

    /// The ABCD bits the gateway transmits on `channel`.
    pub fn gateway_abcd(&self, channel: u8) -> Result<Abcd, SpanError> {
        Ok(lock(&self.shared).our_abcd[index(channel)?])
    }

    /// Makes the far end misbehave as the alarm describes: `los` sends nothing
    /// (zeros), `ais` all ones, `lof` corrupts the alignment words, `rai` sets the
    /// remote alarm bit. The gateway's framer notices on its next reads.
    pub fn set_alarms(&self, alarms: Alarms) {
        let mut span = lock(&self.shared);
        span.far_alarms = alarms;
        span.tx.set_remote_alarm(alarms.rai);
    }

    /// Whether the far end sends CRC-4 (without it the gateway falls back to
    /// non-CRC-4 operation after 400 ms).
    pub fn set_crc4(&self, on: bool) {
        lock(&self.shared).tx.set_crc4(on);
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
    fn an_r2_call_seizes_and_sends_its_first_digit_after_the_seize_ack() {
        use crate::dsp::r2::{Direction, R2Detector, R2Error, R2Signal};
        assert_eq!(R2Call::new("80x1", None), Err(R2Error::NotADigit('x')));
        let (mut span, far) = span("e1a", 160, Pace::Fast);
        read(&mut span, 1);
        while span.poll_event().is_some() {}
        far.place_r2_call(7, R2Call::new("8001", Some("139")).unwrap())
            .unwrap();
        let heard = read(&mut span, 5);
        assert_eq!(span.rx_abcd(7).unwrap(), Some(Abcd::new(R2_SEIZE).unwrap()));
        assert!(R2Detector::decode(Direction::Forward, &heard[6]).is_empty());
        assert_eq!(far.r2_state(7).unwrap(), Some(R2CallState::Seizing));
        // Seize-ack (China C/D bits): the first DNIS digit goes out and stays on.
        span.set_abcd(7, Abcd::new(0b1111).unwrap()).unwrap();
        let heard = read(&mut span, 10);
        assert_eq!(
            R2Detector::decode(Direction::Forward, &heard[6]),
            [R2Signal::from_digit('8').unwrap()]
        );
        assert_eq!(far.r2_state(7).unwrap(), Some(R2CallState::Signalling));
        far.clear_r2_call(7).unwrap();
        assert_eq!(far.r2_state(7).unwrap(), None);
        assert_eq!(
            far.place_r2_call(31, R2Call::new("1", None).unwrap()),
            Err(SpanError::NoSuchChannel(31))
        );
    }

    fn statuses(span: &mut SimSpan) -> Vec<SpanStatus> {
        std::iter::from_fn(|| span.poll_event())
            .filter_map(|e| match e {
                SpanEvent::Status(s) => Some(s),
                SpanEvent::Abcd { .. } => None,
            })
            .collect()
    }

    #[test]
    fn the_framer_aligns_and_reports_far_end_alarms() {
        let (mut span, far) = span("e1a", 160, Pace::Fast);
        read(&mut span, 1);
        let s = span.status();
        assert!(
            s.frame_sync && s.crc4 && s.cas_sync && !s.alarms.any(),
            "{s:?}"
        );
        while span.poll_event().is_some() {}

        far.set_alarms(Alarms {
            los: true,
            ..Alarms::default()
        });
        let heard = read(&mut span, 1);
        let s = *statuses(&mut span).last().unwrap();
        assert!(s.alarms.los && !s.cas_sync, "{s:?}");
        assert!(
            heard[0][80..]
                .iter()
                .all(|&x| x == alaw_decode(Law::Alaw.silence()))
        );

        far.set_alarms(Alarms {
            ais: true,
            ..Alarms::default()
        });
        read(&mut span, 1);
        assert!(span.status().alarms.ais && !span.status().frame_sync);

        far.set_alarms(Alarms {
            lof: true,
            ..Alarms::default()
        });
        read(&mut span, 1);
        let s = span.status();
        assert!(s.alarms.lof && !s.frame_sync && !s.alarms.los, "{s:?}");

        far.set_alarms(Alarms {
            rai: true,
            ..Alarms::default()
        });
        read(&mut span, 1);
        let s = span.status();
        assert!(s.frame_sync && s.alarms.rai && s.cas_sync, "{s:?}");

        // A far end that stops sending CRC-4: after 400 ms the span runs without it.
        far.set_alarms(Alarms::default());
        far.set_crc4(false);
        read(&mut span, 25);
        let s = span.status();
        assert!(
            s.frame_sync && !s.crc4 && s.cas_sync && !s.alarms.any(),
            "{s:?}"
        );
    }
}
