//! Media transport shared by every node: Opus over QUIC datagrams.
//!
//! The path one way is: PCM frame → [`leg::LegSender`] (Opus encode + datagram
//! framing) → [`sender::MediaSender`] (quinn `send_datagram`, never queues stale
//! audio) → network (or [`impair::ImpairedLink`] in tests) → [`leg::LegReceiver`]
//! (parse, [`jitter::JitterBuffer`], decode with FEC before PLC) → PCM frame.
//! Everything except `sender` is pure logic driven by a caller-supplied clock, so
//! it is tested deterministically; [`worker`] runs it on a dedicated audio thread.

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
pub mod worker;

pub use codec::{Channels, CodecConfig, CodecError, FrameDuration, SampleRate};
pub use datagram::{DatagramError, LegId, MediaDatagram};
pub use jitter::{JitterBuffer, JitterConfig, Playout};
pub use leg::{FrameSource, LegReceiver, LegSender};
pub use stats::{LegStats, MediaTotals, MediaTotalsError};
