//! `tandem-gateway`: the branch appliance daemon.
