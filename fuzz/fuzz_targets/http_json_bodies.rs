//! The HTTP API's JSON request bodies, parsed and validated as the handlers do
//! it: accounts, agent commands, and every configuration section's PUT applied
//! to the demo configuration and validated whole. Any bytes give a value or a
//! client error (4xx) naming the problem: never a panic, never a 5xx.
//!
//! Input: one byte choosing the request, then its body; for a configuration
//! item, the key from the URL, a newline, then the body.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tandem_coordinator::accounts::AccountSpec;
use tandem_coordinator::http::{ApiError, apply_put, parse_json};
use tandem_node::calls::{AgentCommand, CenterConfig, ValidCenterConfig};

const SECTIONS: [&str; 8] = [
    "agents",
    "groups",
    "queues",
    "flows",
    "calendars",
    "sites",
    "blacklist",
    "vips",
];

fn demo() -> &'static CenterConfig {
    static DEMO: OnceLock<CenterConfig> = OnceLock::new();
    DEMO.get_or_init(|| {
        ValidCenterConfig::from_toml(include_str!("../../center-configs/demo.toml"))
            .map(|valid| valid.config().clone())
            .unwrap_or_else(|e| panic!("the demo configuration is invalid: {e}"))
    })
}

fn client_error(e: &ApiError) {
    assert!(e.status.is_client_error(), "{e:?}");
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    match usize::from(selector) % (2 + SECTIONS.len()) {
        0 => match parse_json::<AccountSpec>(body) {
            Ok(spec) => {
                let _ = spec.validate(true);
                let _ = spec.validate(false);
            }
            Err(e) => client_error(&e),
        },
        1 => {
            if let Err(e) = parse_json::<AgentCommand>(body) {
                client_error(&e);
            }
        }
        n => {
            let section = SECTIONS[n - 2];
            // Path segments reach the handler percent-decoded, as UTF-8.
            let (key, body) = match body.iter().position(|b| *b == b'\n') {
                Some(at) => (Some(String::from_utf8_lossy(&body[..at])), &body[at + 1..]),
                None => (None, body),
            };
            if let Err(e) = apply_put(demo(), section, key.as_deref(), body) {
                client_error(&e);
            }
        }
    }
});
