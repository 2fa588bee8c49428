//! Arbitrary bytes as a received media datagram: parsing, the relay's leg-id
//! peek and a receiving leg must refuse bad input with an error, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_node::media::datagram::{LegId, MediaDatagram, peek_leg};
use tandem_node::media::{FrameDuration, JitterConfig, LegReceiver, SampleRate};

fuzz_target!(|data: &[u8]| {
    if let Ok(d) = MediaDatagram::parse(data) {
        assert_eq!(peek_leg(data), Ok(d.header.leg));
        let mut out = Vec::new();
        d.header.write(d.payload, &mut out).expect("valid datagram re-encodes");
        assert_eq!(out, data);
    }
    let _ = peek_leg(data);
    let Ok(mut rx) = LegReceiver::new(
        LegId(1),
        SampleRate::Narrowband,
        JitterConfig::for_frame(FrameDuration::Ms20),
    ) else {
        return;
    };
    let _ = rx.on_datagram(0, data);
    let mut pcm = vec![0i16; rx.frame_samples()];
    for t in 0..3u64 {
        let _ = rx.play_frame(t * 20_000, &mut pcm);
    }
});
