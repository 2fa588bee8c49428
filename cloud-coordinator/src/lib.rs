//! `tandem-coordinator`: the federation service.
