//! Media datagram framing: a fixed 12-byte header, then exactly one Opus packet.
//!
//! ```text
//!  0        1        2 .. 5        6 .. 7     8 .. 11        12 ..
//! version  flags    leg id (BE)   seq (BE)   timestamp (BE)  Opus packet
//! ```
//! - `leg id` names the media leg; the relay forwards on it alone, without decoding.
//! - `seq` counts transmitted datagrams (wrapping); gaps mean loss.
//! - `timestamp` counts 48 kHz ticks of the first sample (wrapping). During DTX it
//!   keeps advancing while `seq` does not, so a pause is never mistaken for loss.
//!
//! Parsing never panics: every malformed input maps to a [`DatagramError`].

use super::codec::MAX_OPUS_PACKET;

/// Header size in bytes.
pub const HEADER_LEN: usize = 12;

/// The only version this code speaks; a bump means a new header layout.
pub const VERSION: u8 = 1;

/// Largest datagram we build: header plus the largest single-frame Opus packet.
pub const MAX_DATAGRAM: usize = HEADER_LEN + MAX_OPUS_PACKET;

/// Identifies one media leg network-wide; allocated by call control.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LegId(pub u32);

impl std::fmt::Display for LegId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "leg-{}", self.0)
    }
}

/// Header flag bits. Unknown bits are rejected so a future meaning is never ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags(u8);

impl Flags {
    /// First packet of a talkspurt (after DTX or at start): the receiver may re-time playout.
    pub const MARKER: Flags = Flags(0b0000_0001);
    /// The Opus packet carries in-band FEC for the previous frame.
    pub const FEC: Flags = Flags(0b0000_0010);
    const KNOWN: u8 = 0b0000_0011;

    /// No flag set.
    pub const fn empty() -> Self {
        Flags(0)
    }

    /// Raw bits as sent on the wire.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether every bit of `other` is set.
    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Both sets of bits.
    #[must_use]
    pub const fn union(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }

    /// Accepts only known bits.
    pub fn from_bits(bits: u8) -> Result<Flags, DatagramError> {
        if bits & !Self::KNOWN != 0 {
            Err(DatagramError::UnknownFlags(bits))
        } else {
            Ok(Flags(bits))
        }
    }
}

/// Why a datagram was refused; counted per leg and dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DatagramError {
    /// Fewer bytes than a header.
    #[error("datagram of {0} bytes is shorter than the {HEADER_LEN}-byte header")]
    TooShort(usize),
    /// A header layout we do not know.
    #[error("unsupported media datagram version {0}")]
    Version(u8),
    /// Reserved flag bits set.
    #[error("unknown flag bits {0:#010b}")]
    UnknownFlags(u8),
    /// Header with no Opus packet.
    #[error("datagram carries no Opus packet")]
    EmptyPayload,
    /// Payload longer than one Opus frame can be.
    #[error("Opus packet of {0} bytes exceeds {MAX_OPUS_PACKET}")]
    PayloadTooLarge(usize),
    /// Valid datagram for a different leg than the one it was delivered to.
    #[error("datagram for {got} delivered to {expected}")]
    WrongLeg { got: LegId, expected: LegId },
}

/// Header fields of a media datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Media leg.
    pub leg: LegId,
    /// Transmission sequence number (wrapping).
    pub seq: u16,
    /// 48 kHz timestamp of the first sample (wrapping).
    pub timestamp: u32,
    /// Flag bits.
    pub flags: Flags,
}

/// A parsed datagram borrowing its payload from the received bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaDatagram<'a> {
    /// Header fields.
    pub header: Header,
    /// One Opus packet.
    pub payload: &'a [u8],
}

impl Header {
    /// Appends the header then `payload` to `out` (cleared first), reusing its allocation.
    pub fn write(&self, payload: &[u8], out: &mut Vec<u8>) -> Result<(), DatagramError> {
        if payload.is_empty() {
            return Err(DatagramError::EmptyPayload);
        }
        if payload.len() > MAX_OPUS_PACKET {
            return Err(DatagramError::PayloadTooLarge(payload.len()));
        }
        out.clear();
        out.push(VERSION);
        out.push(self.flags.bits());
        out.extend_from_slice(&self.leg.0.to_be_bytes());
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(payload);
        Ok(())
    }
}

/// Reads only the leg id: all the relay needs, so it never parses further.
pub fn peek_leg(bytes: &[u8]) -> Result<LegId, DatagramError> {
    let head: &[u8; HEADER_LEN] = bytes
        .get(..HEADER_LEN)
        .and_then(|h| h.try_into().ok())
        .ok_or(DatagramError::TooShort(bytes.len()))?;
    if head[0] != VERSION {
        return Err(DatagramError::Version(head[0]));
    }
    Ok(LegId(u32::from_be_bytes([
        head[2], head[3], head[4], head[5],
    ])))
}

impl<'a> MediaDatagram<'a> {
    /// Parses and validates a received datagram.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, DatagramError> {
        let leg = peek_leg(bytes)?;
        let flags = Flags::from_bits(bytes[1])?;
        let seq = u16::from_be_bytes([bytes[6], bytes[7]]);
        let timestamp = u32::from_be_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
        let payload = &bytes[HEADER_LEN..];
        if payload.is_empty() {
            return Err(DatagramError::EmptyPayload);
        }
        if payload.len() > MAX_OPUS_PACKET {
            return Err(DatagramError::PayloadTooLarge(payload.len()));
        }
        Ok(MediaDatagram {
            header: Header {
                leg,
                seq,
                timestamp,
                flags,
            },
            payload,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn header() -> Header {
        Header {
            leg: LegId(7),
            seq: 65535,
            timestamp: 0xdead_beef,
            flags: Flags::MARKER.union(Flags::FEC),
        }
    }

    #[test]
    fn typed_errors_name_the_problem() {
        let mut buf = Vec::new();
        header().write(&[1, 2, 3], &mut buf).unwrap();
        assert_eq!(
            MediaDatagram::parse(&buf[..5]),
            Err(DatagramError::TooShort(5))
        );
        let mut v = buf.clone();
        v[0] = 9;
        assert_eq!(MediaDatagram::parse(&v), Err(DatagramError::Version(9)));
        let mut v = buf.clone();
        v[1] = 0x80;
        assert_eq!(
            MediaDatagram::parse(&v),
            Err(DatagramError::UnknownFlags(0x80))
        );
        assert_eq!(
            MediaDatagram::parse(&buf[..HEADER_LEN]),
            Err(DatagramError::EmptyPayload)
        );
        assert_eq!(
            header().write(&[0; MAX_OPUS_PACKET + 1], &mut buf),
            Err(DatagramError::PayloadTooLarge(MAX_OPUS_PACKET + 1))
        );
        assert_eq!(
            header().write(&[], &mut buf),
            Err(DatagramError::EmptyPayload)
        );
    }

    proptest! {
        #[test]
        fn round_trip(leg: u32, seq: u16, ts: u32, flags in 0u8..4,
                      payload in proptest::collection::vec(any::<u8>(), 1..=MAX_OPUS_PACKET)) {
            let h = Header { leg: LegId(leg), seq, timestamp: ts, flags: Flags::from_bits(flags).unwrap() };
            let mut buf = Vec::new();
            h.write(&payload, &mut buf).unwrap();
            prop_assert_eq!(peek_leg(&buf), Ok(LegId(leg)));
            let d = MediaDatagram::parse(&buf).unwrap();
            prop_assert_eq!(d.header, h);
            prop_assert_eq!(d.payload, &payload[..]);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = MediaDatagram::parse(&bytes);
        }
    }
}
