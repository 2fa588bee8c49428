//! CA fingerprints: what an enrollment token pins. (The node's key pair, an
//! rcgen/rustls type, lives in `tandem_node_io::link::identity`.)

use serde::{Deserialize, Serialize};
use std::fmt;

/// SHA-256 of the coordinator CA certificate (DER). Carried in enrollment tokens so a
/// gateway trusts exactly that CA on first contact.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CaFingerprint(pub [u8; 32]);

impl CaFingerprint {
    pub fn of(cert_der: &[u8]) -> Self {
        let digest = ring::digest::digest(&ring::digest::SHA256, cert_der);
        let mut out = [0u8; 32];
        out.copy_from_slice(digest.as_ref());
        Self(out)
    }
}

impl fmt::Display for CaFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for CaFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CaFingerprint({self})")
    }
}
