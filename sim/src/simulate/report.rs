//! The summary as text, and the speed benchmark.

use std::fmt;
use std::time::Instant;

use serde::Serialize;

use super::{Options, SimulateError, Summary, run};

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.calls;
        writeln!(
            f,
            "seed {}: {} sites, {} agents, {:.2} h of traffic, {:.1} simulated min in all, {} events",
            self.seed,
            self.sites,
            self.agents,
            self.hours,
            self.simulated_ms as f64 / 60_000.0,
            self.events
        )?;
        writeln!(
            f,
            "calls: {} entered ({} blocked), {} answered, {} abandoned, {} transfers, {} cut by a crash, {} CDRs stored",
            c.entered,
            c.blocked,
            c.answered,
            c.abandoned,
            c.transfers,
            c.cut_by_crash,
            c.cdrs_stored
        )?;
        let i = &self.injected;
        writeln!(
            f,
            "faults: {} WAN cuts, {} partitions, {} gateway crashes, {} coordinator crashes; {} retransmissions",
            i.wan_cuts,
            i.partitions,
            i.gateway_crashes,
            i.coordinator_crashes,
            self.network.retransmissions
        )?;
        writeln!(
            f,
            "wire: {} messages, {} bytes, largest frame {} bytes, {} lost with their session; uploads: {} batches, {} records sent, {} stored",
            self.network.messages,
            self.network.bytes,
            self.network.max_frame,
            self.network.lost_with_session,
            self.uploads.batches,
            self.uploads.records_sent,
            self.uploads.records_stored
        )?;
        for inv in &self.invariants {
            writeln!(
                f,
                "  {:<32} {:>10} checks, {} breaches",
                inv.name, inv.checks, inv.breaches
            )?;
        }
        for b in &self.breaches {
            writeln!(f, "BREACH: {b}")?;
        }
        Ok(())
    }
}

/// Simulated time per wall-clock second for one center.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub sites: usize,
    pub agents: usize,
    pub hours: f64,
    pub seed: u64,
    pub events: u64,
    pub simulated_s: f64,
    pub wall_s: f64,
    /// Simulated seconds per wall second.
    pub speedup: f64,
    pub events_per_s: f64,
    pub breaches: usize,
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} sites / {} agents, {:.1} h with faults: {:.0} simulated s in {:.2} wall s = {:.0}x real time ({} events, {:.0} events/s, {} breaches)",
            self.sites,
            self.agents,
            self.hours,
            self.simulated_s,
            self.wall_s,
            self.speedup,
            self.events,
            self.events_per_s,
            self.breaches
        )
    }
}

/// Runs `options` once and times it on the wall clock (the only wall-clock
/// read in the simulation, and outside it).
pub fn bench(options: &Options) -> Result<BenchReport, SimulateError> {
    let started = Instant::now();
    let summary = run(options)?;
    let wall_s = started.elapsed().as_secs_f64().max(1e-9);
    let simulated_s = summary.simulated_ms as f64 / 1000.0;
    Ok(BenchReport {
        sites: options.sites,
        agents: options.agents,
        hours: options.hours,
        seed: options.seed,
        events: summary.events,
        simulated_s,
        wall_s,
        speedup: simulated_s / wall_s,
        events_per_s: summary.events as f64 / wall_s,
        breaches: summary.breaches.len(),
    })
}
