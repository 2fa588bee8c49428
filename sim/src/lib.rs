//! `tandem-sim`: the simulated world (PSTN callers, agents, branches) for the demo,
//! the load generator, the benchmarks and the routing engine's checks against
//! queueing theory. Everything here drives the real coordinator, gateway and
//! routing code.

pub mod bench;
pub mod demo;
pub mod dsp;
pub mod erlang;
pub mod node;
pub mod people;
pub mod simulate;
pub mod traffic;
pub mod wan;
pub mod web_fixture;
pub mod world;
