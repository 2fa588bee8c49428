//! Media transport shared by every node: Opus over QUIC datagrams.
//!
//! The path one way is: PCM frame → [`leg::LegSender`] (Opus encode + datagram
//! framing) → [`sender::MediaSender`] (a non-blocking datagram sink, quinn's
//! `send_datagram` in `tandem-node-io`; never queues stale audio) → network (or [`impair::ImpairedLink`] in tests) → [`leg::LegReceiver`]
//! (parse, [`jitter::JitterBuffer`], decode with FEC before PLC) → PCM frame.
//! All of it is pure logic driven by a caller-supplied clock, so it is tested
//! deterministically; `tandem_node_io::media::worker` runs it on a dedicated
//! audio thread.

pub mod analysis;
pub mod bench_support;
pub mod codec;
pub mod datagram;
pub mod impair;
pub mod jitter;
pub mod leg;
pub mod loopback;
pub mod sender;
pub mod stats;

pub use codec::{Channels, CodecConfig, CodecError, FrameDuration, SampleRate};
pub use datagram::{DatagramError, LegId, MediaDatagram};
pub use jitter::{JitterBuffer, JitterConfig, Playout};
pub use leg::{FrameSource, LegReceiver, LegSender};
pub use stats::{LegStats, MediaTotals, MediaTotalsError};
