//! The engine against queueing theory, through the deterministic simulator
//! (`routing::Scenario`): Poisson arrivals, exponential handle times, N agents,
//! FIFO, longest idle. Without patience that is M/M/N, checked against Erlang C;
//! with exponential patience it is M/M/N+M (Erlang A), checked against its
//! birth–death chain solved numerically.
//!
//! Statistical error: outcomes are cut into 20 batches (after a 5 % warm-up); the
//! batch means give a standard error, and each measured value must lie within 3.5
//! standard errors of theory (≈ 99.95 % two-sided if the batches were
//! independent; seeds are fixed, so the test is deterministic). The printed
//! intervals are ±1.96 standard errors (95 %).

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

/// Erlang A (M/M/N+M) as a birth–death chain: arrivals λ, services μ·min(k, N),
/// abandons θ·max(k − N, 0). Returns (P(wait), P(abandon)) by PASTA and by
/// abandonment rate ÷ arrival rate.
fn erlang_a(n: u32, lambda: f64, mu: f64, theta: f64) -> (f64, f64) {
    let mut p = vec![1.0f64];
    for k in 1..2_000u32 {
        let death = mu * f64::from(k.min(n)) + theta * f64::from(k.saturating_sub(n));
        let next = p[p.len() - 1] * lambda / death;
        p.push(next);
        if next < 1e-300 {
            break;
        }
    }
    let total: f64 = p.iter().sum();
    let p_wait = p[n as usize..].iter().sum::<f64>() / total;
    let queue_len: f64 = p
        .iter()
        .enumerate()
        .skip(n as usize)
        .map(|(k, pk)| (k - n as usize) as f64 * pk)
        .sum::<f64>()
        / total;
    (p_wait, theta * queue_len / lambda)
}

#[test]
fn erlang_oracles_match_known_values() {
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
    // Erlang A tends to Erlang C as patience grows.
    let (pw, pa) = erlang_a(10, 8.0, 1.0, 1e-9);
    assert!((pw - erlang_c(10, 8.0)).abs() < 1e-6 && pa < 1e-6);
}

fn scenario(agents: u32, occupancy: f64, aht_s: f64, calls: u32, seed: u64) -> Scenario {
    Scenario {
        agents,
        arrival_rate_per_s: occupancy * f64::from(agents) / aht_s,
        handle: Distribution::Exponential {
            mean_ms: aht_s * 1000.0,
        },
        patience: None,
        calls,
        seed,
        service_level_ms: 20_000,
    }
}

fn summary(s: &Scenario) -> SimSummary {
    match s.run().map(|r| r.summary()) {
        Ok(Some(summary)) => summary,
        other => panic!("simulation failed: {other:?}"),
    }
}

fn check(name: &str, e: Estimate, theory: f64) {
    eprintln!(
        "{name}: measured {:.4} ± {:.4} (95 %), theory {theory:.4}",
        e.mean,
        e.ci95()
    );
    assert!(
        (e.mean - theory).abs() <= 3.5 * e.std_error,
        "{name}: measured {e:?} vs theory {theory}"
    );
}

fn erlang_c_case(agents: u32, occupancy: f64, calls: u32, seed: u64) {
    let aht_s = 120.0;
    let a = occupancy * f64::from(agents);
    let s = scenario(agents, occupancy, aht_s, calls, seed);
    eprintln!(
        "M/M/{agents}, A = {a:.2} erl ({:.0} % occupancy), {calls} calls",
        occupancy * 100.0
    );
    let m = summary(&s);
    check("P(wait)", m.p_wait, erlang_c(agents, a));
    let ms = |e: Estimate| Estimate {
        mean: e.mean / 1000.0,
        std_error: e.std_error / 1000.0,
    };
    check("ASA s", ms(m.answer_wait_ms), erlang_asa(agents, a, aht_s));
    check(
        "SL 20 s",
        m.service_level,
        erlang_sl(agents, a, aht_s, 20.0),
    );
    // The KPI computed from the events by its written definition (whole run, no
    // warm-up dropped) agrees with theory within the same error.
    let kpi_sl = m.kpis.service_level().unwrap_or(f64::NAN);
    check(
        "KPI service level",
        Estimate {
            mean: kpi_sl,
            std_error: m.service_level.std_error,
        },
        erlang_sl(agents, a, aht_s, 20.0),
    );
    let occupancy_kpi = m.occupancy.unwrap_or(f64::NAN);
    assert!(
        (occupancy_kpi - occupancy).abs() < 0.03,
        "occupancy {occupancy_kpi}"
    );
    // EWT announced to queued callers vs their actual waits, and vs theory AHT/(N−A).
    let conditional = aht_s / (f64::from(agents) - a);
    if let (Some(ewt), Some(waited)) = (m.announced_ewt_ms, m.queued_wait_ms) {
        check("EWT announced s", ms(ewt), conditional);
        check("wait | queued s", ms(waited), conditional);
    } else {
        panic!("nobody queued");
    }
}

#[test]
fn mm_n_matches_erlang_c_at_50_percent_occupancy() {
    erlang_c_case(10, 0.5, 40_000, 1);
}

#[test]
fn mm_n_matches_erlang_c_at_80_percent_occupancy() {
    erlang_c_case(10, 0.8, 60_000, 2);
}

#[test]
fn mm_n_matches_erlang_c_at_95_percent_occupancy() {
    erlang_c_case(20, 0.95, 200_000, 3);
}

#[test]
fn mm_n_with_patience_matches_erlang_a() {
    let (agents, aht_s, patience_s) = (10, 120.0, 90.0);
    let s = Scenario {
        patience: Some(Distribution::Exponential {
            mean_ms: patience_s * 1000.0,
        }),
        ..scenario(agents, 1.05, aht_s, 60_000, 5)
    };
    let (p_wait, p_abandon) = erlang_a(agents, s.arrival_rate_per_s, 1.0 / aht_s, 1.0 / patience_s);
    eprintln!("M/M/{agents}+M, offered 105 %, patience {patience_s} s");
    let m = summary(&s);
    check("P(wait)", m.p_wait, p_wait);
    check("P(abandon)", m.abandonment, p_abandon);
    let kpi = m.kpis.abandonment_rate().unwrap_or(f64::NAN);
    assert!(
        (kpi - m.abandonment.mean).abs() < 0.01,
        "KPI abandonment {kpi}"
    );
}

#[test]
fn lognormal_handle_times_show_in_aht() {
    let s = Scenario {
        handle: Distribution::LogNormal {
            mean_ms: 200_000.0,
            sd_ms: 150_000.0,
        },
        ..scenario(8, 0.7, 200.0, 20_000, 6)
    };
    let m = summary(&s);
    let aht = m.kpis.aht_ms().unwrap_or(f64::NAN);
    // sd of the mean of 20,000 handle times ≈ 150 s / √20,000 ≈ 1.1 s.
    assert!((aht - 200_000.0).abs() < 4_000.0, "AHT {aht}");
}
