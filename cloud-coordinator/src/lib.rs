//! `tandem-coordinator`: the federation service.

pub mod relay;
