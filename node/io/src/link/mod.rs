//! The QUIC link between gateways and the coordinator: quinn transport settings,
//! the control stream, TLS configurations and the node key. The protocol's
//! constants, close codes, backoff and clock-offset estimation are pure and live
//! in [`tandem_node::link`].

pub mod control;
pub mod identity;
pub mod tls;

pub use control::{ControlStream, LinkError};
pub use identity::{KeyError, NodeKey};

use tandem_node::link::{DATAGRAM_RECEIVE_BUFFER, IDLE_TIMEOUT, KEEP_ALIVE, LEGS_PER_CONNECTION};

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
    t.datagram_send_buffer_size(tandem_node::media::sender::datagram_send_buffer(
        tandem_node::media::FrameDuration::Ms20,
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
