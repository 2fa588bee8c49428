//! quinn's connection as the core's [`DatagramSink`].
//!
//! `send_datagram` never waits and, when quinn's send buffer is full, discards
//! the *oldest* queued datagrams first, which is what live audio wants (see
//! [`tandem_node::media::sender`]).

use bytes::Bytes;
use tandem_node::media::sender::{DatagramSink, SendError};

/// A quinn connection carrying media datagrams.
#[derive(Clone, Debug)]
pub struct QuicDatagrams(pub quinn::Connection);

impl DatagramSink for QuicDatagrams {
    fn send_datagram(&self, datagram: Bytes) -> Result<(), SendError> {
        self.0.send_datagram(datagram).map_err(|e| match e {
            quinn::SendDatagramError::TooLarge => SendError::TooLarge {
                size: 0,
                max: self.0.max_datagram_size().unwrap_or(0),
            },
            quinn::SendDatagramError::UnsupportedByPeer | quinn::SendDatagramError::Disabled => {
                SendError::Unsupported
            }
            quinn::SendDatagramError::ConnectionLost(c) => SendError::ConnectionLost(c.to_string()),
        })
    }

    fn max_datagram_size(&self) -> Option<usize> {
        self.0.max_datagram_size()
    }
}
