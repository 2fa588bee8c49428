//! The control protocol spoken on the one bidirectional QUIC stream of every node
//! session.
//!
//! Layers, outside in:
//! 1. [`frame`]: a 4-byte big-endian length, then the payload; frames above
//!    [`MAX_FRAME`] are refused before any allocation so a hostile peer cannot make
//!    us buffer unbounded data.
//! 2. [`envelope`]: a 2-byte big-endian protocol version, then the postcard encoding
//!    of the message id and the [`Message`]. The version sits outside postcard so a
//!    peer of any version can read it and answer [`Message::VersionUnsupported`].
//! 3. [`message`]: the messages themselves. Variants are only ever appended; the
//!    first two are frozen forever because peers of every version must decode them.

pub mod envelope;
pub mod frame;
pub mod message;

pub use envelope::{Envelope, MsgId, decode_envelope, encode_envelope};
pub use frame::{FrameDecoder, FrameError, MAX_FRAME, encode_frame};
pub use message::*;

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u16 = 1;
/// The oldest protocol version this build still accepts.
pub const MIN_PROTOCOL_VERSION: u16 = 1;

/// Why a received control frame could not be used. Each case says what the receiver
/// does about it: answer and continue, or drop the peer.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProtoError {
    /// The framing itself is broken: the stream cannot be resynchronised, so the
    /// peer is dropped.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The peer speaks a version we do not; we answer with our supported range.
    #[error("peer speaks protocol version {peer}, this node speaks {min}..={max}")]
    UnsupportedVersion { peer: u16, min: u16, max: u16 },
    /// A message kind newer than this build; we answer with a typed rejection and
    /// keep the session.
    #[error("message {id} has kind {kind}, unknown to this protocol version")]
    UnknownKind { id: MsgId, kind: u32 },
    /// The payload does not decode as any message: the peer is misbehaving and is
    /// dropped.
    #[error("malformed message: {0}")]
    Malformed(String),
}

impl ProtoError {
    /// Whether the session can go on after answering this error.
    pub fn is_recoverable(&self) -> bool {
        matches!(self, ProtoError::UnknownKind { .. })
    }
}
