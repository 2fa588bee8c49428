//! The issue-6 benchmark workload, shared by the criterion bench
//! (`node/benches/routing.rs`) and `tandem-sim bench acd`, so both measure the
//! same world built the same way. Like the engine it is pure logic: it builds
//! and drives a [`Router`]; timing and memory are the callers' business.
//!
//! The world at the scale ([`Workload::default`]): 50,000 agents, 5,000
//! queues, one skill group per queue, every agent in 5 groups (250,000
//! memberships, ~50 members per group), each queue with 3 bullseye rings (own
//! group at 0 s, the next group at 30 s with proficiency ≥ 2, the group 7 further
//! at 60 s with proficiency ≥ 3), priority aging on, longest-idle strategy.
//!
//! - [`Workload::build`], call surplus: every agent busy, exactly `waiting` calls
//!   waiting. One [`World::round`] = a random connected call ends (the engine
//!   picks that agent's next call across the queues its groups serve, by the
//!   fairness score: an agent-side decision) and a new call arrives in a random
//!   queue (a call-side decision that inspects the ready members of its open
//!   rings, finds none and queues the call).
//! - [`Workload::build_surplus`], agent surplus: 80 % of agents busy, the rest
//!   ready, nobody waiting, so an arriving call is offered at once by the
//!   strategy.
//! - [`NaiveScan`]: the baseline, the O(queues × members) scan a design without
//!   per-group ready indexes does to find the queues of a freed agent
//!   (Asterisk's known bottleneck).
//!
//! Offers are accepted on the spot, inside the input that caused them, so a
//! measured decision includes the agent's accept.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use thiserror::Error;

use super::config::{
    AgentConfig, ConfigError, GroupConfig, Membership, QueueConfig, RoutingConfig,
    ServiceLevelTarget, TargetStep, WrapUpPolicy,
};
use super::engine::{RouteError, Router};
use super::events::{ActionKind, Input};
use super::model::{AgentId, CallId, Channel, GroupId, GroupKind, QueueId, Site, Strategy};
use super::time::Timestamp;

/// Benchmark time starts at Monday 2024-01-01 00:00 UTC.
const T0: u64 = 1_704_067_200_000;

/// The size of the benchmark world.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workload {
    /// Agents, all logged in.
    pub agents: u32,
    /// Queues; there are as many skill groups.
    pub queues: u32,
    /// Groups each agent belongs to (at most `queues`).
    pub groups_per_agent: u32,
    /// Calls waiting in the call-surplus world.
    pub waiting: usize,
    /// Seed of the random queue, priority and call choices.
    pub seed: u64,
}

impl Default for Workload {
    /// The figures: 50,000 agents, 5,000 queues, 20,000 waiting calls,
    /// 5 groups per agent.
    fn default() -> Self {
        Workload {
            agents: 50_000,
            queues: 5_000,
            groups_per_agent: 5,
            waiting: 20_000,
            seed: 1,
        }
    }
}

/// Why a benchmark world could not be built or driven.
#[derive(Debug, Error)]
pub enum BenchError {
    /// A size the world cannot have.
    #[error("{0} must be at least 1")]
    Empty(&'static str),
    /// The generated configuration was refused (a bug in this module).
    #[error("benchmark configuration refused: {0}")]
    Config(#[from] ConfigError),
    /// The engine refused an input (a bug in the engine or this module).
    #[error("engine refused a benchmark input: {0}")]
    Engine(#[from] RouteError),
    /// A call was to end while none is connected.
    #[error("no connected call to end")]
    NothingConnected,
}

impl Workload {
    /// The routing configuration of this world. Agent `a` is in the groups
    /// `a + k·stride` (mod groups) for `k < groups_per_agent`, with `stride =
    /// groups / groups_per_agent`, so its groups are distinct and spread out.
    pub fn config(&self) -> RoutingConfig {
        let groups = self.queues.max(1);
        let per_agent = self.groups_per_agent.clamp(1, groups);
        let stride = groups / per_agent;
        let mut members: Vec<Vec<Membership>> = vec![Vec::new(); groups as usize];
        for a in 0..self.agents {
            for k in 0..per_agent {
                let g = (a + k * stride) % groups;
                members[g as usize].push(Membership {
                    agent: AgentId(a),
                    priority: (k % 3) as u8,
                    proficiency: (1 + (a + k) % 5) as u8,
                    windows: Vec::new(),
                });
            }
        }
        let groups_cfg = members
            .into_iter()
            .zip(0..)
            .map(|(members, g)| GroupConfig {
                id: GroupId(g),
                name: format!("skill {g}"),
                kind: GroupKind::Skill,
                strategy: None,
                members,
            })
            .collect();
        let ring = |group: u32, after_ms: u64, min_proficiency: u8| TargetStep {
            group: GroupId(group % groups),
            after_ms,
            min_proficiency,
        };
        let queues = (0..self.queues)
            .map(|q| QueueConfig {
                id: QueueId(q),
                name: format!("queue {q}"),
                priority: (q % 10) as u8,
                service_level: ServiceLevelTarget::default(),
                max_waiting: None,
                business_hours: None,
                strategy: Strategy::LongestIdle,
                targets: vec![
                    ring(q, 0, 1),
                    ring(q + 1, 30_000, 2),
                    ring(q + 7, 60_000, 3),
                ],
                overflow: Vec::new(),
                wrap_up: WrapUpPolicy::default(),
                offer_timeout_ms: 15_000,
                retry_same_agent_after_ms: 5_000,
                aging_ms_per_level: Some(60_000),
                announce_every_ms: None,
                callback_when_ewt_over_ms: None,
                initial_aht_ms: 180_000,
            })
            .collect();
        let agents = (0..self.agents)
            .map(|a| AgentConfig {
                id: AgentId(a),
                name: format!("agent {a}"),
                site: Site::Home,
                max_chats: 1,
                max_missed_offers: 3,
                wrap_up: None,
            })
            .collect();
        RoutingConfig {
            queues,
            groups: groups_cfg,
            agents,
            ..RoutingConfig::default()
        }
    }

    /// Call surplus: every agent busy, exactly `waiting` calls waiting.
    pub fn build(&self) -> Result<World, BenchError> {
        let mut w = self.all_ready()?;
        // Calls until every agent is busy; calls reaching a queue whose first ring
        // is busy wait meanwhile. Then trim or top up to exactly `waiting`.
        while w.connected.len() < self.agents as usize {
            w.now += 1;
            w.arrive()?;
        }
        w.trim_waiting(self.waiting)?;
        while w.router.waiting_total() < self.waiting {
            w.now += 1;
            w.arrive()?;
        }
        Ok(w)
    }

    /// Agent surplus: 80 % of the agents busy, the rest ready, nobody waiting.
    pub fn build_surplus(&self) -> Result<World, BenchError> {
        let mut w = self.all_ready()?;
        let busy = self.agents as usize * 4 / 5;
        while w.connected.len() < busy {
            w.now += 1;
            w.arrive()?;
        }
        w.trim_waiting(0)?;
        Ok(w)
    }

    /// Every agent logged in and ready, no calls.
    fn all_ready(&self) -> Result<World, BenchError> {
        if self.agents == 0 {
            return Err(BenchError::Empty("agents"));
        }
        if self.queues == 0 {
            return Err(BenchError::Empty("queues"));
        }
        let mut w = World {
            router: Router::new(self.config(), Timestamp(T0))?,
            queues: self.queues,
            agents: self.agents,
            now: 0,
            next_call: 0,
            connected: Vec::new(),
            rng: StdRng::seed_from_u64(self.seed),
            offers: 0,
        };
        for a in 0..self.agents {
            w.input(Input::AgentLogin { agent: AgentId(a) })?;
            w.input(Input::AgentReady { agent: AgentId(a) })?;
        }
        Ok(w)
    }
}

/// The engine in a steady state plus the driver's view of connected calls.
pub struct World {
    router: Router,
    queues: u32,
    agents: u32,
    /// Milliseconds since the start of benchmark time.
    now: u64,
    next_call: u64,
    connected: Vec<CallId>,
    rng: StdRng,
    offers: u64,
}

impl World {
    /// The engine under test.
    pub fn router(&self) -> &Router {
        &self.router
    }

    /// Offers made (and accepted) so far.
    pub fn offers(&self) -> u64 {
        self.offers
    }

    /// Moves benchmark time on, so waits grow and rings open.
    pub fn advance(&mut self, ms: u64) {
        self.now += ms;
    }

    /// Feeds one input; every offer it causes is accepted at once.
    pub fn input(&mut self, input: Input) -> Result<(), BenchError> {
        let now = Timestamp(T0 + self.now);
        self.router.handle(now, input)?;
        self.router.drain_events();
        for a in self.router.drain_actions() {
            if let ActionKind::Offer { offer, call, .. } = a.kind {
                self.offers += 1;
                self.router.handle(now, Input::OfferAccepted { offer })?;
                self.connected.push(call);
            }
        }
        self.router.drain_events();
        Ok(())
    }

    /// A new call in a random queue, with a random caller priority 0–2.
    pub fn arrive(&mut self) -> Result<(), BenchError> {
        self.next_call += 1;
        let queue = QueueId(self.rng.random_range(0..self.queues));
        let priority = self.rng.random_range(0..3);
        self.input(Input::CallArrived {
            call: CallId(self.next_call),
            queue,
            caller: None,
            priority,
            channel: Channel::Voice,
        })
    }

    /// Ends a random connected call: its agent takes its next call at once.
    pub fn end_random_call(&mut self) -> Result<(), BenchError> {
        if self.connected.is_empty() {
            return Err(BenchError::NothingConnected);
        }
        let i = self.rng.random_range(0..self.connected.len());
        let call = self.connected.swap_remove(i);
        self.input(Input::CallEnded { call })
    }

    /// One round, 10 ms later: an agent frees up and takes a call; a call arrives.
    pub fn round(&mut self) -> Result<(), BenchError> {
        self.advance(10);
        self.end_random_call()?;
        self.arrive()
    }

    /// A random agent goes not ready (`ready == false`, reason "break") or ready:
    /// presence and ready-index updates only while the agent is on a call.
    pub fn agent_state_change(&mut self, ready: bool) -> Result<(), BenchError> {
        let agent = AgentId(self.rng.random_range(0..self.agents));
        self.input(if ready {
            Input::AgentReady { agent }
        } else {
            Input::AgentNotReady {
                agent,
                reason: "break".into(),
            }
        })
    }

    /// Abandons waiting calls (first queues first) until `keep` remain.
    fn trim_waiting(&mut self, keep: usize) -> Result<(), BenchError> {
        let mut excess = self.router.waiting_total().saturating_sub(keep);
        for q in 0..self.queues {
            for call in self.router.waiting(QueueId(q)) {
                if excess == 0 {
                    return Ok(());
                }
                self.input(Input::CallAbandoned { call })?;
                excess -= 1;
            }
        }
        Ok(())
    }
}

/// The baseline: what a design without per-group ready indexes does to find the
/// queues a freed agent serves — every queue, every ring, every member. Static
/// data only, so its cost is a lower bound of that design's.
pub struct NaiveScan<'a> {
    rings: Vec<Vec<&'a [Membership]>>,
}

impl<'a> NaiveScan<'a> {
    /// Each queue's rings as member lists of `config`.
    pub fn new(config: &'a RoutingConfig) -> Self {
        let groups: std::collections::HashMap<GroupId, &[Membership]> = config
            .groups
            .iter()
            .map(|g| (g.id, g.members.as_slice()))
            .collect();
        let rings = config
            .queues
            .iter()
            .map(|q| {
                q.targets
                    .iter()
                    .filter_map(|t| groups.get(&t.group).copied())
                    .collect()
            })
            .collect();
        NaiveScan { rings }
    }

    /// How many queues `agent` serves, found the naive way.
    pub fn queues_of(&self, agent: AgentId) -> usize {
        self.rings
            .iter()
            .filter(|q| {
                q.iter()
                    .any(|members| members.iter().any(|m| m.agent == agent))
            })
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Workload {
        Workload {
            agents: 200,
            queues: 40,
            groups_per_agent: 5,
            waiting: 100,
            seed: 3,
        }
    }

    #[test]
    fn call_surplus_world_is_in_steady_state() -> Result<(), BenchError> {
        let mut w = small().build()?;
        assert_eq!(w.router().waiting_total(), 100);
        assert_eq!(w.connected.len(), 200);
        for _ in 0..1_000 {
            w.round()?;
        }
        // Each round ends one call and adds one: none is lost or duplicated.
        assert_eq!(w.connected.len() + w.router().waiting_total(), 300);
        w.agent_state_change(false)?;
        w.agent_state_change(true)?;
        Ok(())
    }

    #[test]
    fn agent_surplus_world_has_ready_agents_and_no_queue() -> Result<(), BenchError> {
        let w = small().build_surplus()?;
        assert_eq!(w.router().waiting_total(), 0);
        assert_eq!(w.connected.len(), 160);
        Ok(())
    }

    #[test]
    fn naive_scan_finds_every_queue_of_an_agent() {
        let config = small().config();
        // 5 groups, each in the rings of 3 queues; with 40 queues no overlap.
        assert_eq!(NaiveScan::new(&config).queues_of(AgentId(17)), 15);
    }

    #[test]
    fn tiny_and_empty_worlds() {
        let one = Workload {
            agents: 1,
            queues: 1,
            groups_per_agent: 5,
            waiting: 3,
            seed: 1,
        };
        assert!(one.build().is_ok_and(|w| w.router().waiting_total() == 3));
        let none = Workload { agents: 0, ..one };
        assert!(matches!(none.build(), Err(BenchError::Empty("agents"))));
    }
}
