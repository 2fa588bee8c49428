//! Media I/O: quinn's connection as the core's datagram sink, and the audio
//! thread that drives the pure media pipeline on the real clock.

pub mod quic;
pub mod worker;

pub use quic::QuicDatagrams;
