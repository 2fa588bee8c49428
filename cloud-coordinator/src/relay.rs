//! The media relay's forwarding table: pure logic, no sockets.
//!
//! Media that cannot stay on one box goes anchor → coordinator → seat. The relay
//! never decodes: it reads the leg id from the datagram header
//! ([`tandem_node::media::datagram::peek_leg`]) and forwards the bytes unchanged to
//! the other end of that leg. Legs exist only between [`RelayTable::create_leg`] and
//! [`RelayTable::tear_down`], both driven by call control; a datagram on a leg the
//! sending node is not an end of is refused, so one node can never inject audio
//! into another node's call.
//!
//! Node ids are generic so the table can be keyed by whatever identifies a
//! connection (the node's certificate name, a connection handle) once the QUIC
//! link is wired in.

use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::Hash;

use tandem_node::media::datagram::{DatagramError, LegId, peek_leg};

/// Why a leg operation or a datagram was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelayError<N: Debug> {
    /// Call control asked for a leg id already in use.
    #[error("{0} already exists")]
    LegExists(LegId),
    /// A leg must join two different nodes (same-box legs never reach the relay).
    #[error("{leg} would join node {node:?} to itself")]
    SameNode { leg: LegId, node: N },
    /// No such leg (never created, or torn down).
    #[error("unknown {0}")]
    UnknownLeg(LegId),
    /// The sending node is not an end of this leg.
    #[error("node {node:?} does not own {leg}")]
    NotOwner { leg: LegId, node: N },
    /// The datagram has no readable media header.
    #[error("malformed media datagram: {0}")]
    Malformed(#[from] DatagramError),
}

/// Counters for one leg, returned when it is torn down (for the CDR and QoS).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LegCounters {
    /// Datagrams forwarded from the first end to the second.
    pub a_to_b: u64,
    /// Datagrams forwarded from the second end to the first.
    pub b_to_a: u64,
}

/// Relay-wide counters of refused datagrams.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayCounters {
    /// Datagrams forwarded.
    pub forwarded: u64,
    /// Bytes of the datagrams forwarded (headers included).
    pub forwarded_bytes: u64,
    /// Datagrams without a readable header.
    pub malformed: u64,
    /// Datagrams on legs that do not exist.
    pub unknown_leg: u64,
    /// Datagrams from a node that is not an end of the leg.
    pub not_owner: u64,
}

#[derive(Debug)]
struct Route<N> {
    a: N,
    b: N,
    counters: LegCounters,
}

/// Leg id → its two ends.
#[derive(Debug)]
pub struct RelayTable<N> {
    legs: HashMap<LegId, Route<N>>,
    counters: RelayCounters,
}

impl<N> Default for RelayTable<N> {
    fn default() -> Self {
        RelayTable {
            legs: HashMap::new(),
            counters: RelayCounters::default(),
        }
    }
}

impl<N: Clone + Eq + Hash + Debug> RelayTable<N> {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Relay-wide counters.
    pub fn counters(&self) -> RelayCounters {
        self.counters
    }

    /// Legs currently relayed.
    pub fn len(&self) -> usize {
        self.legs.len()
    }

    /// Whether no leg is relayed.
    pub fn is_empty(&self) -> bool {
        self.legs.is_empty()
    }

    /// Call control: relay `leg` between nodes `a` and `b`.
    pub fn create_leg(&mut self, leg: LegId, a: N, b: N) -> Result<(), RelayError<N>> {
        if a == b {
            return Err(RelayError::SameNode { leg, node: a });
        }
        if self.legs.contains_key(&leg) {
            return Err(RelayError::LegExists(leg));
        }
        self.legs.insert(
            leg,
            Route {
                a,
                b,
                counters: LegCounters::default(),
            },
        );
        Ok(())
    }

    /// Call control: stop relaying `leg`; returns its two ends (to tell them) and
    /// what it carried.
    pub fn tear_down(&mut self, leg: LegId) -> Result<(N, N, LegCounters), RelayError<N>> {
        self.legs
            .remove(&leg)
            .map(|r| (r.a, r.b, r.counters))
            .ok_or(RelayError::UnknownLeg(leg))
    }

    /// A node went away: tear down every leg it was an end of; returns each leg
    /// with its other end, which must be told.
    pub fn tear_down_node(&mut self, node: &N) -> Vec<(LegId, N)> {
        let mut gone: Vec<LegId> = self
            .legs
            .iter()
            .filter(|(_, r)| r.a == *node || r.b == *node)
            .map(|(l, _)| *l)
            .collect();
        gone.sort();
        gone.into_iter()
            .filter_map(|l| {
                let r = self.legs.remove(&l)?;
                Some((l, if r.a == *node { r.b } else { r.a }))
            })
            .collect()
    }

    /// Where a datagram from `from` must go. The bytes are forwarded unchanged;
    /// only the header's leg id is read. Refusals are counted.
    pub fn route(&mut self, from: &N, datagram: &[u8]) -> Result<&N, RelayError<N>> {
        let leg = match peek_leg(datagram) {
            Ok(l) => l,
            Err(e) => {
                self.counters.malformed += 1;
                return Err(e.into());
            }
        };
        let Some(route) = self.legs.get_mut(&leg) else {
            self.counters.unknown_leg += 1;
            return Err(RelayError::UnknownLeg(leg));
        };
        if route.a == *from {
            route.counters.a_to_b += 1;
            self.counters.forwarded += 1;
            self.counters.forwarded_bytes += datagram.len() as u64;
            Ok(&route.b)
        } else if route.b == *from {
            route.counters.b_to_a += 1;
            self.counters.forwarded += 1;
            self.counters.forwarded_bytes += datagram.len() as u64;
            Ok(&route.a)
        } else {
            self.counters.not_owner += 1;
            Err(RelayError::NotOwner {
                leg,
                node: from.clone(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandem_node::media::datagram::{Flags, Header};

    fn datagram(leg: u32) -> Vec<u8> {
        let mut v = Vec::new();
        Header {
            leg: LegId(leg),
            seq: 1,
            timestamp: 960,
            flags: Flags::empty(),
        }
        .write(&[0xfc, 1, 2], &mut v)
        .unwrap();
        v
    }

    fn table() -> RelayTable<String> {
        let mut t = RelayTable::new();
        t.create_leg(LegId(1), "gw-shanghai".into(), "seat-anna".into())
            .unwrap();
        t.create_leg(LegId(2), "gw-beijing".into(), "seat-bo".into())
            .unwrap();
        t
    }

    #[test]
    fn forwards_both_ways_by_leg_id() {
        let mut t = table();
        assert_eq!(
            t.route(&"gw-shanghai".into(), &datagram(1)).unwrap(),
            "seat-anna"
        );
        assert_eq!(
            t.route(&"seat-anna".into(), &datagram(1)).unwrap(),
            "gw-shanghai"
        );
        assert_eq!(
            t.route(&"seat-bo".into(), &datagram(2)).unwrap(),
            "gw-beijing"
        );
        let (a, b, counters) = t.tear_down(LegId(1)).unwrap();
        assert_eq!((a.as_str(), b.as_str()), ("gw-shanghai", "seat-anna"));
        assert_eq!(
            counters,
            LegCounters {
                a_to_b: 1,
                b_to_a: 1
            }
        );
        assert_eq!(t.counters().forwarded, 3);
        assert!(t.counters().forwarded_bytes >= 3 * 12, "{:?}", t.counters());
    }

    #[test]
    fn refuses_foreign_unknown_and_malformed() {
        let mut t = table();
        // Beijing's gateway may not inject audio into Shanghai's call.
        assert_eq!(
            t.route(&"gw-beijing".into(), &datagram(1)),
            Err(RelayError::NotOwner {
                leg: LegId(1),
                node: "gw-beijing".into()
            })
        );
        assert_eq!(
            t.route(&"gw-beijing".into(), &datagram(9)),
            Err(RelayError::UnknownLeg(LegId(9)))
        );
        assert_eq!(
            t.route(&"gw-beijing".into(), &[1, 2, 3]),
            Err(RelayError::Malformed(DatagramError::TooShort(3)))
        );
        t.tear_down(LegId(2)).unwrap();
        assert_eq!(
            t.route(&"seat-bo".into(), &datagram(2)),
            Err(RelayError::UnknownLeg(LegId(2)))
        );
        let c = t.counters();
        assert_eq!((c.not_owner, c.unknown_leg, c.malformed), (1, 2, 1));
    }

    #[test]
    fn call_control_errors_and_node_loss() {
        let mut t = table();
        assert_eq!(
            t.create_leg(LegId(1), "a".into(), "b".into()),
            Err(RelayError::LegExists(LegId(1)))
        );
        assert_eq!(
            t.create_leg(LegId(3), "a".into(), "a".into()),
            Err(RelayError::SameNode {
                leg: LegId(3),
                node: "a".into()
            })
        );
        assert_eq!(t.tear_down(LegId(7)), Err(RelayError::UnknownLeg(LegId(7))));
        t.create_leg(LegId(3), "seat-anna".into(), "gw-beijing".into())
            .unwrap();
        assert_eq!(
            t.tear_down_node(&"seat-anna".into()),
            vec![
                (LegId(1), "gw-shanghai".into()),
                (LegId(3), "gw-beijing".into())
            ]
        );
        assert_eq!(t.len(), 1);
    }
}
