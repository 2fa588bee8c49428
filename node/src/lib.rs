//! `tandem-node`: what every node of a Tandem network shares, sans I/O.
//!
//! The wire protocol, the link's rules, the media pipeline, the ACD routing
//! engine, IVR and the call-control contract live here so the coordinator and the
//! gateways speak and decide with exactly the same code. This crate depends on no
//! runtime, socket or database crate (no tokio, quinn or redb), and reads no
//! system clock or global randomness: time, ids and randomness come in from the
//! drivers through [`clock`], [`ids`] and [`random`]. The I/O that drives these cores lives
//! in `tandem-node-io` beside it, the way quinn drives quinn-proto.

pub mod calls;
pub mod clock;
pub mod ids;
pub mod inventory;
pub mod ivr;
pub mod limits;
pub mod link;
pub mod media;
pub mod names;
pub mod proto;
pub mod random;
pub mod record;
pub mod routing;
