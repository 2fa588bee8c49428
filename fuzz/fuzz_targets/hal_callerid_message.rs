//! Caller ID message bytes come off a phone line: any bytes must parse or give a
//! typed error, and what parses must re-encode to a message that parses the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_hal::dsp::callerid::CallerId;

fuzz_target!(|data: &[u8]| {
    if let Ok(id) = CallerId::parse(data) {
        if let Ok(bytes) = id.encode(false) {
            let again = CallerId::parse(&bytes).expect("our own encoding parses");
            assert_eq!(again.number, id.number);
            assert_eq!(again.name, id.name);
        }
    }
});
