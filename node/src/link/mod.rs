//! The QUIC link between gateways and the coordinator.
//!
//! One QUIC connection per node session, mutual TLS with certificates from the
//! coordinator's private CA, one bidirectional control stream carrying
//! [`crate::proto`] frames, and QUIC datagrams for media.

pub mod backoff;
pub mod clock;
pub mod control;
pub mod identity;
pub mod tls;
pub mod token;

pub use backoff::Backoff;
pub use clock::{ClockSync, LinkHealth, now_us};
pub use control::{ControlStream, LinkError};
pub use identity::{CaFingerprint, NodeKey};
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

/// Transport settings shared by both ends so liveness detection is symmetric.
pub fn transport_config() -> quinn::TransportConfig {
    let mut t = quinn::TransportConfig::default();
    t.keep_alive_interval(Some(KEEP_ALIVE));
    // 3 s always fits a QUIC VarInt of milliseconds.
    if let Ok(idle) = quinn::IdleTimeout::try_from(IDLE_TIMEOUT) {
        t.max_idle_timeout(Some(idle));
    }
    t.datagram_receive_buffer_size(Some(DATAGRAM_RECEIVE_BUFFER));
    // A few frames per leg: stale audio is dropped rather than delivered late.
    t.datagram_send_buffer_size(crate::media::sender::datagram_send_buffer(
        crate::media::FrameDuration::Ms20,
        LEGS_PER_CONNECTION,
    ));
    // Control traffic is small: modest windows keep idle sessions cheap in memory.
    t.stream_receive_window(quinn::VarInt::from_u32(256 * 1024));
    t.receive_window(quinn::VarInt::from_u32(1024 * 1024));
    t.send_window(1024 * 1024);
    t.max_concurrent_bidi_streams(quinn::VarInt::from_u32(4));
    t.max_concurrent_uni_streams(quinn::VarInt::from_u32(4));
    t
}

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
