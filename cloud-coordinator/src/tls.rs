//! Server-side TLS: mutual TLS against the coordinator CA, with revocation checked
//! during the handshake so a revoked gateway never gets a session.

use crate::ca::{Ca, CaError};
use rustls::DistinguishedName;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use tandem_node::link::ALPN;
use tandem_node::names::{NodeId, Site};
use tandem_node_io::link::tls::{TlsError, provider};
use tandem_node_io::link::transport_config;

/// Node ids refused at the handshake. Shared between the TLS verifier (reads on
/// every handshake) and the admin path (writes on revoke).
#[derive(Clone, Default)]
pub struct Revocations(Arc<RwLock<HashSet<NodeId>>>);

impl Revocations {
    pub fn new(ids: impl IntoIterator<Item = NodeId>) -> Self {
        Self(Arc::new(RwLock::new(ids.into_iter().collect())))
    }

    pub fn insert(&self, id: NodeId) {
        // A poisoned lock only means a panic elsewhere; the set itself is intact.
        self.0.write().unwrap_or_else(|e| e.into_inner()).insert(id);
    }

    pub fn contains(&self, id: &NodeId) -> bool {
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains(id)
    }
}

/// Server TLS failures.
#[derive(Debug, thiserror::Error)]
pub enum ServerTlsError {
    #[error(transparent)]
    Ca(#[from] CaError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("TLS configuration")]
    Rustls(#[from] rustls::Error),
    #[error("client verifier: {0}")]
    Verifier(String),
}

/// The node id and site a certificate was issued to (subject CN and OU).
pub fn identity_of(cert: &[u8]) -> Option<(NodeId, Site)> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert).ok()?;
    let subject = parsed.subject();
    let cn = subject.iter_common_name().next()?.as_str().ok()?;
    let ou = subject.iter_organizational_unit().next()?.as_str().ok()?;
    Some((NodeId::new(cn).ok()?, Site::new(ou).ok()?))
}

/// Builds the QUIC server configuration.
pub fn server_config(
    ca: &Ca,
    revocations: Revocations,
) -> Result<quinn::ServerConfig, ServerTlsError> {
    let identity = ca.issue_server_identity()?;
    let provider = provider();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(ca.cert_der().to_vec()))
        .map_err(|e| ServerTlsError::Verifier(e.to_string()))?;
    let inner = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()
        .map_err(|e| ServerTlsError::Verifier(e.to_string()))?;
    let verifier = Arc::new(RevocationAware { inner, revocations });
    let chain = vec![
        CertificateDer::from(identity.cert_der),
        CertificateDer::from(ca.cert_der().to_vec()),
    ];
    let key = PrivateKeyDer::Pkcs8(identity.key.serialize_der().into());
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)?;
    tls.alpn_protocols = vec![ALPN.to_vec()];
    let quic = quinn::crypto::rustls::QuicServerConfig::try_from(tls)
        .map_err(|e| ServerTlsError::Tls(TlsError::Quic(e)))?;
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(quic));
    config.transport_config(Arc::new(transport_config()));
    Ok(config)
}

/// Chain validation by webpki, then the revocation list.
#[derive(Debug)]
struct RevocationAware {
    inner: Arc<dyn ClientCertVerifier>,
    revocations: Revocations,
}

impl std::fmt::Debug for Revocations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Revocations")
    }
}

impl ClientCertVerifier for RevocationAware {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        // Unauthenticated connections may only enroll; the session code enforces it.
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)?;
        let (node, _) = identity_of(end_entity).ok_or(rustls::Error::InvalidCertificate(
            rustls::CertificateError::BadEncoding,
        ))?;
        if self.revocations.contains(&node) {
            tracing::warn!(node = %node, "refused a revoked node at the handshake");
            return Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::Revoked,
            ));
        }
        Ok(verified)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
