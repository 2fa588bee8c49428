//! The control stream of a session: framed, versioned messages over one QUIC
//! bidirectional stream.

use tandem_node::proto::{
    Envelope, FrameDecoder, FrameError, Message, MsgId, ProtoError, RejectReason, decode_envelope,
    encode_envelope, encode_frame,
};

/// Why a session's link failed.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error(transparent)]
    Connection(#[from] quinn::ConnectionError),
    #[error(transparent)]
    Write(#[from] quinn::WriteError),
    #[error(transparent)]
    Read(#[from] quinn::ReadError),
    #[error("the peer closed the control stream")]
    Closed,
    #[error(transparent)]
    Proto(#[from] ProtoError),
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
    #[error("unexpected message: expected {expected}, got {got}")]
    Unexpected {
        expected: &'static str,
        got: &'static str,
    },
}

impl From<FrameError> for LinkError {
    fn from(e: FrameError) -> Self {
        LinkError::Proto(ProtoError::Frame(e))
    }
}

const READ_CHUNK: usize = 16 * 1024;

/// Both halves of a control stream. `recv` is cancel-safe (partial frames stay in
/// the decoder), so a session loop can `select!` on it alongside its commands.
pub struct ControlStream {
    send: quinn::SendStream,
    recv: quinn::RecvStream,
    decoder: FrameDecoder,
    next_id: MsgId,
}

impl ControlStream {
    pub fn new(send: quinn::SendStream, recv: quinn::RecvStream) -> Self {
        Self {
            send,
            recv,
            decoder: FrameDecoder::new(),
            next_id: 1,
        }
    }

    /// Opens the control stream on a connection (the gateway side).
    pub async fn open(conn: &quinn::Connection) -> Result<Self, LinkError> {
        let (send, recv) = conn.open_bi().await?;
        Ok(Self::new(send, recv))
    }

    /// Accepts the control stream of a connection (the coordinator side).
    pub async fn accept(conn: &quinn::Connection) -> Result<Self, LinkError> {
        let (send, recv) = conn.accept_bi().await?;
        Ok(Self::new(send, recv))
    }

    /// Sends a message with a fresh id, returning the id.
    pub async fn send(&mut self, message: &Message) -> Result<MsgId, LinkError> {
        let id = self.next_id;
        self.next_id += 1;
        self.send_with_id(id, message).await?;
        Ok(id)
    }

    async fn send_with_id(&mut self, id: MsgId, message: &Message) -> Result<(), LinkError> {
        let frame = encode_frame(&encode_envelope(id, message)?)?;
        self.send.write_all(&frame).await?;
        Ok(())
    }

    /// Writes raw bytes (tests use it to play a misbehaving peer).
    pub async fn send_raw(&mut self, bytes: &[u8]) -> Result<(), LinkError> {
        self.send.write_all(bytes).await?;
        Ok(())
    }

    /// Receives the next message. Protocol errors come back as
    /// [`LinkError::Proto`]; pass them to [`Self::answer`].
    pub async fn recv(&mut self) -> Result<Envelope, LinkError> {
        let mut chunk = [0u8; READ_CHUNK];
        loop {
            if let Some(payload) = self.decoder.next_frame()? {
                return Ok(decode_envelope(&payload)?);
            }
            match self.recv.read(&mut chunk).await? {
                Some(n) => self.decoder.extend(&chunk[..n]),
                None => return Err(LinkError::Closed),
            }
        }
    }

    /// Answers a protocol error the way the protocol promises (a typed rejection for
    /// an unknown kind, our version range for a version mismatch). Returns whether
    /// the session may continue.
    pub async fn answer(&mut self, err: &ProtoError) -> Result<bool, LinkError> {
        match err {
            ProtoError::UnknownKind { id, kind } => {
                let reject = Message::Reject {
                    request: *id,
                    reason: RejectReason::UnknownMessage { kind: *kind },
                };
                self.send(&reject).await?;
                Ok(true)
            }
            ProtoError::UnsupportedVersion { min, max, .. } => {
                let answer = Message::VersionUnsupported {
                    min: *min,
                    max: *max,
                };
                self.send(&answer).await?;
                Ok(false)
            }
            ProtoError::Frame(_) | ProtoError::Malformed(_) => Ok(false),
        }
    }

    /// Sorts the result of [`Self::recv`]: a message comes back as `Some`; an
    /// answerable protocol error is answered and gives `None` (keep going);
    /// anything else ends the session. Session loops call it in the body of their
    /// `select!` arm, so the answer is never cancelled half-written.
    pub async fn triage(
        &mut self,
        received: Result<Envelope, LinkError>,
    ) -> Result<Option<Envelope>, LinkError> {
        match received {
            Ok(env) => Ok(Some(env)),
            Err(LinkError::Proto(err)) => {
                if self.answer(&err).await? {
                    tracing::info!(%err, "answered a message this version does not know");
                    Ok(None)
                } else {
                    Err(LinkError::Proto(err))
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Receives until a message that is not an answerable protocol error arrives.
    pub async fn recv_answering(&mut self) -> Result<Envelope, LinkError> {
        loop {
            let received = self.recv().await;
            if let Some(env) = self.triage(received).await? {
                return Ok(env);
            }
        }
    }

    /// Finishes the send side and waits (at most `limit`) until the peer has
    /// received everything, so a last message such as a goodbye is not discarded
    /// by the connection close that follows.
    pub async fn finish(&mut self, limit: std::time::Duration) {
        // Finishing an already-closed stream is not an error worth reporting.
        let _ = self.send.finish();
        let _ = tokio::time::timeout(limit, self.send.stopped()).await;
    }
}
