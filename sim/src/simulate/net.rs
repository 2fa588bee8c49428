//! The simulated WAN between each branch and the coordinator.
//!
//! One control session per branch, as in production: a reliable, ordered
//! stream (QUIC) whose messages are encoded with the real envelope and frame
//! codec ([`encode_envelope`], [`encode_frame`]) and decoded on arrival with
//! [`FrameDecoder`], so sizes are real and every message round-trips through
//! postcard. Loss on a reliable stream is not loss: a lost packet costs a
//! retransmission timeout, and later messages wait behind it (head-of-line
//! blocking). What a session loses is what is in flight when it dies (a WAN
//! cut or a crash): nothing sent on a dead session arrives.

use tandem_node::proto::{
    FrameDecoder, Message, MsgId, ProtoError, decode_envelope, encode_envelope, encode_frame,
};
use tandem_node::routing::Timestamp;

use super::rng::SimRng;

/// Retransmission timeout charged per lost packet.
const RTO_MS: u64 = 300;

/// Which way a message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Dir {
    /// Branch → coordinator.
    Up,
    /// Coordinator → branch.
    Down,
}

/// One branch's link.
#[derive(Debug)]
pub struct Link {
    /// One-way base latency.
    pub latency_ms: u64,
    /// The WAN carries packets.
    pub wan_up: bool,
    /// Current session number; 0 = none yet.
    pub epoch: u64,
    /// The session is established (handshake done, neither side saw it die).
    pub session: bool,
    /// Last delivery time per direction, for in-order delivery.
    last_up: Timestamp,
    last_down: Timestamp,
    next_id: MsgId,
}

/// Network figures for the summary.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct NetStats {
    /// Messages sent on live sessions.
    pub messages: u64,
    /// Their encoded frame bytes.
    pub bytes: u64,
    /// The largest frame.
    pub max_frame: u64,
    /// Packets retransmitted (loss).
    pub retransmissions: u64,
    /// Messages that died with their session.
    pub lost_with_session: u64,
}

/// Why a frame did not decode (never expected: it is our own encoding).
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// Envelope or postcard failure.
    #[error("protocol: {0}")]
    Proto(#[from] ProtoError),
    /// Frame failure.
    #[error("frame: {0}")]
    Frame(#[from] tandem_node::proto::FrameError),
    /// The frame held no message.
    #[error("empty frame")]
    Empty,
}

impl Link {
    /// A link with `latency_ms` one way, WAN up, no session.
    pub fn new(latency_ms: u64) -> Link {
        Link {
            latency_ms,
            wan_up: true,
            epoch: 0,
            session: false,
            last_up: Timestamp(0),
            last_down: Timestamp(0),
            next_id: 1,
        }
    }

    /// Encodes `message` for the current session and says when it arrives,
    /// with jitter and `loss` (probability per packet) applied.
    pub fn send(
        &mut self,
        now: Timestamp,
        dir: Dir,
        message: &Message,
        loss: f64,
        rng: &mut SimRng,
        stats: &mut NetStats,
    ) -> Result<(Timestamp, Vec<u8>), NetError> {
        let id = self.next_id;
        self.next_id += 1;
        let frame = encode_frame(&encode_envelope(id, message)?)?;
        stats.messages += 1;
        let len = frame.len() as u64;
        stats.bytes += len;
        stats.max_frame = stats.max_frame.max(len);
        let mut delay = self.latency_ms + rng.below(self.latency_ms / 4 + 1);
        // One packet per 1,200 bytes; each may need retransmitting.
        for _ in 0..len.div_ceil(1200) {
            while loss > 0.0 && rng.chance(loss) {
                stats.retransmissions += 1;
                delay += RTO_MS;
            }
        }
        let last = match dir {
            Dir::Up => &mut self.last_up,
            Dir::Down => &mut self.last_down,
        };
        let at = now.plus(delay).max(*last);
        *last = at;
        Ok((at, frame))
    }

    /// A new session: nothing of the old one arrives any more.
    pub fn new_session(&mut self) -> u64 {
        self.epoch += 1;
        self.session = true;
        self.epoch
    }
}

/// Decodes one frame as the receiving side's stream reader does.
pub fn decode(frame: &[u8]) -> Result<Message, NetError> {
    let mut decoder = FrameDecoder::new();
    decoder.extend(frame);
    let payload = decoder.next_frame()?.ok_or(NetError::Empty)?;
    Ok(decode_envelope(&payload)?.message)
}
