//! Length-prefixed framing for the control stream.

/// Largest control frame accepted or sent. Control messages are small (inventory of a
/// big E1 box is a few KiB); 256 KiB leaves room for configuration pushes while
/// keeping a hostile peer from making us allocate much.
pub const MAX_FRAME: usize = 256 * 1024;

/// Length of the frame header.
pub const HEADER_LEN: usize = 4;

/// Framing failures. Both mean the byte stream can no longer be trusted.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone, Copy)]
pub enum FrameError {
    #[error("frame of {len} bytes exceeds the {max}-byte limit")]
    TooLarge { len: usize, max: usize },
    #[error("empty frame")]
    Empty,
}

/// Validates a frame length read from the wire.
pub fn check_len(len: u32) -> Result<usize, FrameError> {
    let len = len as usize;
    if len == 0 {
        Err(FrameError::Empty)
    } else if len > MAX_FRAME {
        Err(FrameError::TooLarge {
            len,
            max: MAX_FRAME,
        })
    } else {
        Ok(len)
    }
}

/// Prepends the length header to `payload`.
pub fn encode_frame(payload: &[u8]) -> Result<Vec<u8>, FrameError> {
    let len = u32::try_from(payload.len()).map_err(|_| FrameError::TooLarge {
        len: payload.len(),
        max: MAX_FRAME,
    })?;
    check_len(len)?;
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
    Ok(out)
}

/// Incremental decoder: feed bytes as they arrive, take whole frames out. Used where
/// bytes come in arbitrary chunks (and by the fuzz target); the async link reads
/// frames directly with [`check_len`].
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buf: Vec<u8>,
}

impl FrameDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends received bytes.
    pub fn extend(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Returns the next complete frame's payload, `None` if more bytes are needed.
    /// After an error the decoder must be discarded along with the stream.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        let Some(header) = self.buf.first_chunk::<HEADER_LEN>() else {
            return Ok(None);
        };
        let len = check_len(u32::from_be_bytes(*header))?;
        if self.buf.len() < HEADER_LEN + len {
            return Ok(None);
        }
        let payload = self.buf[HEADER_LEN..HEADER_LEN + len].to_vec();
        self.buf.drain(..HEADER_LEN + len);
        Ok(Some(payload))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn refuses_oversized_and_empty_frames() {
        let mut d = FrameDecoder::new();
        d.extend(&((MAX_FRAME as u32) + 1).to_be_bytes());
        assert_eq!(
            d.next_frame(),
            Err(FrameError::TooLarge {
                len: MAX_FRAME + 1,
                max: MAX_FRAME
            })
        );
        let mut d = FrameDecoder::new();
        d.extend(&[0, 0, 0, 0]);
        assert_eq!(d.next_frame(), Err(FrameError::Empty));
        assert!(encode_frame(&vec![0; MAX_FRAME + 1]).is_err());
    }

    proptest! {
        #[test]
        fn frames_survive_any_chunking(
            payloads in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..600), 1..8),
            chunk in 1usize..64,
        ) {
            let wire: Vec<u8> = payloads.iter().flat_map(|p| encode_frame(p).unwrap()).collect();
            let mut d = FrameDecoder::new();
            let mut out = Vec::new();
            for piece in wire.chunks(chunk) {
                d.extend(piece);
                while let Some(f) = d.next_frame().unwrap() {
                    out.push(f);
                }
            }
            prop_assert_eq!(out, payloads);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
            let mut d = FrameDecoder::new();
            d.extend(&bytes);
            while let Ok(Some(_)) = d.next_frame() {}
        }
    }
}
