//! Enrollment tokens are typed by people: any text must parse or give a typed error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_node::link::EnrollToken;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(token) = EnrollToken::parse(text) {
            assert_eq!(EnrollToken::parse(&token.encode()).ok(), Some(token));
        }
    }
});
