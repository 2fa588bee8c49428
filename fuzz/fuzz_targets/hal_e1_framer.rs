//! Octets from an E1 line: the framer takes any stream without panicking, hands out
//! whole frames only while aligned, and never claims CRC-4 alignment without frame
//! alignment.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_hal::e1::framing::{FRAME_BYTES, Framer};

fuzz_target!(|data: &[u8]| {
    let mut rx = Framer::new();
    for chunk in data.chunks(FRAME_BYTES) {
        let mut delivered = 0;
        rx.push(chunk, |frame| {
            assert_eq!(frame.len(), FRAME_BYTES);
            delivered += 1;
        });
        let st = rx.status();
        assert!(!st.crc4_aligned || st.frame_aligned, "{st:?}");
        assert!(delivered <= 1);
    }
});
