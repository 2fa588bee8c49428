//! DTMF caller-ID digit strings: any string decodes or gives a typed error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_hal::dsp::callerid::dtmf_cid;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(id) = dtmf_cid::decode(text) {
            let digits = dtmf_cid::encode(&id).expect("decoded numbers fit");
            assert_eq!(dtmf_cid::decode(&digits).expect("round trip"), id);
        }
    }
});
