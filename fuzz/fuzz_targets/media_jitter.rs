//! An adversarial packet schedule (any sequence numbers, timestamps, flags and
//! arrival times) against the jitter buffer: no panic, and buffered audio never
//! exceeds the configured bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_node::media::datagram::{Flags, Header, LegId};
use tandem_node::media::{FrameDuration, JitterBuffer, JitterConfig};

fuzz_target!(|data: &[u8]| {
    let cfg = JitterConfig::for_frame(FrameDuration::Ms20);
    let mut jb = JitterBuffer::new(cfg);
    let mut now = 0u64;
    for rec in data.chunks_exact(9) {
        now += u64::from(rec[0]) * 500;
        let header = Header {
            leg: LegId(1),
            seq: u16::from_be_bytes([rec[1], rec[2]]),
            timestamp: u32::from_be_bytes([rec[3], rec[4], rec[5], rec[6]]),
            flags: Flags::from_bits(rec[7] & 0b11).expect("known bits"),
        };
        jb.push(now, &header, &[0xfc, rec[8]]);
        if rec[7] & 0x80 != 0 {
            let _ = jb.pop(now);
            let delay = jb.stats().current_delay_ms;
            assert!(delay <= f64::from(cfg.max_delay_ms) + 20.0, "{delay}");
        }
    }
});
