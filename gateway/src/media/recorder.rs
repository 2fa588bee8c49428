//! Call recording to Ogg Opus (RFC 7845), stereo: caller left, agent right.
//!
//! Two halves, so the audio thread never touches the disk:
//! - [`RecordingTap`] lives on the audio thread. [`RecordingTap::push`] copies one
//!   stereo frame into a bounded queue and returns at once; if the disk has stalled
//!   and the queue is full the frame is dropped and counted (never blocks).
//! - The recorder thread ([`start`]) encodes, muxes with [`OggOpusWriter`], and
//!   writes. It ends a page about every second and then, by [`FsyncPolicy`],
//!   `fsync`s, so a crash loses at most about a second. Frames dropped upstream are
//!   written as silence so the timeline (granule positions) stays true.
//!
//! The stream follows RFC 7845: page 1 holds only OpusHead (with the encoder's
//! real pre-skip), OpusTags starts page 2, audio starts on a fresh page, granule
//! positions count 48 kHz samples including pre-skip, and the final page trims
//! the extra frame encoded to flush the encoder's lookahead.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;

use ogg::writing::{PacketWriteEndInfo, PacketWriter};
use tandem_node::media::codec::{
    Channels, CodecConfig, CodecError, Encoded, Encoder, FrameDuration, MAX_OPUS_PACKET,
    SampleRate, TICKS_PER_SECOND,
};

/// Why recording failed.
#[derive(Debug, thiserror::Error)]
pub enum RecorderError {
    /// Creating, writing or syncing the file failed.
    #[error("recording file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The encoder refused the configuration.
    #[error("recording encoder: {0}")]
    Codec(#[from] CodecError),
    /// A tap frame of the wrong length.
    #[error("recording frame of {got} samples per side, expected {expected}")]
    FrameLength { got: usize, expected: usize },
    /// The recorder thread could not be started or died.
    #[error("recorder thread: {0}")]
    Thread(String),
}

/// When the recorder thread forces data to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// `fsync` after every page (about once a second): a crash loses ≤ 1 s.
    EveryPage,
    /// Leave it to the OS (tests, tmpfs).
    Never,
}

/// How a call is recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct RecorderConfig {
    /// Rate of the caller and agent audio handed to the tap.
    pub rate: SampleRate,
    /// Frame length of the tap.
    pub frame: FrameDuration,
    /// Stereo bitrate.
    pub bitrate_bps: u32,
    /// Audio per Ogg page, milliseconds (≈ the most a crash can lose).
    pub page_ms: u32,
    /// Durability policy.
    pub fsync: FsyncPolicy,
    /// Frames the tap may queue while the disk is slow (bounded; beyond it frames drop).
    pub queue_frames: usize,
    /// Extra `KEY=value` comments for OpusTags (call id, queue, agent...).
    pub tags: Vec<(String, String)>,
}

/// Opus complexity of recordings: full, for clean channel separation.
const RECORDING_COMPLEXITY: u8 = 9;

impl RecorderConfig {
    /// Narrowband 20 ms recording at 24 kbit/s, a page a second, fsync per page,
    /// 5 s of queue.
    pub fn call(rate: SampleRate) -> Self {
        RecorderConfig {
            rate,
            frame: FrameDuration::Ms20,
            bitrate_bps: 24_000,
            page_ms: 1000,
            fsync: FsyncPolicy::EveryPage,
            queue_frames: 250,
            tags: Vec::new(),
        }
    }

    fn codec(&self) -> CodecConfig {
        CodecConfig {
            channels: Channels::Stereo,
            bitrate_bps: self.bitrate_bps,
            frame: self.frame,
            fec: false,
            // Caller and agent must stay on their own channels; at the voice
            // legs' complexity 5 the stereo coder leaks one side into the other
            // (measured by `ten_second_call_is_valid_stereo_ogg_opus`).
            complexity: RECORDING_COMPLEXITY,
            ..CodecConfig::voice(self.rate)
        }
    }
}

/// Builds the OpusHead packet (RFC 7845 §5.1, mapping family 0).
fn opus_head(channels: u8, pre_skip: u16, input_rate: u32) -> Vec<u8> {
    let mut h = Vec::with_capacity(19);
    h.extend_from_slice(b"OpusHead");
    h.push(1);
    h.push(channels);
    h.extend_from_slice(&pre_skip.to_le_bytes());
    h.extend_from_slice(&input_rate.to_le_bytes());
    h.extend_from_slice(&0i16.to_le_bytes());
    h.push(0);
    h
}

/// Builds the OpusTags packet (RFC 7845 §5.2).
fn opus_tags(comments: &[String]) -> Vec<u8> {
    let vendor = concat!("tandem-gateway ", env!("CARGO_PKG_VERSION"));
    let mut t = Vec::new();
    t.extend_from_slice(b"OpusTags");
    t.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
    t.extend_from_slice(vendor.as_bytes());
    t.extend_from_slice(&(comments.len() as u32).to_le_bytes());
    for c in comments {
        t.extend_from_slice(&(c.len() as u32).to_le_bytes());
        t.extend_from_slice(c.as_bytes());
    }
    t
}

/// Encodes stereo frames into an Ogg Opus stream on any writer.
pub struct OggOpusWriter<W: Write> {
    out: PacketWriter<'static, W>,
    encoder: Encoder,
    serial: u32,
    pre_skip: u64,
    frame_ticks: u64,
    frames_per_page: u64,
    frames: u64,
    frame_len: usize,
    packet: Vec<u8>,
    pending: Option<Vec<u8>>,
}

impl<W: Write> OggOpusWriter<W> {
    /// Writes the two header pages and prepares to take audio.
    pub fn new(inner: W, cfg: &RecorderConfig, serial: u32) -> Result<Self, RecorderError> {
        let encoder = Encoder::new(cfg.codec())?;
        let pre_skip = encoder.lookahead_samples() as u64 * u64::from(TICKS_PER_SECOND)
            / u64::from(cfg.rate.hz());
        let mut comments = vec!["TANDEM_CHANNELS=caller-left,agent-right".to_owned()];
        comments.extend(cfg.tags.iter().map(|(k, v)| format!("{k}={v}")));
        let mut out = PacketWriter::new(inner);
        let io = |e| RecorderError::Io {
            path: PathBuf::new(),
            source: e,
        };
        out.write_packet(
            opus_head(2, pre_skip as u16, cfg.rate.hz()),
            serial,
            PacketWriteEndInfo::EndPage,
            0,
        )
        .map_err(io)?;
        out.write_packet(opus_tags(&comments), serial, PacketWriteEndInfo::EndPage, 0)
            .map_err(io)?;
        Ok(OggOpusWriter {
            out,
            encoder,
            serial,
            pre_skip,
            frame_ticks: u64::from(cfg.frame.ticks()),
            frames_per_page: u64::from((cfg.page_ms / cfg.frame.millis()).max(1)),
            frames: 0,
            frame_len: 2 * cfg.frame.samples(cfg.rate),
            packet: vec![0; MAX_OPUS_PACKET],
            pending: None,
        })
    }

    /// The underlying writer: what is there is what survives a crash.
    pub fn inner_mut(&mut self) -> &mut W {
        self.out.inner_mut()
    }

    /// The pre-skip written in OpusHead, in 48 kHz samples.
    pub fn pre_skip(&self) -> u64 {
        self.pre_skip
    }

    fn encode(&mut self, interleaved: &[i16]) -> Result<Vec<u8>, RecorderError> {
        match self.encoder.encode(interleaved, &mut self.packet)? {
            Encoded::Packet(n) => Ok(self.packet[..n].to_vec()),
            // DTX is off for recordings; an encoder that still says "silent" is a bug.
            Encoded::Silent => Err(RecorderError::Codec(CodecError::Opus(
                "recording encoder produced no packet",
            ))),
        }
    }

    /// Adds one interleaved stereo frame. Returns `true` when a page was completed
    /// (the moment to fsync). One packet is held back so the last one can carry
    /// the end-of-stream flag.
    pub fn write_frame(&mut self, interleaved: &[i16]) -> Result<bool, RecorderError> {
        let packet = self.encode(interleaved)?;
        let mut page_done = false;
        if let Some(prev) = self.pending.replace(packet) {
            // A page's granule is the count of 48 kHz samples decoded by its end
            // (pre-skip included, since the decoder emits it before the audio).
            let granule = (self.frames + 1) * self.frame_ticks;
            self.frames += 1;
            page_done = self.frames.is_multiple_of(self.frames_per_page);
            let end = if page_done {
                PacketWriteEndInfo::EndPage
            } else {
                PacketWriteEndInfo::NormalPacket
            };
            self.write(prev, end, granule)?;
        }
        Ok(page_done)
    }

    fn write(
        &mut self,
        packet: Vec<u8>,
        end: PacketWriteEndInfo,
        granule: u64,
    ) -> Result<(), RecorderError> {
        self.out
            .write_packet(packet, self.serial, end, granule)
            .map_err(|e| RecorderError::Io {
                path: PathBuf::new(),
                source: e,
            })
    }

    /// Flushes the encoder's lookahead with one silent frame, ends the stream with
    /// the exact duration, and returns the writer.
    pub fn finish(mut self) -> Result<W, RecorderError> {
        let silence = vec![0i16; self.frame_len];
        let audio_frames = self.frames + u64::from(self.pending.is_some());
        self.write_frame(&silence)?;
        if let Some(last) = self.pending.take() {
            // End trimming: pre-skip plus the real audio, so players stop exactly
            // at the last input sample (the flush frame is cut).
            let granule = self.pre_skip + audio_frames * self.frame_ticks;
            self.write(last, PacketWriteEndInfo::EndStream, granule)?;
        }
        Ok(self.out.into_inner())
    }
}

struct TapFrame {
    index: u64,
    pcm: Vec<i16>,
}

/// The audio thread's end of a recording: never blocks, never touches the disk.
pub struct RecordingTap {
    tx: SyncSender<TapFrame>,
    frame: usize,
    pushed: Arc<AtomicU64>,
    dropped: Arc<AtomicU64>,
}

impl RecordingTap {
    /// Queues one frame: `caller` goes left, `agent` right. Drops it (counted)
    /// when the recorder thread is behind.
    pub fn push(&mut self, caller: &[i16], agent: &[i16]) -> Result<(), RecorderError> {
        for side in [caller, agent] {
            if side.len() != self.frame {
                return Err(RecorderError::FrameLength {
                    got: side.len(),
                    expected: self.frame,
                });
            }
        }
        let mut pcm = Vec::with_capacity(2 * self.frame);
        for (&l, &r) in caller.iter().zip(agent) {
            pcm.push(l);
            pcm.push(r);
        }
        let index = self.pushed.fetch_add(1, Ordering::Relaxed);
        match self.tx.try_send(TapFrame { index, pcm }) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(TrySendError::Disconnected(_)) => {
                Err(RecorderError::Thread("recorder thread has stopped".into()))
            }
        }
    }

    /// Frames dropped because the recorder thread was behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// What a finished recording holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingSummary {
    /// The file written.
    pub path: PathBuf,
    /// Frames of audio (including silence written for dropped frames).
    pub frames: u64,
    /// Frames that were dropped at the tap and written as silence.
    pub gap_frames: u64,
}

/// The recorder thread; [`Recording::finish`] ends the file and returns its summary.
pub struct Recording {
    handle: JoinHandle<Result<RecordingSummary, RecorderError>>,
}

impl Recording {
    /// Waits for the recorder thread to drain its queue and close the stream.
    /// Drop the [`RecordingTap`] first (that is what ends the recording).
    pub fn finish(self) -> Result<RecordingSummary, RecorderError> {
        self.handle
            .join()
            .map_err(|_| RecorderError::Thread("recorder thread panicked".into()))?
    }
}

/// Starts recording to `path` as Ogg stream `serial` (the caller chooses it, so
/// a recording's bytes depend on no global randomness): returns the audio
/// thread's tap and the recorder.
pub fn start(
    path: &Path,
    cfg: RecorderConfig,
    serial: u32,
) -> Result<(RecordingTap, Recording), RecorderError> {
    let io = |source| RecorderError::Io {
        path: path.to_owned(),
        source,
    };
    let file = tandem_node_io::private_files::create(path).map_err(io)?;
    let writer = OggOpusWriter::new(file, &cfg, serial).map_err(|e| with_path(e, path))?;
    let frame = cfg.frame.samples(cfg.rate);
    let (tx, rx) = sync_channel(cfg.queue_frames.max(1));
    let dropped = Arc::new(AtomicU64::new(0));
    let pushed = Arc::new(AtomicU64::new(0));
    let total = Arc::clone(&pushed);
    let owned = path.to_owned();
    let fsync = cfg.fsync;
    let handle = std::thread::Builder::new()
        .name("tandem-recorder".into())
        .spawn(move || run_writer(writer, rx, frame, fsync, owned, &total))
        .map_err(|e| RecorderError::Thread(e.to_string()))?;
    Ok((
        RecordingTap {
            tx,
            frame,
            pushed,
            dropped,
        },
        Recording { handle },
    ))
}

fn with_path(e: RecorderError, path: &Path) -> RecorderError {
    match e {
        RecorderError::Io { source, .. } => RecorderError::Io {
            path: path.to_owned(),
            source,
        },
        other => other,
    }
}

fn run_writer(
    mut writer: OggOpusWriter<File>,
    rx: Receiver<TapFrame>,
    frame: usize,
    fsync: FsyncPolicy,
    path: PathBuf,
    pushed: &AtomicU64,
) -> Result<RecordingSummary, RecorderError> {
    let silence = vec![0i16; 2 * frame];
    let mut expected = 0u64;
    let mut gap_frames = 0u64;
    let sync = |w: &mut OggOpusWriter<File>| -> Result<(), RecorderError> {
        if fsync == FsyncPolicy::EveryPage {
            w.out
                .inner_mut()
                .sync_data()
                .map_err(|source| RecorderError::Io {
                    path: path.clone(),
                    source,
                })?;
        }
        Ok(())
    };
    let write = |w: &mut OggOpusWriter<File>, pcm: &[i16]| -> Result<(), RecorderError> {
        if w.write_frame(pcm).map_err(|e| with_path(e, &path))? {
            sync(w)?;
        }
        Ok(())
    };
    // Frames dropped at the tap (indices skipped) become silence.
    for f in rx {
        while expected < f.index {
            gap_frames += 1;
            expected += 1;
            write(&mut writer, &silence)?;
        }
        expected = f.index + 1;
        write(&mut writer, &f.pcm)?;
    }
    // The tap is gone: frames it dropped after the last queued one are silence too.
    while expected < pushed.load(Ordering::Relaxed) {
        gap_frames += 1;
        expected += 1;
        write(&mut writer, &silence)?;
    }
    let mut file = writer.finish().map_err(|e| with_path(e, &path))?;
    file.flush().map_err(|source| RecorderError::Io {
        path: path.clone(),
        source,
    })?;
    if fsync == FsyncPolicy::EveryPage {
        file.sync_all().map_err(|source| RecorderError::Io {
            path: path.clone(),
            source,
        })?;
    }
    Ok(RecordingSummary {
        path,
        frames: expected,
        gap_frames,
    })
}
