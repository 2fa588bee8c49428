//! `tandem-gateway`: the branch appliance daemon.

pub mod media;
