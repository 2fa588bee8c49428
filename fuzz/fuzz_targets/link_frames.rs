//! The control-stream decoder must turn any byte stream, in any chunking, into
//! frames, typed errors, or a request for more bytes: never a panic, never an
//! allocation beyond the frame limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_node::proto::{FrameDecoder, MAX_FRAME, decode_envelope};

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, bytes)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(chunk.max(1));
    let mut decoder = FrameDecoder::new();
    for piece in bytes.chunks(chunk) {
        decoder.extend(piece);
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => {
                    assert!(frame.len() <= MAX_FRAME);
                    let _ = decode_envelope(&frame);
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
});
