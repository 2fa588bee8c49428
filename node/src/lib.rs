//! `tandem-node`: what every node of a Tandem network shares, sans I/O.
//!
//! The wire protocol, the link's rules, the media pipeline, the ACD routing
//! engine, IVR and the call-control contract live here so the coordinator and the
//! gateways speak and decide with exactly the same code. This crate depends on no
//! runtime, socket or database crate (no tokio, quinn or redb): time, ids and
//! randomness are passed in by the drivers, and the I/O that drives these cores lives
//! in `tandem-node-io` beside it, the way quinn drives quinn-proto.

pub mod calls;
pub mod inventory;
pub mod ivr;
pub mod link;
pub mod media;
pub mod names;
pub mod proto;
pub mod record;
pub mod routing;
