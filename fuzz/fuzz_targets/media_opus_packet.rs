//! Arbitrary bytes as an Opus packet (a peer can send anything inside a
//! well-formed datagram): decode, FEC decode and concealment must not panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tandem_node::media::codec::{Channels, Decoder, FrameDuration, SampleRate};

fuzz_target!(|data: &[u8]| {
    for rate in [SampleRate::Narrowband, SampleRate::Wideband] {
        let Ok(mut dec) = Decoder::new(rate, FrameDuration::Ms20, Channels::Mono) else {
            return;
        };
        let mut pcm = vec![0i16; dec.frame_samples()];
        let _ = dec.decode(data, &mut pcm);
        let _ = dec.decode_fec(data, &mut pcm);
        let _ = dec.conceal(&mut pcm);
    }
});
