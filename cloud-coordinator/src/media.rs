//! The coordinator's media relay: legs assigned by call control, datagrams
//! forwarded between their two nodes by leg id, never decoded.
//!
//! Forwarding runs in one task per session, reading that node's QUIC datagrams;
//! the relay table lock is held only for the hash lookup, never across a send.

use std::sync::Arc;

use crate::Coordinator;
use crate::authority::{SessionStrikes, Verdict};
use crate::relay::{LegCounters, RelayCounters, RelayError};
use tandem_node::link::close;
use tandem_node::media::LegId;
use tandem_node::names::NodeId;
use tandem_node::proto::{GoodbyeReason, LegOpen, Message};

/// Why call control could not open or close a relayed leg.
#[derive(Debug, thiserror::Error)]
pub enum LegError {
    #[error(transparent)]
    Relay(#[from] RelayError<NodeId>),
    #[error("node {0} is not online")]
    Offline(NodeId),
}

/// One end of a relayed leg: the node and its local line or seat.
#[derive(Debug, Clone, Copy)]
pub struct LegEnd<'a> {
    pub node: &'a NodeId,
    pub endpoint: &'a str,
}

impl Coordinator {
    fn relay(&self) -> std::sync::MutexGuard<'_, crate::relay::RelayTable<NodeId>> {
        // The table is plain data; a panic elsewhere cannot leave it half-written.
        self.inner.relay.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Relays `leg` of `call` between two nodes and tells both to attach it.
    pub fn open_leg(
        &self,
        leg: LegId,
        call: &str,
        a: LegEnd<'_>,
        b: LegEnd<'_>,
    ) -> Result<(), LegError> {
        for end in [a, b] {
            if self.registry().connection(end.node).is_none() {
                return Err(LegError::Offline(end.node.clone()));
            }
        }
        self.relay()
            .create_leg(leg, a.node.clone(), b.node.clone())?;
        for end in [a, b] {
            let open = Message::LegOpen(LegOpen {
                leg: leg.0,
                call: call.to_owned(),
                endpoint: end.endpoint.to_owned(),
            });
            if !self.registry().send(end.node, open) {
                let _ = self.close_leg(leg);
                return Err(LegError::Offline(end.node.clone()));
            }
        }
        tracing::info!(%leg, call, a = %a.node, b = %b.node, "relay leg open");
        Ok(())
    }

    /// Stops relaying `leg`, tells both ends, and returns what it carried.
    pub fn close_leg(&self, leg: LegId) -> Result<LegCounters, LegError> {
        let (a, b, counters) = self.relay().tear_down(leg)?;
        for node in [&a, &b] {
            self.registry().send(node, Message::LegClose { leg: leg.0 });
        }
        tracing::info!(%leg, a_to_b = counters.a_to_b, b_to_a = counters.b_to_a, "relay leg closed");
        Ok(counters)
    }

    /// Relay-wide counters (forwarded and refused datagrams).
    pub fn relay_counters(&self) -> RelayCounters {
        self.relay().counters()
    }

    /// A node's session ended: its legs go, and the other ends are told.
    pub(crate) fn node_gone(&self, node: &NodeId) {
        let gone = self.relay().tear_down_node(node);
        for (leg, other) in gone {
            tracing::info!(%leg, %node, "relay leg closed: node offline");
            self.registry()
                .send(&other, Message::LegClose { leg: leg.0 });
        }
    }
}

/// Forwards every datagram `node` sends to the other end of its leg. Media on
/// a leg the node is not an end of is a site-authority refusal; enough of
/// them end the session.
pub(crate) async fn forward_datagrams(
    coordinator: Coordinator,
    conn: quinn::Connection,
    node: NodeId,
    strikes: Arc<SessionStrikes>,
) {
    while let Ok(datagram) = conn.read_datagram().await {
        let routed = coordinator.relay().route(&node, &datagram).cloned();
        let destination = match routed {
            Ok(to) => to,
            Err(RelayError::NotOwner { leg, .. }) => {
                let verdict = strikes.refuse_media(coordinator.authority_refusals(), leg);
                if let Verdict::Drop(why) = verdict {
                    tracing::warn!(%why, "dropping the session");
                    coordinator.registry().kick(
                        &node,
                        GoodbyeReason::ProtocolViolation(why),
                        close::PROTOCOL_VIOLATION,
                    );
                    return;
                }
                continue;
            }
            Err(err) => {
                tracing::debug!(%err, "media datagram refused");
                continue;
            }
        };
        if let Some(to) = coordinator.registry().connection(&destination) {
            // Never waits: quinn drops the oldest queued datagram if it must.
            if let Err(err) = to.send_datagram(datagram) {
                tracing::debug!(%err, to = %destination, "media datagram not forwarded");
            }
        }
    }
}
