//! `tandem-sim bench acd`: the ACD routing engine at issue-6 scale on one core.
//!
//! Builds the world of `tandem_node::routing::bench_support` (the same the
//! criterion bench measures) and times single inputs: decisions per second and
//! their latency percentiles, an agent state change, a configuration
//! replacement, the agent-surplus case, and, in the same run, the naive
//! queues × members scan that designs without per-group ready indexes do
//! (Asterisk's known bottleneck). Only the scan is timed for the baseline, so
//! the ratio is a lower bound.

use super::{percentile, rss_kib};
use serde::Serialize;
use std::hint::black_box;
use std::time::{Duration, Instant};
use tandem_node::routing::bench_support::{BenchError, NaiveScan, Workload};
use tandem_node::routing::{AgentId, Input};

/// Benchmark parameters.
#[derive(Debug, Clone, Copy)]
pub struct AcdBenchOptions {
    /// The world's size.
    pub workload: Workload,
    /// Decisions timed in the call-surplus world (half agent-side, half
    /// call-side); a quarter as many agent state changes, half as many arrivals
    /// in the agent-surplus world.
    pub decisions: usize,
}

/// What the benchmark measured. Latencies in µs.
#[derive(Debug, Clone, Serialize)]
pub struct AcdBenchReport {
    pub agents: u32,
    pub queues: u32,
    pub groups_per_agent: u32,
    pub waiting_calls: usize,
    pub build_s: f64,
    /// RSS growth while building the world (engine, config copies, calls), KiB.
    pub rss_delta_kib: Option<u64>,
    pub decisions: usize,
    pub decisions_per_sec: f64,
    /// Inputs per second including the agents' accepts.
    pub inputs_per_sec: f64,
    /// Agent frees up → next call offered and accepted.
    pub agent_side_p50_us: f64,
    pub agent_side_p99_us: f64,
    pub agent_side_max_us: f64,
    /// Call arrives → queued (nobody ready in its open rings).
    pub call_side_p50_us: f64,
    pub call_side_p99_us: f64,
    pub call_side_max_us: f64,
    /// Any decision of the two kinds.
    pub decision_p99_us: f64,
    pub decision_p999_us: f64,
    pub decisions_over_1ms: usize,
    /// A busy agent going not ready / ready.
    pub state_changes: usize,
    pub state_change_p50_us: f64,
    pub state_change_p99_us: f64,
    /// The whole configuration replaced while the calls wait, incl. building it.
    pub config_replace_ms: f64,
    /// Agent surplus (80 % busy, nobody waiting): call arrives → offered at once.
    pub surplus_arrivals: usize,
    pub surplus_offered: usize,
    pub surplus_offer_p50_us: f64,
    pub surplus_offer_p99_us: f64,
    /// The naive scan for one freed agent, mean.
    pub naive_scan_us: f64,
    /// The engine's full agent-side decision, mean.
    pub engine_decision_mean_us: f64,
    /// `naive_scan_us / engine_decision_mean_us`.
    pub speedup_vs_naive: f64,
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Runs `f`, returning how long it took.
fn timed(f: impl FnOnce() -> Result<(), BenchError>) -> Result<Duration, BenchError> {
    let t = Instant::now();
    f()?;
    Ok(t.elapsed())
}

/// Runs the benchmark on the calling thread.
pub fn run(options: &AcdBenchOptions) -> Result<AcdBenchReport, BenchError> {
    let workload = options.workload;
    let rounds = (options.decisions / 2).max(1);
    let rss_before = rss_kib(None);
    let started = Instant::now();
    let mut w = workload.build()?;
    let build_s = started.elapsed().as_secs_f64();
    let rss_delta_kib = rss_kib(None)
        .zip(rss_before)
        .map(|(after, before)| after.saturating_sub(before));
    let waiting_calls = w.router().waiting_total();

    // Steady state: one agent-side and one call-side decision per round.
    let mut agent_side = Vec::with_capacity(rounds);
    let mut call_side = Vec::with_capacity(rounds);
    let offers_before = w.offers();
    let started = Instant::now();
    for _ in 0..rounds {
        w.advance(10);
        agent_side.push(timed(|| w.end_random_call())?);
        call_side.push(timed(|| w.arrive())?);
    }
    let total_s = started.elapsed().as_secs_f64();
    let decisions = 2 * rounds;
    // End + arrival + one accept per offer.
    let inputs = decisions as u64 + (w.offers() - offers_before);
    let engine_decision_mean_us = us(agent_side.iter().sum::<Duration>()) / rounds as f64;
    agent_side.sort_unstable();
    call_side.sort_unstable();
    let mut all: Vec<Duration> = agent_side.iter().chain(&call_side).copied().collect();
    all.sort_unstable();

    let state_changes = (options.decisions / 4).max(2);
    let mut state = Vec::with_capacity(state_changes);
    for i in 0..state_changes {
        state.push(timed(|| w.agent_state_change(i % 2 == 1))?);
    }
    state.sort_unstable();

    let replace = timed(|| w.input(Input::ConfigReplaced(Box::new(workload.config()))))?;
    drop(w);

    // Agent surplus: arrivals find ready agents; the strategy picks one.
    let mut w = workload.build_surplus()?;
    let mut offered = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        w.advance(10);
        let before = w.offers();
        let took = timed(|| w.arrive())?;
        if w.offers() > before {
            offered.push(took);
        }
        w.end_random_call()?;
    }
    drop(w);
    offered.sort_unstable();

    // Baseline in the same run: the naive scan for one freed agent.
    let config = workload.config();
    let naive = NaiveScan::new(&config);
    let samples = 200u32;
    let started = Instant::now();
    for i in 0..samples {
        black_box(naive.queues_of(AgentId(i * 97 % workload.agents.max(1))));
    }
    let naive_scan_us = us(started.elapsed()) / f64::from(samples);

    Ok(AcdBenchReport {
        agents: workload.agents,
        queues: workload.queues,
        groups_per_agent: workload.groups_per_agent,
        waiting_calls,
        build_s,
        rss_delta_kib,
        decisions,
        decisions_per_sec: decisions as f64 / total_s,
        inputs_per_sec: inputs as f64 / total_s,
        agent_side_p50_us: us(percentile(&agent_side, 50.0)),
        agent_side_p99_us: us(percentile(&agent_side, 99.0)),
        agent_side_max_us: us(percentile(&agent_side, 100.0)),
        call_side_p50_us: us(percentile(&call_side, 50.0)),
        call_side_p99_us: us(percentile(&call_side, 99.0)),
        call_side_max_us: us(percentile(&call_side, 100.0)),
        decision_p99_us: us(percentile(&all, 99.0)),
        decision_p999_us: us(percentile(&all, 99.9)),
        decisions_over_1ms: all
            .iter()
            .filter(|&&d| d > Duration::from_millis(1))
            .count(),
        state_changes,
        state_change_p50_us: us(percentile(&state, 50.0)),
        state_change_p99_us: us(percentile(&state, 99.0)),
        config_replace_ms: replace.as_secs_f64() * 1e3,
        surplus_arrivals: rounds,
        surplus_offered: offered.len(),
        surplus_offer_p50_us: us(percentile(&offered, 50.0)),
        surplus_offer_p99_us: us(percentile(&offered, 99.0)),
        naive_scan_us,
        engine_decision_mean_us,
        speedup_vs_naive: naive_scan_us / engine_decision_mean_us,
    })
}

impl std::fmt::Display for AcdBenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "acd benchmark: {} agents, {} queues, {} groups per agent, {} waiting calls; built in {:.1} s, RSS +{}",
            self.agents,
            self.queues,
            self.groups_per_agent,
            self.waiting_calls,
            self.build_s,
            self.rss_delta_kib
                .map_or("n/a".into(), |k| format!("{} MiB", k / 1024))
        )?;
        writeln!(
            f,
            "  decisions: {} at {:.0}/s ({:.0} inputs/s incl. accepts) (goal ≥ 50,000/s)",
            self.decisions, self.decisions_per_sec, self.inputs_per_sec
        )?;
        writeln!(
            f,
            "  agent frees up → next call offered (incl. accept): p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
            self.agent_side_p50_us, self.agent_side_p99_us, self.agent_side_max_us
        )?;
        writeln!(
            f,
            "  call arrives → queued: p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
            self.call_side_p50_us, self.call_side_p99_us, self.call_side_max_us
        )?;
        writeln!(
            f,
            "  any decision: p99 {:.1} µs, p99.9 {:.1} µs; {} of {} over 1 ms (goal p99 < 1 ms)",
            self.decision_p99_us, self.decision_p999_us, self.decisions_over_1ms, self.decisions
        )?;
        writeln!(
            f,
            "  agent state change (not ready / ready, {}): p50 {:.2} µs, p99 {:.2} µs",
            self.state_changes, self.state_change_p50_us, self.state_change_p99_us
        )?;
        writeln!(
            f,
            "  configuration replaced with the calls waiting: {:.0} ms",
            self.config_replace_ms
        )?;
        writeln!(
            f,
            "  agent surplus: call arrives → offered (incl. accept): {} of {} at once, p50 {:.1} µs, p99 {:.1} µs",
            self.surplus_offered,
            self.surplus_arrivals,
            self.surplus_offer_p50_us,
            self.surplus_offer_p99_us
        )?;
        write!(
            f,
            "  naive queues × members scan per freed agent: {:.0} µs vs engine {:.1} µs per full decision: {:.0}× faster",
            self.naive_scan_us, self.engine_decision_mean_us, self.speedup_vs_naive
        )
    }
}
