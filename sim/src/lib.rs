//! `tandem-sim`: the simulated world (PSTN callers, agents, branches) for the demo,
//! the load generator and the benchmarks. Everything here drives the real
//! coordinator and gateway code.

pub mod bench;
pub mod demo;
pub mod dsp;
