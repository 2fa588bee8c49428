//! A node's key pair (rcgen) and its rustls form.

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
