//! `tandem-hal`: where the gateway meets copper.
//!
//! Everything here is synchronous and free of networking so the same code runs on
//! simulated lines (demo, tests, benchmarks) and on real boards, and so the signal
//! processing can be tested sample by sample against the telephony standards.

#[cfg(feature = "alsa")]
pub mod alsa;
pub mod audio;
pub mod board;
pub mod dsp;
pub mod e1;
pub mod fxo;
pub mod indicator;
pub mod line;
pub mod sim;
pub mod slic;
pub mod wav;

#[cfg(test)]
mod testutil;
