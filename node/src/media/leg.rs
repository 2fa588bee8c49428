//! Both ends of one media leg direction: PCM frames in → datagrams out
//! ([`LegSender`]), datagrams in → PCM frames out ([`LegReceiver`]).
//!
//! These are what call control instantiates per leg and the audio thread drives
//! once per frame; they do no I/O and never block.

use super::codec::{
    Channels, CodecConfig, CodecError, Decoder, Encoded, Encoder, MAX_OPUS_PACKET, SampleRate,
};
use super::datagram::{DatagramError, Flags, Header, LegId, MAX_DATAGRAM, MediaDatagram};
use super::jitter::{JitterBuffer, JitterConfig, Playout};
use super::stats::LegStats;

/// Encodes one leg direction into media datagrams.
pub struct LegSender {
    leg: LegId,
    encoder: Encoder,
    seq: u16,
    timestamp: u32,
    talking: bool,
    packet: Vec<u8>,
    datagram: Vec<u8>,
}

impl LegSender {
    /// A sender for `leg` encoding with `config`.
    pub fn new(leg: LegId, config: CodecConfig) -> Result<Self, CodecError> {
        Ok(LegSender {
            leg,
            encoder: Encoder::new(config)?,
            seq: 0,
            timestamp: 0,
            talking: false,
            packet: vec![0; MAX_OPUS_PACKET],
            datagram: Vec::with_capacity(MAX_DATAGRAM),
        })
    }

    /// The leg this sender feeds.
    pub fn leg(&self) -> LegId {
        self.leg
    }

    /// Applies the loss the far end measured ([`LegReceiver::take_loss_report`]):
    /// Opus adds in-band FEC only when the expected loss is above zero.
    pub fn apply_loss_report(&mut self, percent: u8) {
        self.encoder.set_expected_loss_percent(percent);
    }

    /// Encodes one frame; returns the datagram to send, or `None` during a DTX pause.
    /// The slice is reused on the next call, so send (copy) it first.
    pub fn encode_frame(&mut self, pcm: &[i16]) -> Result<Option<&[u8]>, CodecError> {
        let ticks = self.encoder.config().frame.ticks();
        let ts = self.timestamp;
        self.timestamp = self.timestamp.wrapping_add(ticks);
        let len = match self.encoder.encode(pcm, &mut self.packet)? {
            Encoded::Silent => {
                self.talking = false;
                return Ok(None);
            }
            Encoded::Packet(len) => len,
        };
        let mut flags = Flags::empty();
        if !self.talking {
            flags = flags.union(Flags::MARKER);
            self.talking = true;
        }
        if self.encoder.fec_active() {
            flags = flags.union(Flags::FEC);
        }
        let header = Header {
            leg: self.leg,
            seq: self.seq,
            timestamp: ts,
            flags,
        };
        self.seq = self.seq.wrapping_add(1);
        header
            .write(&self.packet[..len], &mut self.datagram)
            .map_err(|_| CodecError::Opus("encoder produced an empty or oversized packet"))?;
        Ok(Some(&self.datagram))
    }
}

/// Where a played frame came from; lets tests and stats tell audio from repair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameSource {
    /// Decoded from its own packet.
    Decoded,
    /// Rebuilt from the next packet's in-band FEC.
    Fec,
    /// Packet-loss concealment.
    Concealed,
    /// Silence (not started, or a pause).
    Silence,
}

/// Receives one leg direction: jitter buffer plus decoder at the listener's rate.
pub struct LegReceiver {
    leg: LegId,
    jitter: JitterBuffer,
    decoder: Decoder,
    reported: LegStats,
}

impl LegReceiver {
    /// A receiver for `leg`, decoding at `rate` (Opus decodes any stream at any rate).
    pub fn new(leg: LegId, rate: SampleRate, jitter: JitterConfig) -> Result<Self, CodecError> {
        Ok(LegReceiver {
            leg,
            decoder: Decoder::new(rate, jitter.frame, Channels::Mono)?,
            jitter: JitterBuffer::new(jitter),
            reported: LegStats::default(),
        })
    }

    /// Loss since the previous report, in percent. Call control sends it to the far
    /// end (every few seconds) for [`LegSender::apply_loss_report`], closing the
    /// loop that turns FEC on only when the path loses packets.
    pub fn take_loss_report(&mut self) -> u8 {
        let now = *self.jitter.stats();
        let pct = now.loss_percent_since(&self.reported);
        self.reported = now;
        pct
    }

    /// Samples per played frame.
    pub fn frame_samples(&self) -> usize {
        self.decoder.frame_samples()
    }

    /// Statistics of this leg.
    pub fn stats(&self) -> &LegStats {
        self.jitter.stats()
    }

    /// Accepts a received datagram at `now_us`; malformed ones are counted and refused.
    pub fn on_datagram(&mut self, now_us: u64, bytes: &[u8]) -> Result<(), DatagramError> {
        let parsed = MediaDatagram::parse(bytes).and_then(|d| {
            if d.header.leg == self.leg {
                Ok(d)
            } else {
                Err(DatagramError::WrongLeg {
                    got: d.header.leg,
                    expected: self.leg,
                })
            }
        });
        match parsed {
            Ok(d) => {
                self.jitter.push(now_us, &d.header, d.payload);
                Ok(())
            }
            Err(e) => {
                self.jitter.count_malformed();
                Err(e)
            }
        }
    }

    /// Produces the next frame of audio into `out` (exactly one frame). A packet
    /// Opus cannot decode is counted as malformed and concealed.
    pub fn play_frame(&mut self, now_us: u64, out: &mut [i16]) -> Result<FrameSource, CodecError> {
        let (result, source) = match self.jitter.pop(now_us) {
            Playout::Packet(p) => (self.decoder.decode(p, out), FrameSource::Decoded),
            Playout::Fec(p) => (self.decoder.decode_fec(p, out), FrameSource::Fec),
            Playout::Conceal => (self.decoder.conceal(out), FrameSource::Concealed),
            Playout::Silence => {
                out.fill(0);
                return Ok(FrameSource::Silence);
            }
        };
        match result {
            Ok(()) => Ok(source),
            Err(CodecError::Opus(_)) => {
                self.jitter.count_malformed();
                self.decoder.conceal(out)?;
                Ok(FrameSource::Concealed)
            }
            Err(e) => Err(e),
        }
    }
}
