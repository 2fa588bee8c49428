//! Choosing among several ready, eligible agents for one call.
//!
//! The engine hands over candidates already filtered (ready, in shift, proficient
//! enough, not recently declined) and listed in member-slot order; each strategy
//! is a pure function of that list plus a little memory, so every one of them is
//! testable without the rest of the engine.

use rand::Rng;
use rand::rngs::StdRng;

use super::model::{AgentId, Strategy};
use super::time::Timestamp;

/// A ready member of the ring's group, as seen by the strategies.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Candidate {
    pub agent: usize,
    pub id: AgentId,
    /// Position in the group's member list (linear order).
    pub slot: usize,
    pub priority: u8,
    pub proficiency: u8,
    pub answered: u64,
    pub idle_since: Timestamp,
}

/// What the strategies may remember or prefer besides the candidates.
pub(crate) struct Context<'a> {
    /// Slot of the member offered last in this queue and group (circular).
    pub last_slot: Option<usize>,
    /// Agents to try first, best first (VIP agents, then the caller's last agent).
    pub preferred: &'a [AgentId],
    pub rng: &'a mut StdRng,
}

/// Indexes into `candidates` of the agents to offer to: one, or all for ring-all.
/// `candidates` must be non-empty and in slot order.
pub(crate) fn choose(strategy: Strategy, candidates: &[Candidate], ctx: Context<'_>) -> Vec<usize> {
    let pick = |key: &dyn Fn(&Candidate) -> (u64, u64)| -> Vec<usize> {
        candidates
            .iter()
            .enumerate()
            .min_by_key(|(_, c)| (key(c), c.slot))
            .map(|(i, _)| vec![i])
            .unwrap_or_default()
    };
    match strategy {
        Strategy::RingAll => (0..candidates.len()).collect(),
        Strategy::Linear => pick(&|_| (0, 0)),
        Strategy::LongestIdle => pick(&|c| (c.idle_since.0, 0)),
        Strategy::FewestAnswered => pick(&|c| (c.answered, c.idle_since.0)),
        Strategy::AgentPriority => pick(&|c| (u64::from(c.priority), c.idle_since.0)),
        Strategy::Circular => {
            let after = ctx.last_slot.map_or(0, |s| s + 1);
            pick(&|c| (u64::from(c.slot < after), 0))
        }
        Strategy::CallerNumber => {
            let preferred = ctx
                .preferred
                .iter()
                .find_map(|p| candidates.iter().position(|c| c.id == *p));
            match preferred {
                Some(i) => vec![i],
                None => pick(&|c| (c.idle_since.0, 0)),
            }
        }
        Strategy::Random => vec![ctx.rng.random_range(0..candidates.len())],
        Strategy::ProficiencyWeighted => {
            let total: u64 = candidates.iter().map(|c| u64::from(c.proficiency)).sum();
            let mut ticket = ctx.rng.random_range(0..total.max(1));
            let chosen = candidates.iter().position(|c| {
                let w = u64::from(c.proficiency);
                if ticket < w {
                    true
                } else {
                    ticket -= w;
                    false
                }
            });
            vec![chosen.unwrap_or(0)]
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    fn cands() -> Vec<Candidate> {
        // slot, priority, proficiency, answered, idle_since
        [
            (0, 2, 1, 5, 300),
            (1, 1, 5, 2, 100),
            (2, 1, 3, 2, 200),
            (3, 3, 2, 9, 50),
        ]
        .iter()
        .map(|&(slot, priority, proficiency, answered, idle)| Candidate {
            agent: slot,
            id: AgentId(slot as u32 + 100),
            slot,
            priority,
            proficiency,
            answered,
            idle_since: Timestamp(idle),
        })
        .collect()
    }

    fn run(s: Strategy, last_slot: Option<usize>, preferred: &[AgentId]) -> Vec<usize> {
        let mut rng = StdRng::seed_from_u64(7);
        choose(
            s,
            &cands(),
            Context {
                last_slot,
                preferred,
                rng: &mut rng,
            },
        )
    }

    #[test]
    fn deterministic_strategies_pick_by_their_rule() {
        assert_eq!(run(Strategy::Linear, None, &[]), vec![0]);
        assert_eq!(run(Strategy::LongestIdle, None, &[]), vec![3]);
        assert_eq!(
            run(Strategy::FewestAnswered, None, &[]),
            vec![1],
            "tie on 2 answered: longer idle wins"
        );
        assert_eq!(run(Strategy::AgentPriority, None, &[]), vec![1]);
        assert_eq!(run(Strategy::RingAll, None, &[]), vec![0, 1, 2, 3]);
    }

    #[test]
    fn circular_continues_after_the_last_slot_and_wraps() {
        assert_eq!(run(Strategy::Circular, None, &[]), vec![0]);
        assert_eq!(run(Strategy::Circular, Some(1), &[]), vec![2]);
        assert_eq!(run(Strategy::Circular, Some(3), &[]), vec![0]);
    }

    #[test]
    fn caller_number_prefers_listed_agents_then_longest_idle() {
        assert_eq!(
            run(Strategy::CallerNumber, None, &[AgentId(999), AgentId(102)]),
            vec![2]
        );
        assert_eq!(run(Strategy::CallerNumber, None, &[AgentId(999)]), vec![3]);
    }

    #[test]
    fn weighted_random_follows_proficiency() {
        let mut rng = StdRng::seed_from_u64(42);
        let mut counts = [0u32; 4];
        let c = cands();
        for _ in 0..11_000 {
            let ctx = Context {
                last_slot: None,
                preferred: &[],
                rng: &mut rng,
            };
            counts[choose(Strategy::ProficiencyWeighted, &c, ctx)[0]] += 1;
        }
        // Weights 1:5:3:2 of 11 → expect 1000, 5000, 3000, 2000.
        for (got, want) in counts.iter().zip([1000.0, 5000.0, 3000.0, 2000.0]) {
            assert!(
                (f64::from(*got) - want).abs() < 4.0 * want.sqrt() + 50.0,
                "{counts:?}"
            );
        }
        let mut counts = [0u32; 4];
        for _ in 0..8_000 {
            let ctx = Context {
                last_slot: None,
                preferred: &[],
                rng: &mut rng,
            };
            counts[choose(Strategy::Random, &c, ctx)[0]] += 1;
        }
        assert!(
            counts.iter().all(|&n| (1_800..2_200).contains(&n)),
            "{counts:?}"
        );
    }
}
