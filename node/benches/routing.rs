//! ACD routing engine at issue-6 scale (see `routing::bench_support` for the
//! world: 50,000 agents, 5,000 queues, 20,000 waiting calls, 5 groups per agent).
//!
//! Criterion measures one steady-state round (an agent frees up and takes its
//! next call, a new call arrives), one agent state change, and the naive
//! queues × members scan of the baseline, in the same run. The one-shot report
//! with decisions per second, p99 latency per decision, memory and the ratio
//! against the baseline is `tandem-sim bench acd`, on the same world.

use std::hint::black_box;

use criterion::{Criterion, criterion_group};
use tandem_node::routing::AgentId;
use tandem_node::routing::bench_support::{BenchError, NaiveScan, Workload};

fn ok(r: Result<(), BenchError>) {
    if let Err(e) = r {
        panic!("bench world refused an input: {e}");
    }
}

fn criterion_benches(c: &mut Criterion) {
    let workload = Workload::default();
    let mut w = match workload.build() {
        Ok(w) => w,
        Err(e) => panic!("bench world not built: {e}"),
    };
    c.bench_function(
        "routing/agent_frees_and_call_arrives (50k agents, 5k queues, 20k waiting)",
        |b| b.iter(|| ok(w.round())),
    );
    let mut ready = false;
    c.bench_function("routing/agent_state_change (not ready / ready)", |b| {
        b.iter(|| {
            ready = !ready;
            ok(w.agent_state_change(ready));
        })
    });
    let config = workload.config();
    let naive = NaiveScan::new(&config);
    let mut agent = 0u32;
    c.bench_function("routing/naive_queues_x_members_scan (baseline)", |b| {
        b.iter(|| {
            agent = (agent + 97) % workload.agents;
            black_box(naive.queues_of(AgentId(agent)))
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(5));
    targets = criterion_benches
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
