//! The cross-queue fairness score: which waiting call an agent who serves several
//! queues takes next. See the module documentation of `routing` for the formula
//! and why each term is there.

use super::config::FairnessWeights;

/// The inputs of one (call, agent) pairing.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Claim {
    pub queue_priority: u8,
    /// Caller priority after VIP rules and aging.
    pub effective_priority: f64,
    pub age_ms: u64,
    pub proficiency: u8,
    pub agent_idle_ms: u64,
}

/// `Wq·queue priority + Wc·effective caller priority + Wa·age(s) + Wp·proficiency + Wi·idle(s)`.
pub(crate) fn score(w: &FairnessWeights, c: &Claim) -> f64 {
    w.queue_priority * f64::from(c.queue_priority)
        + w.caller_priority * c.effective_priority
        + w.age_per_sec * c.age_ms as f64 / 1000.0
        + w.proficiency * f64::from(c.proficiency)
        + w.idle_per_sec * c.agent_idle_ms as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_is_the_documented_weighted_sum() {
        let w = FairnessWeights::default();
        let c = Claim {
            queue_priority: 3,
            effective_priority: 2.5,
            age_ms: 40_000,
            proficiency: 4,
            agent_idle_ms: 10_000,
        };
        // 10·3 + 20·2.5 + 1·40 + 5·4 + 0.1·10 = 30 + 50 + 40 + 20 + 1
        assert!((score(&w, &c) - 141.0).abs() < 1e-9);
    }
}
