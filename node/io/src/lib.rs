//! `tandem-node-io`: the I/O beside the sans-I/O core `tandem-node`.
//!
//! The core holds the wire types, codecs, routing, IVR, jitter buffer and the
//! call-control contract and depends on no runtime, socket or database crate, so
//! the compiler keeps it pure. Everything that touches the outside world lives
//! here, thin: the QUIC link with its TLS identities, media datagrams on a quinn
//! connection, the audio thread, the real clock and OS seeds, redb helpers and
//! log set-up.
//! quinn-proto / quinn is the model of the split.

pub mod clock;
pub mod durable;
pub mod link;
pub mod logging;
pub mod media;
pub mod private_files;
pub mod random;
pub mod storage;
