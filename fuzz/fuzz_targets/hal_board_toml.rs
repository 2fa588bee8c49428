//! Board files are written by hand: any text parses or gives a clear error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_hal::board::BoardConfig;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = BoardConfig::parse(text, "fuzz.toml");
    }
});
