//! `tandem-node`: what every node of a Tandem network shares.
//!
//! The wire protocol, the QUIC link with its identities, media transport and the
//! ACD routing engine live here so the coordinator and the gateways speak and decide
//! with exactly the same code.

pub mod calls;
pub mod durable;
pub mod inventory;
pub mod ivr;
pub mod link;
pub mod logging;
pub mod media;
pub mod names;
pub mod proto;
pub mod record;
pub mod routing;
pub mod storage;
