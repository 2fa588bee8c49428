//! ACD routing engine at issue-6 scale: 50,000 agents, 5,000 queues, 20,000
//! waiting calls, every agent in 5 groups (250,000 memberships).
//!
//! Steady state: every agent busy, 4 calls waiting per queue on average. One
//! round = an agent's call ends (the engine picks that agent's next call across
//! its 5 groups' queues: an agent-side decision), the agent answers, and a new
//! call arrives (the engine checks the ready members of the queue's open rings:
//! a call-side decision, which here finds nobody and queues the call).
//!
//! Printed before criterion runs: decisions per second, p50/p99/max latency per
//! input kind, the cost of an agent state change, memory, and the ratio against a
//! naive baseline measured in the same run: the O(queues × members) scan a
//! design without per-group ready indexes does to find an agent's queues
//! (Asterisk's known bottleneck) — only the scan, so the ratio is a lower bound.

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, criterion_group};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tandem_node::routing::*;

const AGENTS: u32 = 50_000;
const QUEUES: u32 = 5_000;
const GROUPS: u32 = 5_000;
const GROUPS_PER_AGENT: u32 = 5;
const WAITING: u64 = 20_000;
const T0: u64 = 1_704_067_200_000;

fn config() -> RoutingConfig {
    let mut members: Vec<Vec<Membership>> = vec![Vec::new(); GROUPS as usize];
    for a in 0..AGENTS {
        for k in 0..GROUPS_PER_AGENT {
            // Spread each agent over 5 distinct groups.
            let g = (a + k * (GROUPS / GROUPS_PER_AGENT + 1)) % GROUPS;
            members[g as usize].push(Membership {
                agent: AgentId(a),
                priority: (k % 3) as u8,
                proficiency: (1 + (a + k) % 5) as u8,
                windows: Vec::new(),
            });
        }
    }
    let groups = members
        .into_iter()
        .enumerate()
        .map(|(g, members)| GroupConfig {
            id: GroupId(g as u32),
            name: format!("skill {g}"),
            kind: GroupKind::Skill,
            strategy: None,
            members,
        })
        .collect();
    let queues = (0..QUEUES)
        .map(|q| QueueConfig {
            id: QueueId(q),
            name: format!("queue {q}"),
            priority: (q % 10) as u8,
            service_level: ServiceLevelTarget::default(),
            max_waiting: None,
            business_hours: None,
            strategy: Strategy::LongestIdle,
            targets: vec![
                TargetStep {
                    group: GroupId(q % GROUPS),
                    after_ms: 0,
                    min_proficiency: 1,
                },
                TargetStep {
                    group: GroupId((q + 1) % GROUPS),
                    after_ms: 30_000,
                    min_proficiency: 2,
                },
                TargetStep {
                    group: GroupId((q + 7) % GROUPS),
                    after_ms: 60_000,
                    min_proficiency: 3,
                },
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
    let agents = (0..AGENTS)
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
        groups,
        agents,
        ..RoutingConfig::default()
    }
}

/// The engine in steady state plus the driver's view of connected calls.
struct World {
    router: Router,
    now: u64,
    next_call: u64,
    connected: Vec<CallId>,
    rng: StdRng,
    decisions: u64,
}

impl World {
    fn input(&mut self, input: Input) {
        if let Err(e) = self.router.handle(Timestamp(T0 + self.now), input) {
            panic!("bench input refused: {e}");
        }
        self.router.drain_events();
        for a in self.router.drain_actions() {
            if let ActionKind::Offer { offer, call, .. } = a.kind {
                self.decisions += 1;
                if let Err(e) = self
                    .router
                    .handle(Timestamp(T0 + self.now), Input::OfferAccepted { offer })
                {
                    panic!("accept refused: {e}");
                }
                self.connected.push(call);
            }
        }
        self.router.drain_events();
    }

    fn arrive(&mut self) {
        self.next_call += 1;
        let queue = QueueId(self.rng.random_range(0..QUEUES));
        let priority = self.rng.random_range(0..3);
        self.input(Input::CallArrived {
            call: CallId(self.next_call),
            queue,
            caller: None,
            priority,
            channel: Channel::Voice,
        });
    }

    /// Ends a random connected call: its agent takes the next call at once.
    fn end_random_call(&mut self) {
        let i = self.rng.random_range(0..self.connected.len());
        let call = self.connected.swap_remove(i);
        self.input(Input::CallEnded { call });
    }

    /// Every agent logged in and ready, no calls.
    fn all_ready() -> World {
        let router = match Router::new(config(), Timestamp(T0)) {
            Ok(r) => r,
            Err(e) => panic!("bench config invalid: {e}"),
        };
        let mut w = World {
            router,
            now: 0,
            next_call: 0,
            connected: Vec::new(),
            rng: StdRng::seed_from_u64(1),
            decisions: 0,
        };
        for a in 0..AGENTS {
            w.input(Input::AgentLogin { agent: AgentId(a) });
            w.input(Input::AgentReady { agent: AgentId(a) });
        }
        w
    }

    /// Abandons waiting calls (first queues first) until `keep` remain.
    fn trim_waiting(&mut self, keep: usize) {
        let mut excess = self.router.waiting_total().saturating_sub(keep);
        for q in 0..QUEUES {
            for call in self.router.waiting(QueueId(q)) {
                if excess == 0 {
                    return;
                }
                self.input(Input::CallAbandoned { call });
                excess -= 1;
            }
        }
    }

    /// Call surplus: every agent busy, exactly 20,000 calls waiting.
    fn build() -> World {
        let mut w = World::all_ready();
        // Calls until every agent is busy; calls reaching a queue whose first ring
        // is busy wait meanwhile. Then trim or top up to exactly 20,000 waiting.
        while w.connected.len() < AGENTS as usize {
            w.now += 1;
            w.arrive();
        }
        w.trim_waiting(WAITING as usize);
        while w.router.waiting_total() < WAITING as usize {
            w.now += 1;
            w.arrive();
        }
        w
    }

    /// Agent surplus: 40,000 agents busy, 10,000 ready, nobody waiting.
    fn build_surplus() -> World {
        let mut w = World::all_ready();
        while w.connected.len() < 40_000 {
            w.now += 1;
            w.arrive();
        }
        w.trim_waiting(0);
        w
    }

    /// One round: an agent frees up and takes a call; a new call arrives.
    fn round(&mut self) {
        self.now += 10;
        self.end_random_call();
        self.arrive();
    }
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p) as usize] as f64 / 1000.0
}

/// The naive design's work to find the queues an agent serves: every queue, every
/// ring, every member. Static data only — a lower bound of that design's cost.
fn naive_queues_of(rings: &[Vec<&[Membership]>], agent: AgentId) -> usize {
    rings
        .iter()
        .filter(|q| {
            q.iter()
                .any(|members| members.iter().any(|m| m.agent == agent))
        })
        .count()
}

fn report() {
    let rss0 = rss_kib();
    let t = Instant::now();
    let mut w = World::build();
    let build_s = t.elapsed().as_secs_f64();
    let rss1 = rss_kib();
    println!(
        "setup: {AGENTS} agents, {QUEUES} queues, {GROUPS} groups, {} waiting calls; built in {build_s:.1} s; RSS +{} MiB",
        w.router.waiting_total(),
        (rss1.saturating_sub(rss0)) / 1024
    );

    let rounds = 200_000;
    let mut end_ns = Vec::with_capacity(rounds);
    let mut arrive_ns = Vec::with_capacity(rounds);
    let decisions_before = w.decisions;
    let start = Instant::now();
    for _ in 0..rounds {
        w.now += 10;
        let t = Instant::now();
        w.end_random_call();
        end_ns.push(t.elapsed().as_nanos() as u64);
        let t = Instant::now();
        w.arrive();
        arrive_ns.push(t.elapsed().as_nanos() as u64);
    }
    let total = start.elapsed().as_secs_f64();
    let offers = w.decisions - decisions_before;
    let inputs = 2 * rounds as u64 + offers; // end + arrival + accept per offer
    end_ns.sort_unstable();
    arrive_ns.sort_unstable();
    let mut all: Vec<u64> = end_ns.iter().chain(&arrive_ns).copied().collect();
    all.sort_unstable();
    println!(
        "decisions: {} in {total:.2} s = {:.0} decisions/s ({:.0} inputs/s incl. accepts); waiting now {}",
        2 * rounds,
        (2 * rounds) as f64 / total,
        inputs as f64 / total,
        w.router.waiting_total()
    );
    println!(
        "agent frees up → next call offered (incl. accept): p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
        percentile(&end_ns, 0.5),
        percentile(&end_ns, 0.99),
        percentile(&end_ns, 1.0)
    );
    println!(
        "call arrives → queued (ready-set check): p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
        percentile(&arrive_ns, 0.5),
        percentile(&arrive_ns, 0.99),
        percentile(&arrive_ns, 1.0)
    );
    println!(
        "any decision: p99 {:.1} µs, p99.9 {:.1} µs; {} of {} over 1 ms",
        percentile(&all, 0.99),
        percentile(&all, 0.999),
        all.iter().filter(|&&ns| ns > 1_000_000).count(),
        all.len()
    );

    // Agent state change: a busy agent going on a break and back (presence and
    // index updates only, no matching possible while on the call).
    let n = 100_000;
    let mut state_ns = Vec::with_capacity(n);
    for i in 0..n {
        let agent = AgentId(w.rng.random_range(0..AGENTS));
        let input = if i % 2 == 0 {
            Input::AgentNotReady {
                agent,
                reason: "break".into(),
            }
        } else {
            Input::AgentReady { agent }
        };
        let t = Instant::now();
        w.input(input);
        state_ns.push(t.elapsed().as_nanos() as u64);
    }
    state_ns.sort_unstable();
    println!(
        "agent state change (not ready / ready): p50 {:.2} µs, p99 {:.2} µs",
        percentile(&state_ns, 0.5),
        percentile(&state_ns, 0.99)
    );

    // Replacing the whole configuration while 20,000 calls wait (positions and
    // statistics carried over, then a full re-match).
    let t = Instant::now();
    w.input(Input::ConfigReplaced(Box::new(config())));
    println!(
        "configuration replaced with {} calls waiting: {:.0} ms (incl. building the new config)",
        w.router.waiting_total(),
        t.elapsed().as_secs_f64() * 1000.0
    );

    // Agent surplus: arrivals find ready agents (call-side choice by strategy).
    let mut w = World::build_surplus();
    let mut offer_ns = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        w.now += 10;
        let before = w.decisions;
        let t = Instant::now();
        w.arrive();
        let ns = t.elapsed().as_nanos() as u64;
        if w.decisions > before {
            offer_ns.push(ns);
        }
        w.end_random_call();
    }
    offer_ns.sort_unstable();
    println!(
        "agent surplus (10,000 ready): call arrives → offered to a ready agent (incl. accept): {} of {rounds} offered at once, p50 {:.1} µs, p99 {:.1} µs",
        offer_ns.len(),
        percentile(&offer_ns, 0.5),
        percentile(&offer_ns, 0.99)
    );

    // Baseline in the same run: the naive scan for one freed agent.
    let cfg = config();
    let groups: std::collections::HashMap<GroupId, &[Membership]> = cfg
        .groups
        .iter()
        .map(|g| (g.id, g.members.as_slice()))
        .collect();
    let rings: Vec<Vec<&[Membership]>> = cfg
        .queues
        .iter()
        .map(|q| {
            q.targets
                .iter()
                .filter_map(|t| groups.get(&t.group).copied())
                .collect()
        })
        .collect();
    let samples = 200;
    let t = Instant::now();
    for i in 0..samples {
        black_box(naive_queues_of(&rings, AgentId(i * 97 % AGENTS)));
    }
    let naive_us = t.elapsed().as_secs_f64() * 1e6 / f64::from(samples);
    let engine_us = end_ns.iter().sum::<u64>() as f64 / end_ns.len() as f64 / 1000.0;
    println!(
        "naive queues×members scan per freed agent: {naive_us:.0} µs vs engine {engine_us:.1} µs mean per full decision: {:.0}× faster",
        naive_us / engine_us
    );
}

fn criterion_benches(c: &mut Criterion) {
    let mut w = World::build();
    c.bench_function(
        "routing/agent_frees_and_call_arrives (50k agents, 5k queues, 20k waiting)",
        |b| b.iter(|| w.round()),
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(5));
    targets = criterion_benches
}

fn main() {
    report();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
