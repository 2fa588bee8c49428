//! Node key material and CA fingerprints.

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

/// Key material failures.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key generation or encoding failed")]
    Rcgen(#[from] rcgen::Error),
}

/// A node's private key. Generated on the node; only the certificate request leaves
/// the box, so a captured enrollment exchange never reveals the key.
pub struct NodeKey {
    pair: rcgen::KeyPair,
}

impl NodeKey {
    pub fn generate() -> Result<Self, KeyError> {
        Ok(Self {
            pair: rcgen::KeyPair::generate()?,
        })
    }

    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        Ok(Self {
            pair: rcgen::KeyPair::from_pem(pem)?,
        })
    }

    pub fn to_pem(&self) -> String {
        self.pair.serialize_pem()
    }

    /// A certificate signing request; the coordinator chooses the subject.
    pub fn csr_der(&self) -> Result<Vec<u8>, KeyError> {
        let params = rcgen::CertificateParams::new(Vec::<String>::new())?;
        Ok(params.serialize_request(&self.pair)?.der().to_vec())
    }

    pub fn rustls_key(&self) -> rustls_pki_types::PrivateKeyDer<'static> {
        rustls_pki_types::PrivateKeyDer::Pkcs8(self.pair.serialize_der().into())
    }

    pub fn key_pair(&self) -> &rcgen::KeyPair {
        &self.pair
    }
}
