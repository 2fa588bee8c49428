//! One call's media at its anchor: the API call control drives.
//!
//! A [`CallMedia`] owns the call's [`Mixer`], one [`LegSender`]/[`LegReceiver`]
//! pair per remote participant, and optionally a [`RecordingTap`]. Participants
//! are either *local* (the line port, a same-box seat: PCM in and out directly,
//! no network) or *remote* (a seat or expert behind the relay: Opus datagrams).
//! The audio thread calls [`CallMedia::on_datagram`] for each received datagram
//! and [`CallMedia::tick`] once per frame; nothing here blocks or does I/O, the
//! datagrams to send are handed to a callback (normally `MediaSender::send`).

use tandem_node::media::datagram::{DatagramError, LegId, peek_leg};
use tandem_node::media::{
    CodecConfig, CodecError, FrameSource, JitterConfig, LegReceiver, LegSender, LegStats,
    SampleRate,
};

use super::mixer::{Mixer, MixerError, ParticipantId, PromptSource, Role};
use super::recorder::{RecorderError, RecordingTap};

/// Why an anchor operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum AnchorError {
    /// Mixer refused (unknown participant, bad role, frame length...).
    #[error(transparent)]
    Mixer(#[from] MixerError),
    /// Codec setup or decoding failed.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// A received datagram was malformed or for no leg of this call.
    #[error(transparent)]
    Datagram(#[from] DatagramError),
    /// The datagram names a leg that is not part of this call.
    #[error("{0} is not a leg of this call")]
    UnknownLeg(LegId),
    /// The leg id is already used by another participant of this call.
    #[error("{0} is already a leg of this call")]
    DuplicateLeg(LegId),
    /// A participant was used as the wrong kind (local vs remote).
    #[error("participant {0:?} is remote; its audio comes from datagrams")]
    NotLocal(ParticipantId),
    /// The recorder's queue is gone.
    #[error(transparent)]
    Recorder(#[from] RecorderError),
}

struct RemoteLeg {
    id: ParticipantId,
    leg: LegId,
    tx: LegSender,
    rx: LegReceiver,
    last: FrameSource,
}

struct Recording {
    tap: RecordingTap,
    caller: ParticipantId,
    agent: ParticipantId,
}

/// One call's media at the anchor.
pub struct CallMedia {
    mixer: Mixer,
    rate: SampleRate,
    jitter: JitterConfig,
    remote: Vec<RemoteLeg>,
    recording: Option<Recording>,
    pcm: Vec<i16>,
}

impl CallMedia {
    /// A call mixing at `rate` with `jitter` settings for remote legs (the line is
    /// narrowband, so the anchor mixes at 8 kHz; Opus carries it to wideband seats).
    pub fn new(rate: SampleRate, jitter: JitterConfig) -> Self {
        let frame = jitter.frame.samples(rate);
        CallMedia {
            mixer: Mixer::new(frame),
            rate,
            jitter,
            remote: Vec::new(),
            recording: None,
            pcm: vec![0; frame],
        }
    }

    /// Samples per frame at the mixing rate.
    pub fn frame_samples(&self) -> usize {
        self.mixer.frame_samples()
    }

    /// Adds the line port or a same-box seat: PCM in and out, never the network.
    pub fn add_local(&mut self, id: ParticipantId, role: Role) -> Result<(), AnchorError> {
        Ok(self.mixer.add(id, role)?)
    }

    /// Adds a participant reached over `leg` (created at the relay by call
    /// control). Audio to it is encoded with `codec` (at the mixing rate).
    pub fn add_remote(
        &mut self,
        id: ParticipantId,
        role: Role,
        leg: LegId,
        mut codec: CodecConfig,
    ) -> Result<(), AnchorError> {
        if self.remote.iter().any(|r| r.leg == leg) {
            return Err(AnchorError::DuplicateLeg(leg));
        }
        codec.rate = self.rate;
        codec.frame = self.jitter.frame;
        let tx = LegSender::new(leg, codec)?;
        let rx = LegReceiver::new(leg, self.rate, self.jitter)?;
        self.mixer.add(id, role)?;
        self.remote.push(RemoteLeg {
            id,
            leg,
            tx,
            rx,
            last: FrameSource::Silence,
        });
        Ok(())
    }

    /// Removes a participant (local or remote); its leg's final stats are returned
    /// for remote ones, for the CDR.
    pub fn remove(&mut self, id: ParticipantId) -> Result<Option<LegStats>, AnchorError> {
        self.mixer.remove(id)?;
        let stats = self
            .remote
            .iter()
            .position(|r| r.id == id)
            .map(|i| *self.remote.remove(i).rx.stats());
        Ok(stats)
    }

    /// Starts `leg`'s receiving side afresh when the leg is relayed again: a
    /// far end that was detached meanwhile sends a new stream (sequence and
    /// timestamps from zero) that the old jitter buffer would take for late
    /// packets. Returns the old receiver's final stats; `None` when it had
    /// received nothing yet (the first opening, racing the join).
    pub fn restart_receiver(&mut self, leg: LegId) -> Result<Option<LegStats>, AnchorError> {
        let r = self
            .remote
            .iter_mut()
            .find(|r| r.leg == leg)
            .ok_or(AnchorError::UnknownLeg(leg))?;
        if r.rx.stats().received == 0 {
            return Ok(None);
        }
        let fresh = LegReceiver::new(leg, self.rate, self.jitter)?;
        let old = std::mem::replace(&mut r.rx, fresh);
        r.last = FrameSource::Silence;
        Ok(Some(*old.stats()))
    }

    /// Monitor → whisper → barge, or back.
    pub fn set_role(&mut self, id: ParticipantId, role: Role) -> Result<(), AnchorError> {
        Ok(self.mixer.set_role(id, role)?)
    }

    /// Plays a prompt or tone into one participant's ear.
    pub fn play(
        &mut self,
        id: ParticipantId,
        prompt: Box<dyn PromptSource>,
    ) -> Result<(), AnchorError> {
        Ok(self.mixer.play(id, prompt)?)
    }

    /// Stops whatever is playing or queued for one participant.
    pub fn stop_prompts(&mut self, id: ParticipantId) -> Result<(), AnchorError> {
        Ok(self.mixer.stop_prompts(id)?)
    }

    /// Whether a prompt is still playing (or queued) for one participant: call
    /// control learns a prompt finished when this turns false.
    pub fn prompt_active(&self, id: ParticipantId) -> Result<bool, AnchorError> {
        Ok(self.mixer.prompt_active(id)?)
    }

    /// Whether `id` is a participant of this call.
    pub fn has(&self, id: ParticipantId) -> bool {
        self.mixer.role(id).is_ok()
    }

    /// Records from now on: `caller` left, `agent` right.
    pub fn start_recording(
        &mut self,
        tap: RecordingTap,
        caller: ParticipantId,
        agent: ParticipantId,
    ) {
        self.recording = Some(Recording { tap, caller, agent });
    }

    /// Stops recording; dropping the returned tap ends the file.
    pub fn stop_recording(&mut self) -> Option<RecordingTap> {
        self.recording.take().map(|r| r.tap)
    }

    /// A received datagram, routed to its leg's jitter buffer by leg id.
    pub fn on_datagram(&mut self, now_us: u64, bytes: &[u8]) -> Result<(), AnchorError> {
        let leg = peek_leg(bytes)?;
        let r = self
            .remote
            .iter_mut()
            .find(|r| r.leg == leg)
            .ok_or(AnchorError::UnknownLeg(leg))?;
        Ok(r.rx.on_datagram(now_us, bytes)?)
    }

    /// This frame's audio from a local participant (line or same-box seat).
    pub fn set_local_input(&mut self, id: ParticipantId, pcm: &[i16]) -> Result<(), AnchorError> {
        if self.remote.iter().any(|r| r.id == id) {
            return Err(AnchorError::NotLocal(id));
        }
        Ok(self.mixer.set_input(id, pcm)?)
    }

    /// One frame: pull remote audio from the jitter buffers, mix, record, and
    /// encode what each remote participant hears, handing each datagram to `send`.
    /// Local outputs are then in [`CallMedia::local_output`].
    pub fn tick(&mut self, now_us: u64, mut send: impl FnMut(&[u8])) -> Result<(), AnchorError> {
        for r in &mut self.remote {
            r.last = r.rx.play_frame(now_us, &mut self.pcm)?;
            self.mixer.set_input(r.id, &self.pcm)?;
        }
        self.mixer.mix();
        if let Some(rec) = &mut self.recording
            && let Err(err) = rec
                .tap
                .push(self.mixer.input(rec.caller)?, self.mixer.input(rec.agent)?)
        {
            // The recorder stopped (a full disk, an I/O error; what it wrote
            // is kept): the call goes on unrecorded, its audio must not stop
            // with it, and the next call's recording starts afresh.
            tracing::error!(%err, "recording stopped; the call continues unrecorded");
            self.recording = None;
        }
        for r in &mut self.remote {
            if let Some(d) = r.tx.encode_frame(self.mixer.output(r.id)?)? {
                send(d);
            }
        }
        Ok(())
    }

    /// What a local participant hears this frame (after [`CallMedia::tick`]).
    pub fn local_output(&self, id: ParticipantId) -> Result<&[i16], AnchorError> {
        Ok(self.mixer.output(id)?)
    }

    /// Receive statistics of a remote participant's leg.
    pub fn leg_stats(&self, id: ParticipantId) -> Option<&LegStats> {
        self.remote
            .iter()
            .find(|r| r.id == id)
            .map(|r| r.rx.stats())
    }

    /// Receive statistics of every remote leg: the call's share of the
    /// gateway's media totals (summed while live, kept when the call ends).
    pub fn remote_leg_stats(&self) -> impl Iterator<Item = &LegStats> {
        self.remote.iter().map(|r| r.rx.stats())
    }

    /// Where the last frame of a remote participant came from (decoded, FEC, PLC).
    pub fn last_source(&self, id: ParticipantId) -> Option<FrameSource> {
        self.remote.iter().find(|r| r.id == id).map(|r| r.last)
    }

    /// Loss report for each remote leg since the last call, to send to the far
    /// ends (see [`LegReceiver::take_loss_report`]).
    pub fn take_loss_reports(&mut self) -> Vec<(LegId, u8)> {
        self.remote
            .iter_mut()
            .map(|r| (r.leg, r.rx.take_loss_report()))
            .collect()
    }

    /// Applies the far end's loss report for `leg` to what we send on it.
    pub fn apply_loss_report(&mut self, leg: LegId, percent: u8) -> Result<(), AnchorError> {
        let r = self
            .remote
            .iter_mut()
            .find(|r| r.leg == leg)
            .ok_or(AnchorError::UnknownLeg(leg))?;
        r.tx.apply_loss_report(percent);
        Ok(())
    }
}
