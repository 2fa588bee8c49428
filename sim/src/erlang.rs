//! `tandem-sim erlang`: the routing engine against Erlang C.
//!
//! Runs an M/M/N queue (one queue, FIFO, longest idle, no abandonment) through
//! the real engine with the node's deterministic simulator
//! ([`Scenario::mm_n`]) and sets the measured probability of waiting, ASA and
//! service level at 20 s beside the Erlang C predictions ([`ErlangC`]). Each
//! measurement carries the interval the theory checks use
//! ([`Estimate::check_interval`]: batch means, ±3.5 standard errors).

use serde::Serialize;
use tandem_node::routing::{ErlangC, Estimate, Scenario, SimError};
use thiserror::Error;

/// Service-level threshold, seconds (the "20" of 80/20); [`Scenario::mm_n`] uses it.
const SERVICE_LEVEL_S: f64 = 20.0;

/// What to simulate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ErlangOptions {
    /// Agents, all ready from the start.
    pub agents: u32,
    /// Poisson arrival rate, calls per second.
    pub arrival_rate_per_s: f64,
    /// Mean (exponential) handle time, seconds.
    pub aht_s: f64,
    /// Calls to generate.
    pub calls: u32,
    /// Seed of every random draw.
    pub seed: u64,
}

/// A run that cannot be compared with Erlang C.
#[derive(Debug, Error)]
pub enum ErlangError {
    /// Erlang C needs a positive load the agents can carry.
    #[error(
        "offered load λ·AHT = {offered:.3} erlangs must be positive and below the {agents} agents \
         (Erlang C has no steady state at or above 100 % occupancy), with a positive AHT"
    )]
    NoSteadyState {
        /// λ·AHT.
        offered: f64,
        /// N.
        agents: u32,
    },
    /// The simulator refused the scenario.
    #[error(transparent)]
    Sim(#[from] SimError),
    /// Too few calls for batch-means intervals.
    #[error("{0} calls are too few for confidence intervals; use at least a few thousand")]
    TooFewCalls(u32),
}

/// One measured figure beside its prediction.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Measured {
    /// Mean over the run after warm-up.
    pub measured: f64,
    /// Standard error of that mean, from batch means.
    pub std_error: f64,
    /// Lower end of the stated interval.
    pub ci_low: f64,
    /// Upper end of the stated interval.
    pub ci_high: f64,
    /// The Erlang C prediction.
    pub erlang_c: f64,
    /// Whether the prediction lies within the interval.
    pub within: bool,
}

impl Measured {
    fn new(e: Estimate, theory: f64) -> Self {
        let (ci_low, ci_high) = e.check_interval();
        Measured {
            measured: e.mean,
            std_error: e.std_error,
            ci_low,
            ci_high,
            erlang_c: theory,
            within: e.agrees_with(theory),
        }
    }
}

/// What the run measured, beside theory.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErlangReport {
    pub agents: u32,
    pub arrival_rate_per_s: f64,
    pub aht_s: f64,
    pub calls: u32,
    pub seed: u64,
    /// λ·AHT.
    pub offered_erlangs: f64,
    /// A/N, what occupancy should be.
    pub occupancy: f64,
    /// Occupancy measured from the engine's events.
    pub measured_occupancy: Option<f64>,
    /// Half-width of every interval, in standard errors (≈ 99.95 % two-sided).
    pub interval_std_errors: f64,
    /// Probability of waiting at all.
    pub p_wait: Measured,
    /// Average speed of answer, seconds.
    pub asa_s: Measured,
    /// Fraction answered within 20 s.
    pub service_level_20s: Measured,
}

impl ErlangReport {
    /// Whether every prediction lies within its interval.
    pub fn all_within(&self) -> bool {
        [self.p_wait, self.asa_s, self.service_level_20s]
            .iter()
            .all(|m| m.within)
    }
}

/// Runs the scenario through the engine and compares it with Erlang C.
pub fn run(options: &ErlangOptions) -> Result<ErlangReport, ErlangError> {
    let scenario = Scenario::mm_n(
        options.agents,
        options.arrival_rate_per_s,
        options.aht_s,
        options.calls,
        options.seed,
    );
    let theory: ErlangC = scenario.erlang_c().ok_or(ErlangError::NoSteadyState {
        offered: options.arrival_rate_per_s * options.aht_s,
        agents: options.agents,
    })?;
    let summary = scenario
        .run()?
        .summary()
        .ok_or(ErlangError::TooFewCalls(options.calls))?;
    Ok(ErlangReport {
        agents: options.agents,
        arrival_rate_per_s: options.arrival_rate_per_s,
        aht_s: options.aht_s,
        calls: options.calls,
        seed: options.seed,
        offered_erlangs: theory.offered_erlangs(),
        occupancy: theory.occupancy(),
        measured_occupancy: summary.occupancy,
        interval_std_errors: Estimate::CHECK_STD_ERRORS,
        p_wait: Measured::new(summary.p_wait, theory.p_wait()),
        asa_s: Measured::new(summary.answer_wait_ms.scaled(1e-3), theory.asa_s()),
        service_level_20s: Measured::new(
            summary.service_level,
            theory.service_level(SERVICE_LEVEL_S),
        ),
    })
}

impl std::fmt::Display for ErlangReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "Erlang C check: M/M/{} through the routing engine, λ = {:.4}/s, AHT {:.1} s, {} calls, seed {}",
            self.agents, self.arrival_rate_per_s, self.aht_s, self.calls, self.seed
        )?;
        writeln!(
            f,
            "  offered load {:.3} erlangs: occupancy {:.1} % (measured {})",
            self.offered_erlangs,
            self.occupancy * 100.0,
            self.measured_occupancy
                .map_or("n/a".into(), |o| format!("{:.1} %", o * 100.0))
        )?;
        writeln!(
            f,
            "  intervals: mean ± {} standard errors of 20 batch means (≈ 99.95 %)",
            self.interval_std_errors
        )?;
        writeln!(
            f,
            "  {:<9} {:>10} {:>22} {:>10}",
            "figure", "measured", "interval", "Erlang C"
        )?;
        let rows = [
            ("P(wait)", &self.p_wait, 1.0, ""),
            ("ASA", &self.asa_s, 1.0, " s"),
            ("SL 20 s", &self.service_level_20s, 100.0, " %"),
        ];
        for (i, (name, m, scale, unit)) in rows.iter().enumerate() {
            write!(
                f,
                "  {:<9} {:>8.4}{unit:<2} [{:>8.4}, {:>8.4}]{unit:<2} {:>8.4}{unit:<2} {}",
                name,
                m.measured * scale,
                m.ci_low * scale,
                m.ci_high * scale,
                m.erlang_c * scale,
                if m.within { "within" } else { "OUTSIDE" }
            )?;
            if i + 1 < rows.len() {
                writeln!(f)?;
            }
        }
        Ok(())
    }
}
