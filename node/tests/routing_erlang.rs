//! The engine against queueing theory, through the deterministic simulator
//! (`routing::Scenario`): Poisson arrivals, exponential handle times, N agents,
//! FIFO, longest idle. Without patience that is M/M/N, checked against Erlang C;
//! with exponential patience it is M/M/N+M (Erlang A), checked against its
//! birth–death chain solved numerically.
//!
//! The formulas are the routing module's own ([`ErlangC`], [`erlang_a`]), which
//! `tandem-sim erlang` prints too.
//!
//! Statistical error: outcomes are cut into 20 batches (after a 5 % warm-up); the
//! batch means give a standard error, and each measured value must lie within
//! `Estimate::CHECK_STD_ERRORS` (3.5) standard errors of theory (≈ 99.95 % two-sided if the batches were
//! independent; seeds are fixed, so the test is deterministic). The printed
//! intervals are ±1.96 standard errors (95 %).

use tandem_node::routing::*;

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
        e.agrees_with(theory),
        "{name}: measured {e:?} vs theory {theory}"
    );
}

fn theory(s: &Scenario) -> ErlangC {
    match s.erlang_c() {
        Some(c) => c,
        None => panic!("not a stable M/M/N scenario: {s:?}"),
    }
}

fn erlang_c_case(agents: u32, occupancy: f64, calls: u32, seed: u64) {
    let aht_s = 120.0;
    let s = Scenario::mm_n(
        agents,
        occupancy * f64::from(agents) / aht_s,
        aht_s,
        calls,
        seed,
    );
    let c = theory(&s);
    eprintln!(
        "M/M/{agents}, A = {:.2} erl ({:.0} % occupancy), {calls} calls",
        c.offered_erlangs(),
        c.occupancy() * 100.0
    );
    let m = summary(&s);
    check("P(wait)", m.p_wait, c.p_wait());
    check("ASA s", m.answer_wait_ms.scaled(1e-3), c.asa_s());
    check("SL 20 s", m.service_level, c.service_level(20.0));
    // The KPI computed from the events by its written definition (whole run, no
    // warm-up dropped) agrees with theory within the same error.
    let kpi_sl = m.kpis.service_level().unwrap_or(f64::NAN);
    check(
        "KPI service level",
        Estimate {
            mean: kpi_sl,
            std_error: m.service_level.std_error,
        },
        c.service_level(20.0),
    );
    let occupancy_kpi = m.occupancy.unwrap_or(f64::NAN);
    assert!(
        (occupancy_kpi - occupancy).abs() < 0.03,
        "occupancy {occupancy_kpi}"
    );
    // EWT announced to queued callers vs their actual waits, and vs theory AHT/(N−A).
    if let (Some(ewt), Some(waited)) = (m.announced_ewt_ms, m.queued_wait_ms) {
        check("EWT announced s", ewt.scaled(1e-3), c.wait_if_queued_s());
        check("wait | queued s", waited.scaled(1e-3), c.wait_if_queued_s());
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
        ..Scenario::mm_n(agents, 1.05 * f64::from(agents) / aht_s, aht_s, 60_000, 5)
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
        ..Scenario::mm_n(8, 0.7 * 8.0 / 200.0, 200.0, 20_000, 6)
    };
    let m = summary(&s);
    let aht = m.kpis.aht_ms().unwrap_or(f64::NAN);
    // sd of the mean of 20,000 handle times ≈ 150 s / √20,000 ≈ 1.1 s.
    assert!((aht - 200_000.0).abs() < 4_000.0, "AHT {aht}");
}
