//! The center configuration an administrator saves (TOML, by file, CLI or
//! `PUT /api/v1/config`): parsed and validated whole. Any text gives a valid
//! configuration or a typed error, never a panic; a valid one survives a round
//! trip through TOML unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_node::calls::ValidCenterConfig;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(valid) = ValidCenterConfig::from_toml(text) else {
        return;
    };
    let Ok(again) = toml::to_string(valid.config()) else {
        return;
    };
    let reparsed = ValidCenterConfig::from_toml(&again)
        .unwrap_or_else(|e| panic!("a valid configuration written out is refused: {e}\n{again}"));
    assert_eq!(reparsed.config(), valid.config());
});
