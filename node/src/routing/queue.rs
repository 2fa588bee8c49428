//! A queue's runtime: its waiting calls in service order and its bullseye rings.
//!
//! The order key of a call never changes while it waits, even with priority aging:
//! with aging, effective priority is `p + age / X`, and comparing two calls by
//! `p·X − arrival` gives the same answer at every instant. So a `BTreeSet` stays
//! sorted without re-sorting, and a call returned from an unanswered offer is
//! re-inserted with its old key — exactly at its old place.

use std::collections::BTreeSet;

use super::config::QueueConfig;
use super::ewt::HandleTimeEstimate;
use super::model::CallId;
use super::time::Timestamp;

/// Sort key of a waiting call: smaller is served first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct QueueKey {
    /// Negated (aged) priority: lower = more urgent.
    pub rank: i64,
    /// First queue entry: older first among equal rank.
    pub arrival: Timestamp,
    /// Final tie-break, keeps keys unique.
    pub call: CallId,
}

impl QueueKey {
    /// The key of a call with caller `priority` that first queued at `arrival`.
    pub fn new(cfg: &QueueConfig, priority: u8, arrival: Timestamp, call: CallId) -> Self {
        let rank = match cfg.aging_ms_per_level {
            Some(per_level) => (arrival.0 as i64)
                .saturating_sub(i64::from(priority).saturating_mul(per_level as i64)),
            None => -i64::from(priority),
        };
        QueueKey {
            rank,
            arrival,
            call,
        }
    }
}

/// Effective caller priority at `now`, with aging applied.
pub(crate) fn effective_priority(
    cfg: &QueueConfig,
    priority: u8,
    arrival: Timestamp,
    now: Timestamp,
) -> f64 {
    let aged = match cfg.aging_ms_per_level {
        Some(per_level) => now.since(arrival) as f64 / per_level as f64,
        None => 0.0,
    };
    f64::from(priority) + aged
}

/// One bullseye ring resolved to a group index.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ring {
    pub group: usize,
    pub after_ms: u64,
    pub min_proficiency: u8,
}

/// A queue as the engine tracks it.
#[derive(Debug, Clone)]
pub(crate) struct QueueRt {
    pub cfg: QueueConfig,
    pub rings: Vec<Ring>,
    pub waiting: BTreeSet<QueueKey>,
    pub aht: HandleTimeEstimate,
}

impl QueueRt {
    /// How many rings are open for a call of age `age_ms` (rings open in config order).
    pub fn rings_open(&self, age_ms: u64) -> usize {
        self.rings.iter().filter(|r| r.after_ms <= age_ms).count()
    }

    /// Ring opening times still ahead for a call of age `age_ms`, earliest first.
    pub fn next_ring_after(&self, age_ms: u64) -> Option<u64> {
        self.rings
            .iter()
            .map(|r| r.after_ms)
            .filter(|&a| a > age_ms)
            .min()
    }

    /// 1-based position of the call with `key` among waiting calls.
    pub fn position(&self, key: &QueueKey) -> u32 {
        let ahead = self.waiting.range(..key).count();
        u32::try_from(ahead).unwrap_or(u32::MAX - 1) + 1
    }
}
