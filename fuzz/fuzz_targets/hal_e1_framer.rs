//! Octets from an E1 line: the framer takes any stream, and every frame it hands
//! out is aligned (FAS or NFAS in TS0).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_hal::e1::framing::Framer;

fuzz_target!(|data: &[u8]| {
    let mut rx = Framer::new();
    rx.push(data, |frame| {
        assert!(frame[0] & 0x7F == 0x1B || frame[0] & 0x40 != 0);
    });
});
