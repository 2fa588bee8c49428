//! The QUIC link between gateways and the coordinator: what both ends agree on.
//!
//! One QUIC connection per node session, mutual TLS with certificates from the
//! coordinator's private CA, one bidirectional control stream carrying
//! [`crate::proto`] frames, and QUIC datagrams for media. This module holds the
//! pure part (constants, close codes, backoff, clock-offset estimation, tokens);
//! the sockets, quinn and rustls live in `tandem_node_io::link`.

pub mod backoff;
pub mod clock;
pub mod identity;
pub mod token;

pub use backoff::Backoff;
pub use clock::{ClockSync, LinkHealth, now_us};
pub use identity::CaFingerprint;
pub use token::{EnrollToken, TokenError};

use std::time::Duration;

/// ALPN protocol id: refuses connections from anything that is not a Tandem peer.
pub const ALPN: &[u8] = b"tandem/1";

/// The TLS server name every coordinator certificate carries. Gateways reach the
/// coordinator by whatever address the field tech typed; identity comes from the
/// pinned CA, not from DNS.
pub const COORDINATOR_SERVER_NAME: &str = "coordinator.tandem.invalid";

/// QUIC keep-alive period: two may be lost before [`IDLE_TIMEOUT`] fires.
pub const KEEP_ALIVE: Duration = Duration::from_secs(1);

/// Silence after which a connection is declared dead. The promise is "a dead link
/// is noticed within 5 s"; 3 s leaves room for a loaded host to be late.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(3);

/// Media legs one node connection is sized for: a full E1 span plus supervisors.
pub const LEGS_PER_CONNECTION: usize = 32;

/// Bytes of incoming datagrams buffered before the oldest are dropped.
pub const DATAGRAM_RECEIVE_BUFFER: usize = 64 * 1024;

/// Application close codes, so the far end knows whether to retry.
pub mod close {
    /// Orderly end (enrollment done, gateway stopping).
    pub const NORMAL: u32 = 0;
    /// The node was revoked: do not retry with this identity.
    pub const REVOKED: u32 = 1;
    /// The peer broke the protocol.
    pub const PROTOCOL_VIOLATION: u32 = 2;
    /// A newer session of the same node took over.
    pub const REPLACED: u32 = 3;
    /// The coordinator is going down: retry with backoff.
    pub const SHUTTING_DOWN: u32 = 4;
}
