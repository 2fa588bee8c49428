//! Line audio is whatever the exchange (or noise) puts there: the FSK and DTMF
//! caller-ID receivers and the DTMF detector must take any samples without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_hal::dsp::callerid::receiver::CallerIdReceiver;
use tandem_hal::dsp::dtmf::DtmfDetector;

fuzz_target!(|data: &[u8]| {
    let samples: Vec<i16> = data.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect();
    let mut rx = CallerIdReceiver::new();
    let mut det = DtmfDetector::new();
    for frame in samples.chunks(160) {
        rx.process(frame, |_| {});
        det.process(frame, |_| {});
    }
    let _ = rx.ring_started();
});
