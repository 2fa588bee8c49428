//! TS16 bytes from an E1 span: the CAS receiver takes any byte stream and only
//! reports valid channels and bits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_hal::e1::CasReceiver;

fuzz_target!(|data: &[u8]| {
    let mut rx = CasReceiver::new();
    for &b in data {
        rx.push(b, |channel, bits| {
            assert!((1..=30).contains(&channel));
            assert!((1..=15).contains(&bits.bits()));
        });
    }
});
