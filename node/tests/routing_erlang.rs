//! The engine against queueing theory: an M/M/N queue (Poisson arrivals,
//! exponential handle times, N agents, FIFO, longest idle, no abandonment) driven
//! through the real router by a small discrete-event simulation, compared with
//! Erlang C.
//!
//! Statistical error: each run is cut into 20 batches of equal numbers of calls
//! (after a warm-up); the batch means give a standard error, and each measured
//! value must lie within 3.5 standard errors of the formula (≈ 99.95 % two-sided
//! confidence if the batches were independent; the seeds are fixed, so the test
//! is deterministic).

mod routing_support;

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use routing_support::*;
use tandem_node::routing::*;

/// Erlang C probability of waiting, written as in the textbook:
/// `Pw = [Aᴺ/N! · N/(N−A)] / [Σₖ₌₀ᴺ⁻¹ Aᵏ/k! + Aᴺ/N! · N/(N−A)]`.
fn erlang_c(n: u32, a: f64) -> f64 {
    let mut term = 1.0; // Aᵏ/k!
    let mut sum = 0.0;
    for k in 0..n {
        sum += term;
        term *= a / f64::from(k + 1);
    }
    let top = term * f64::from(n) / (f64::from(n) - a);
    top / (sum + top)
}

/// `ASA = Pw · AHT / (N − A)`.
fn erlang_asa(n: u32, a: f64, aht: f64) -> f64 {
    erlang_c(n, a) * aht / (f64::from(n) - a)
}

/// `SL(t) = 1 − Pw · e^(−(N−A)·t/AHT)`.
fn erlang_sl(n: u32, a: f64, aht: f64, t: f64) -> f64 {
    1.0 - erlang_c(n, a) * (-(f64::from(n) - a) * t / aht).exp()
}

#[test]
fn erlang_c_oracle_matches_known_values() {
    // Classic textbook case: 10 agents, 8 erlangs → Pw ≈ 0.4092.
    assert!(
        (erlang_c(10, 8.0) - 0.409_2).abs() < 5e-4,
        "{}",
        erlang_c(10, 8.0)
    );
    // One agent: M/M/1, Pw = ρ.
    assert!((erlang_c(1, 0.7) - 0.7).abs() < 1e-12);
    assert!((erlang_asa(1, 0.5, 100.0) - 100.0).abs() < 1e-9);
    assert!((erlang_sl(1, 0.5, 100.0, 0.0) - 0.5).abs() < 1e-12);
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Sim {
    Arrival,
    Departure(CallId),
}

struct Measured {
    waited: Vec<bool>,
    wait_ms: Vec<f64>,
    within_20s: Vec<bool>,
    /// (predicted EWT at arrival, actual wait) for calls that had to queue.
    ewt: Vec<(f64, f64)>,
}

/// Runs `calls` arrivals of an M/M/N queue through the engine.
fn simulate(agents: u32, arrival_per_s: f64, aht_s: f64, calls: usize, seed: u64) -> Measured {
    let mut cfg = simple(agents, Strategy::LongestIdle);
    cfg.queues[0].initial_aht_ms = (aht_s * 1000.0) as u64;
    let mut h = Harness::new(cfg);
    for a in 1..=agents {
        h.ready(a);
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut exp = |mean_ms: f64| -> u64 {
        let u: f64 = rng.random_range(f64::EPSILON..1.0);
        (-u.ln() * mean_ms).round() as u64
    };
    let mut clock: BinaryHeap<Reverse<(u64, Sim)>> = BinaryHeap::new();
    clock.push(Reverse((exp(1000.0 / arrival_per_s), Sim::Arrival)));
    let mut arrived = 0u64;
    let mut arrival_time = std::collections::HashMap::new();
    let mut predicted = std::collections::HashMap::new();
    let mut m = Measured {
        waited: Vec::new(),
        wait_ms: Vec::new(),
        within_20s: Vec::new(),
        ewt: Vec::new(),
    };
    while let Some(Reverse((t, what))) = clock.pop() {
        h.now = t;
        match what {
            Sim::Arrival => {
                if (arrived as usize) < calls {
                    arrived += 1;
                    h.arrive(arrived, 1);
                    arrival_time.insert(arrived, t);
                    if let Some((_, Some(ewt))) = h.router.position_and_ewt(CallId(arrived)) {
                        predicted.insert(arrived, ewt as f64);
                    }
                    clock.push(Reverse((t + exp(1000.0 / arrival_per_s), Sim::Arrival)));
                }
            }
            Sim::Departure(call) => h.ok(Input::CallEnded { call }),
        }
        // Agents answer at once; each answered call departs after an exponential handle time.
        for o in h.new_offers() {
            h.accept(o);
            let wait = (t - arrival_time[&o.call.0]) as f64;
            m.waited.push(wait > 0.0);
            m.wait_ms.push(wait);
            m.within_20s.push(wait <= 20_000.0);
            if let Some(p) = predicted.remove(&o.call.0) {
                m.ewt.push((p, wait));
            }
            clock.push(Reverse((t + exp(aht_s * 1000.0), Sim::Departure(o.call))));
        }
    }
    m
}

/// Mean and standard error from 20 batch means, after dropping the first 5 %.
fn batch_stats(xs: &[f64]) -> (f64, f64) {
    let xs = &xs[xs.len() / 20..];
    let batches = 20;
    let size = xs.len() / batches;
    let means: Vec<f64> = (0..batches)
        .map(|b| xs[b * size..(b + 1) * size].iter().sum::<f64>() / size as f64)
        .collect();
    let mean = means.iter().sum::<f64>() / batches as f64;
    let var = means.iter().map(|m| (m - mean).powi(2)).sum::<f64>() / (batches - 1) as f64;
    (mean, (var / batches as f64).sqrt())
}

fn check(name: &str, measured: (f64, f64), theory: f64) {
    let (mean, se) = measured;
    eprintln!(
        "{name}: measured {mean:.4} ± {:.4} (95 % CI), Erlang C {theory:.4}",
        1.96 * se
    );
    assert!(
        (mean - theory).abs() <= 3.5 * se,
        "{name}: measured {mean} (se {se}) vs theory {theory}"
    );
}

fn erlang_case(agents: u32, occupancy: f64, calls: usize, seed: u64) {
    let aht_s = 120.0;
    let a = occupancy * f64::from(agents);
    let arrival_per_s = a / aht_s;
    eprintln!(
        "N = {agents}, A = {a:.2} erl ({:.0} % occupancy), {calls} calls",
        occupancy * 100.0
    );
    let m = simulate(agents, arrival_per_s, aht_s, calls, seed);
    let as_f = |v: &[bool]| {
        v.iter()
            .map(|&b| f64::from(u8::from(b)))
            .collect::<Vec<f64>>()
    };
    check(
        "P(wait)",
        batch_stats(&as_f(&m.waited)),
        erlang_c(agents, a),
    );
    check(
        "ASA s",
        batch_stats(&m.wait_ms.iter().map(|w| w / 1000.0).collect::<Vec<_>>()),
        erlang_asa(agents, a, aht_s),
    );
    check(
        "SL 20 s",
        batch_stats(&as_f(&m.within_20s)),
        erlang_sl(agents, a, aht_s, 20.0),
    );
    // EWT announced to queued callers vs their actual waits, and vs theory AHT/(N−A).
    let predicted: Vec<f64> = m.ewt.iter().map(|(p, _)| p / 1000.0).collect();
    let actual: Vec<f64> = m.ewt.iter().map(|(_, w)| w / 1000.0).collect();
    let (p_mean, p_se) = batch_stats(&predicted);
    let (w_mean, w_se) = batch_stats(&actual);
    let conditional = aht_s / (f64::from(agents) - a);
    eprintln!(
        "EWT at arrival {p_mean:.2} s, actual wait of queued callers {w_mean:.2} s, Erlang C {conditional:.2} s"
    );
    let se = (p_se.powi(2) + w_se.powi(2)).sqrt();
    assert!(
        (p_mean - w_mean).abs() <= 3.5 * se,
        "EWT {p_mean} vs actual {w_mean} (se {se})"
    );
    check("wait | queued s", (w_mean, w_se), conditional);
}

#[test]
fn mm_n_matches_erlang_c_at_50_percent_occupancy() {
    erlang_case(10, 0.5, 40_000, 1);
}

#[test]
fn mm_n_matches_erlang_c_at_80_percent_occupancy() {
    erlang_case(10, 0.8, 60_000, 2);
}

#[test]
fn mm_n_matches_erlang_c_at_95_percent_occupancy() {
    erlang_case(20, 0.95, 200_000, 3);
}
