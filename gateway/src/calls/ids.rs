//! Call ids chosen by the anchor: unique across the network without asking
//! anyone, so a branch cut off from the WAN can still number its calls.

use rand::Rng;
use tandem_node::routing::CallId;

/// `unix_ms << 16 | 16 random bits`: ordered by time, and two gateways starting
/// a call in the same millisecond collide with probability 1/65536 only.
pub fn new_call_id(now_ms: u64) -> CallId {
    let r: u16 = rand::rng().random();
    CallId((now_ms << 16) | u64::from(r))
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_follow_time() {
        assert!(super::new_call_id(2).0 > super::new_call_id(1).0);
    }
}
