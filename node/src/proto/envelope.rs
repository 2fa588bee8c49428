//! The versioned envelope around every control message.

use super::{KNOWN_KINDS, MIN_PROTOCOL_VERSION, Message, PROTOCOL_VERSION, ProtoError};

/// Identifies a message within a session so replies, rejections and retries can
/// refer to it. State-changing requests are idempotent by this id.
pub type MsgId = u64;

const VERSION_LEN: usize = 2;

/// A decoded control message with its envelope fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    pub version: u16,
    pub id: MsgId,
    pub message: Message,
}

/// Encodes a message into a frame payload at our protocol version.
pub fn encode_envelope(id: MsgId, message: &Message) -> Result<Vec<u8>, ProtoError> {
    let mut out = PROTOCOL_VERSION.to_be_bytes().to_vec();
    postcard::to_io(&(id, message), &mut out).map_err(|e| ProtoError::Malformed(e.to_string()))?;
    Ok(out)
}

/// Decodes a frame payload, classifying failures so the session can answer a
/// version mismatch or an unknown message kind instead of simply dropping the peer.
pub fn decode_envelope(payload: &[u8]) -> Result<Envelope, ProtoError> {
    let (version, body) = payload
        .split_first_chunk::<VERSION_LEN>()
        .ok_or_else(|| ProtoError::Malformed("payload shorter than the version field".into()))?;
    let version = u16::from_be_bytes(*version);
    if !(MIN_PROTOCOL_VERSION..=PROTOCOL_VERSION).contains(&version) {
        return Err(ProtoError::UnsupportedVersion {
            peer: version,
            min: MIN_PROTOCOL_VERSION,
            max: PROTOCOL_VERSION,
        });
    }
    match postcard::from_bytes::<(MsgId, Message)>(body) {
        Ok((id, message)) => Ok(Envelope {
            version,
            id,
            message,
        }),
        Err(err) => Err(classify_failure(body, err)),
    }
}

/// A newer peer's message decodes up to its kind; if that kind is beyond the ones we
/// know, it is unknown rather than malformed.
fn classify_failure(body: &[u8], err: postcard::Error) -> ProtoError {
    let peeked = postcard::take_from_bytes::<MsgId>(body)
        .and_then(|(id, rest)| postcard::take_from_bytes::<u32>(rest).map(|(kind, _)| (id, kind)));
    match peeked {
        Ok((id, kind)) if kind >= KNOWN_KINDS => ProtoError::UnknownKind { id, kind },
        _ => ProtoError::Malformed(err.to_string()),
    }
}
