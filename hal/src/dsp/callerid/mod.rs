//! Caller ID (CLIP): message format, FSK (Bell 202 / V.23) and DTMF signalling,
//! and a receiver that auto-detects which one a line uses.
//!
//! Chinese carriers (and many European ones) differ by region in how they send the
//! calling number, so an FXO port cannot be configured once for all: the receiver
//! listens for FSK and DTMF at the same time and takes whichever decodes.

pub mod dtmf_cid;
pub mod fsk;
pub mod message;
pub mod receiver;

pub use message::{AbsentReason, CallerId, CallerIdError, DateTime};

/// How caller ID is signalled on a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CidStandard {
    /// Bell 202 FSK (1200/2200 Hz) after the first ring: North America, much of China.
    Bell202,
    /// ITU-T V.23 FSK (1300/2100 Hz), ETSI EN 300 659-1.
    V23,
    /// DTMF digits before the first ring (ETSI EN 300 659-1 Annex B style).
    Dtmf,
}

impl CidStandard {
    /// Whether the exchange sends it before the first ring (after a polarity
    /// reversal) rather than between the first and second ring.
    pub fn before_first_ring(self) -> bool {
        matches!(self, CidStandard::Dtmf)
    }
}
