//! Opus encoder and decoder for one direction of one leg, over the pure-Rust
//! `opus-rs` crate.
//!
//! The wrapper fixes the choices every Tandem leg shares (VOIP application, mono,
//! 8 or 16 kHz, 10 or 20 ms frames, in-band FEC) so call control only picks a
//! [`CodecConfig`]. It also covers what `opus-rs` 0.1.40 does not expose:
//! - **DTX**: `opus-rs` has no `OPUS_SET_DTX`. [`Encoder`] implements
//!   discontinuous transmission itself: after [`DTX_HANGOVER_FRAMES`] frames below
//!   [`CodecConfig::dtx_threshold_dbfs`] it reports [`Encoded::Silent`] and the
//!   sender transmits nothing; the receiver plays silence.
//! - **Lookahead**: `opus-rs` has no `OPUS_GET_LOOKAHEAD`. [`Encoder::lookahead_samples`]
//!   returns libopus's formula for the VOIP application (Fs/400 + Fs/250, i.e.
//!   6.5 ms); the libopus oracle test checks it against `opus_encoder_ctl` and the
//!   round-trip test measures it by cross-correlation.

use opus_rs::{Application, OpusDecoder, OpusEncoder};

use super::analysis::rms_dbfs;

/// Largest Opus packet for one frame (RFC 6716 §3.2.1); bounds every buffer.
pub const MAX_OPUS_PACKET: usize = 1275;

/// Opus and the datagram timestamps count time at 48 kHz whatever the coded rate
/// (RFC 7587 does the same), so legs at 8 and 16 kHz share one clock.
pub const TICKS_PER_SECOND: u32 = 48_000;

/// Frames below the DTX threshold before transmission stops: long enough not to
/// clip the quiet tail of a word, short enough to save bandwidth in pauses.
pub const DTX_HANGOVER_FRAMES: u32 = 10;

/// Why a codec operation failed; every variant names the offending value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CodecError {
    /// The PCM slice does not hold exactly one frame.
    #[error("PCM frame has {got} samples, expected {expected}")]
    FrameLength { got: usize, expected: usize },
    /// Complexity is 0..=10 in Opus.
    #[error("complexity {0} out of range 0..=10")]
    Complexity(u8),
    /// `opus-rs` rejected the operation (its errors are static strings).
    #[error("opus-rs: {0}")]
    Opus(&'static str),
}

/// Audio sample rate of a leg end: the line side is narrowband, seats may be wideband.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleRate {
    /// 8 kHz: G.711 lines and narrowband seats.
    Narrowband,
    /// 16 kHz: wideband seats.
    Wideband,
}

impl SampleRate {
    /// Samples per second.
    pub fn hz(self) -> u32 {
        match self {
            SampleRate::Narrowband => 8_000,
            SampleRate::Wideband => 16_000,
        }
    }
}

/// Channel layout: legs are mono; recordings are stereo (caller left, agent right).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channels {
    /// One channel: every media leg.
    Mono,
    /// Two interleaved channels: call recordings.
    Stereo,
}

impl Channels {
    /// Number of channels.
    pub fn count(self) -> usize {
        match self {
            Channels::Mono => 1,
            Channels::Stereo => 2,
        }
    }
}

/// Opus frame length: 20 ms by default, 10 ms where latency matters more than bandwidth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameDuration {
    /// 10 ms: lower latency, more packets per second.
    Ms10,
    /// 20 ms: the default.
    Ms20,
}

impl FrameDuration {
    /// Length in milliseconds.
    pub fn millis(self) -> u32 {
        match self {
            FrameDuration::Ms10 => 10,
            FrameDuration::Ms20 => 20,
        }
    }

    /// Length in 48 kHz timestamp ticks.
    pub fn ticks(self) -> u32 {
        TICKS_PER_SECOND / 1000 * self.millis()
    }

    /// Length in microseconds, the unit of the clocks passed to the jitter buffer.
    pub fn micros(self) -> u64 {
        u64::from(self.millis()) * 1000
    }

    /// Samples in one frame at `rate`.
    pub fn samples(self, rate: SampleRate) -> usize {
        (rate.hz() / 1000 * self.millis()) as usize
    }
}

/// Everything that defines how one leg direction is encoded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CodecConfig {
    /// Rate of the PCM handed to the encoder.
    pub rate: SampleRate,
    /// Mono for legs, stereo for recordings.
    pub channels: Channels,
    /// Frame length.
    pub frame: FrameDuration,
    /// Opus complexity 0..=10 (WebRTC uses 9 on desktops, 5 on mobiles).
    pub complexity: u8,
    /// Target bitrate; FEC takes roughly 2/3 of it when loss is reported.
    pub bitrate_bps: u32,
    /// In-band FEC (LBRR): lets the receiver rebuild one lost frame from the next packet.
    pub fec: bool,
    /// Application-level DTX (see the module docs).
    pub dtx: bool,
    /// Frame RMS below which a frame counts as silent for DTX, in dBFS.
    pub dtx_threshold_dbfs: f32,
}

impl CodecConfig {
    /// Defaults for a leg at `rate`: 20 ms, FEC on, DTX off, and a bitrate that
    /// leaves room for FEC at each bandwidth.
    ///
    /// Complexity is chosen per bandwidth from PESQ through the path (30 ms jitter,
    /// seeds 7–16, figures in BENCHMARKS.md). Narrowband, the line side that every
    /// transcoded channel runs, uses complexity 1: it scored 4.35 at 0 % loss and
    /// 3.61 at 5 % (every seed ≥ 3.51), against 4.43 / 3.52 (seeds down to 3.28) at
    /// complexity 5, for about 1.9× the channels per core; complexities 2 and 3
    /// fell to 3.24 and 3.39 at 5 %. Wideband keeps complexity 5, because there
    /// complexity 1 loses a whole point (P.862.2: 3.49 against 4.26 at 0 % loss).
    /// Narrowband is 28 kbit/s because PESQ at 5 % loss averaged 3.29 at 20 kbit/s
    /// and 3.51 at 28 kbit/s; wideband is 36 kbit/s (P.862.2 at 5 % loss: 2.76 at
    /// 28, 2.94 at 36, 3.07 at 48 kbit/s).
    pub fn voice(rate: SampleRate) -> Self {
        CodecConfig {
            rate,
            channels: Channels::Mono,
            frame: FrameDuration::Ms20,
            complexity: match rate {
                SampleRate::Narrowband => 1,
                SampleRate::Wideband => 5,
            },
            bitrate_bps: match rate {
                SampleRate::Narrowband => 28_000,
                SampleRate::Wideband => 36_000,
            },
            fec: true,
            dtx: false,
            dtx_threshold_dbfs: -55.0,
        }
    }

    /// Samples in one frame, all channels interleaved.
    pub fn frame_samples(&self) -> usize {
        self.frame.samples(self.rate) * self.channels.count()
    }
}

/// What the encoder produced for one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoded {
    /// An Opus packet of this many bytes was written to the output buffer.
    Packet(usize),
    /// DTX: the frame is silence inside a pause; send nothing.
    Silent,
}

/// Opus encoder for one leg direction.
pub struct Encoder {
    inner: OpusEncoder,
    config: CodecConfig,
    quiet_frames: u32,
}

impl Encoder {
    /// Builds an encoder; fails on an out-of-range complexity.
    pub fn new(config: CodecConfig) -> Result<Self, CodecError> {
        if config.complexity > 10 {
            return Err(CodecError::Complexity(config.complexity));
        }
        let mut inner = OpusEncoder::new(
            config.rate.hz() as i32,
            config.channels.count(),
            Application::Voip,
        )
        .map_err(CodecError::Opus)?;
        inner.complexity = i32::from(config.complexity);
        inner.bitrate_bps = config.bitrate_bps.min(i32::MAX as u32) as i32;
        inner.use_cbr = false;
        inner.use_inband_fec = config.fec;
        Ok(Encoder {
            inner,
            config,
            quiet_frames: 0,
        })
    }

    /// The configuration this encoder was built with.
    pub fn config(&self) -> &CodecConfig {
        &self.config
    }

    /// Feeds the loss the far end measured, so FEC is spent only when it helps:
    /// Opus only adds LBRR when the expected loss is above zero.
    pub fn set_expected_loss_percent(&mut self, percent: u8) {
        self.inner.packet_loss_perc = i32::from(percent.min(100));
    }

    /// Whether packets now carry in-band FEC (enabled and loss reported).
    pub fn fec_active(&self) -> bool {
        self.config.fec && self.inner.packet_loss_perc > 0
    }

    /// Encoder lookahead in samples at the coded rate (libopus VOIP: Fs/400 + Fs/250).
    pub fn lookahead_samples(&self) -> usize {
        let hz = self.config.rate.hz() as usize;
        hz / 400 + hz / 250
    }

    /// Encodes exactly one frame of (interleaved) PCM into `out` (at least
    /// [`MAX_OPUS_PACKET`] bytes).
    pub fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> Result<Encoded, CodecError> {
        let expected = self.config.frame_samples();
        if pcm.len() != expected {
            return Err(CodecError::FrameLength {
                got: pcm.len(),
                expected,
            });
        }
        if self.config.dtx {
            if rms_dbfs(pcm) < f64::from(self.config.dtx_threshold_dbfs) {
                self.quiet_frames = self.quiet_frames.saturating_add(1);
            } else {
                self.quiet_frames = 0;
            }
            if self.quiet_frames > DTX_HANGOVER_FRAMES {
                return Ok(Encoded::Silent);
            }
        }
        let per_channel = self.config.frame.samples(self.config.rate);
        let len = self
            .inner
            .encode_i16(pcm, per_channel, out)
            .map_err(CodecError::Opus)?;
        Ok(Encoded::Packet(len))
    }
}

/// Opus decoder for one leg direction; decodes at the rate of the listening end
/// (Opus decodes any stream at any supported rate, so no resampler is needed).
pub struct Decoder {
    inner: OpusDecoder,
    rate: SampleRate,
    frame: FrameDuration,
    channels: Channels,
    scratch: Vec<f32>,
}

impl Decoder {
    /// Builds a decoder producing `frame`-long PCM at `rate`.
    pub fn new(
        rate: SampleRate,
        frame: FrameDuration,
        channels: Channels,
    ) -> Result<Self, CodecError> {
        let inner =
            OpusDecoder::new(rate.hz() as i32, channels.count()).map_err(CodecError::Opus)?;
        Ok(Decoder {
            inner,
            rate,
            frame,
            channels,
            scratch: vec![0.0; frame.samples(rate) * channels.count()],
        })
    }

    /// Samples per output frame, all channels interleaved.
    pub fn frame_samples(&self) -> usize {
        self.frame.samples(self.rate) * self.channels.count()
    }

    /// Decodes one received packet into `out` (exactly one frame).
    pub fn decode(&mut self, packet: &[u8], out: &mut [i16]) -> Result<(), CodecError> {
        let n = self.frame.samples(self.rate);
        self.check(out)?;
        let got = self
            .inner
            .decode(packet, n, &mut self.scratch)
            .map_err(CodecError::Opus)?;
        self.finish(got, out);
        Ok(())
    }

    /// Rebuilds the frame before `next_packet` from its in-band FEC (falls back to
    /// concealment inside Opus when the packet carries none).
    pub fn decode_fec(&mut self, next_packet: &[u8], out: &mut [i16]) -> Result<(), CodecError> {
        let n = self.frame.samples(self.rate);
        self.check(out)?;
        let got = self
            .inner
            .decode_fec(next_packet, n, &mut self.scratch)
            .map_err(CodecError::Opus)?;
        self.finish(got, out);
        Ok(())
    }

    /// Packet-loss concealment for one frame.
    pub fn conceal(&mut self, out: &mut [i16]) -> Result<(), CodecError> {
        self.decode(&[], out)
    }

    fn check(&self, out: &[i16]) -> Result<(), CodecError> {
        let expected = self.frame_samples();
        if out.len() != expected {
            return Err(CodecError::FrameLength {
                got: out.len(),
                expected,
            });
        }
        Ok(())
    }

    fn finish(&self, got: usize, out: &mut [i16]) {
        for (i, o) in out.iter_mut().enumerate() {
            *o = if i < got {
                f32_to_i16(self.scratch[i])
            } else {
                0
            };
        }
    }
}

/// Converts one float sample (±1.0 full scale) to PCM16 with saturation.
pub fn f32_to_i16(x: f32) -> i16 {
    (x * 32768.0).round().clamp(-32768.0, 32767.0) as i16
}
