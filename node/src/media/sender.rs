//! Sending media datagrams without ever queueing stale audio.
//!
//! Voice that arrives late is worse than voice that never arrives, so the audio
//! thread hands each datagram to a [`DatagramSink`] that never waits; quinn's
//! `send_datagram` (the sink `tandem-node-io` provides) discards the *oldest*
//! queued datagrams first when its send buffer is full. [`datagram_send_buffer`] keeps that buffer to a few frames,
//! so under congestion old audio is dropped instead of delaying new audio.
//! (`send_datagram_wait` would do the opposite and is never used here.)

use super::codec::FrameDuration;
use super::datagram::MAX_DATAGRAM;
use bytes::Bytes;

/// Frames of audio per leg quinn may hold before dropping the oldest.
pub const QUEUED_FRAMES_PER_LEG: usize = 3;

/// Why a datagram could not be handed to the transport.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Larger than the path allows right now.
    #[error("datagram of {size} bytes exceeds the path maximum {max}")]
    TooLarge { size: usize, max: usize },
    /// The peer or local config has datagrams disabled.
    #[error("datagrams are not supported on this connection")]
    Unsupported,
    /// The connection is gone.
    #[error("connection lost: {0}")]
    ConnectionLost(String),
}

/// Something that can take one datagram without blocking; quinn's connection in
/// production (`tandem_node_io::media::QuicDatagrams`), a recorder in tests.
pub trait DatagramSink {
    /// Hands off one datagram; must not block.
    fn send_datagram(&self, datagram: Bytes) -> Result<(), SendError>;
    /// Largest datagram accepted now (`None`: datagrams unsupported).
    fn max_datagram_size(&self) -> Option<usize>;
}

/// Counters of a [`MediaSender`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SenderStats {
    /// Datagrams handed to the transport.
    pub sent: u64,
    /// Datagrams refused (too large, unsupported, connection lost).
    pub refused: u64,
}

/// Sends media datagrams on one connection, checking size first and counting.
pub struct MediaSender<S> {
    sink: S,
    stats: SenderStats,
}

impl<S: DatagramSink> MediaSender<S> {
    /// Wraps a sink (normally a shared quinn connection).
    pub fn new(sink: S) -> Self {
        MediaSender {
            sink,
            stats: SenderStats::default(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> SenderStats {
        self.stats
    }

    /// Sends one datagram now or not at all; never waits.
    pub fn send(&mut self, datagram: &[u8]) -> Result<(), SendError> {
        let result = match self.sink.max_datagram_size() {
            None => Err(SendError::Unsupported),
            Some(max) if datagram.len() > max => Err(SendError::TooLarge {
                size: datagram.len(),
                max,
            }),
            Some(_) => self.sink.send_datagram(Bytes::copy_from_slice(datagram)),
        };
        match &result {
            Ok(()) => self.stats.sent += 1,
            Err(_) => self.stats.refused += 1,
        }
        result
    }
}

/// Bytes of datagram send buffer for a connection carrying media for up to `legs`
/// legs: [`QUEUED_FRAMES_PER_LEG`] frames per leg, so congestion drops old audio
/// instead of delaying it. The link's transport config
/// (`tandem_node_io::link::transport_config`) is sized with it.
pub fn datagram_send_buffer(frame: FrameDuration, legs: usize) -> usize {
    // A 20 ms voice datagram is ~60–120 bytes; size the buffer by the largest
    // realistic one so a burst of FEC-heavy frames still fits.
    let per_frame = match frame {
        FrameDuration::Ms10 => 160,
        FrameDuration::Ms20 => 240,
    };
    (per_frame * QUEUED_FRAMES_PER_LEG * legs.max(1)).max(MAX_DATAGRAM)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    struct Recorder {
        max: Option<usize>,
        sent: RefCell<Vec<Bytes>>,
    }

    impl DatagramSink for &Recorder {
        fn send_datagram(&self, datagram: Bytes) -> Result<(), SendError> {
            self.sent.borrow_mut().push(datagram);
            Ok(())
        }
        fn max_datagram_size(&self) -> Option<usize> {
            self.max
        }
    }

    #[test]
    fn refuses_oversized_and_unsupported_and_counts() {
        let rec = Recorder {
            max: Some(100),
            sent: RefCell::new(Vec::new()),
        };
        let mut s = MediaSender::new(&rec);
        assert_eq!(s.send(&[1; 50]), Ok(()));
        assert_eq!(
            s.send(&[1; 101]),
            Err(SendError::TooLarge {
                size: 101,
                max: 100
            })
        );
        assert_eq!(
            s.stats(),
            SenderStats {
                sent: 1,
                refused: 1
            }
        );
        assert_eq!(rec.sent.borrow().len(), 1);
        let off = Recorder {
            max: None,
            sent: RefCell::new(Vec::new()),
        };
        assert_eq!(
            MediaSender::new(&off).send(&[1]),
            Err(SendError::Unsupported)
        );
    }
}
