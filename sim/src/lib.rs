//! `tandem-sim`: the simulated world.
