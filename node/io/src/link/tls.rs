//! TLS for the gateway side of the link (the coordinator builds its server side
//! from the same provider and [`super::transport_config`]).

use super::{NodeKey, transport_config};
use rustls::DigitallySignedStruct;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use std::sync::Arc;
use tandem_node::link::{ALPN, CaFingerprint};

/// Failures building a TLS configuration.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("TLS configuration")]
    Rustls(#[from] rustls::Error),
    #[error("TLS configuration has no QUIC-capable cipher suite")]
    Quic(#[from] quinn::crypto::rustls::NoInitialCipherSuite),
    #[error("the stored CA certificate is unusable: {0}")]
    BadCa(String),
}

/// The one crypto provider used everywhere (ring: pure build, no cmake).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Client configuration for an enrolled node: trusts only the coordinator CA and
/// presents the node certificate.
pub fn enrolled_client_config(
    ca_der: &[u8],
    cert_der: &[u8],
    key: &NodeKey,
) -> Result<quinn::ClientConfig, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from(ca_der.to_vec()))
        .map_err(|e| TlsError::BadCa(e.to_string()))?;
    let tls = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_root_certificates(roots)
        .with_client_auth_cert(
            vec![CertificateDer::from(cert_der.to_vec())],
            key.rustls_key(),
        )?;
    quic_client(tls)
}

/// Client configuration for enrollment: no client certificate yet, and the server
/// must chain to the CA whose fingerprint the token carries.
pub fn enrollment_client_config(pin: CaFingerprint) -> Result<quinn::ClientConfig, TlsError> {
    let provider = provider();
    let tls = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedCa { pin, provider }))
        .with_no_client_auth();
    quic_client(tls)
}

fn quic_client(mut tls: rustls::ClientConfig) -> Result<quinn::ClientConfig, TlsError> {
    tls.alpn_protocols = vec![ALPN.to_vec()];
    let quic = quinn::crypto::rustls::QuicClientConfig::try_from(tls)?;
    let mut config = quinn::ClientConfig::new(Arc::new(quic));
    config.transport_config(Arc::new(transport_config()));
    Ok(config)
}

/// Whether a connection failed because the coordinator refused our certificate as
/// revoked (TLS alert `certificate_revoked`), as opposed to a network problem worth
/// retrying.
pub fn is_revocation(err: &quinn::ConnectionError) -> bool {
    let revoked =
        quinn::TransportErrorCode::crypto(u8::from(rustls::AlertDescription::CertificateRevoked));
    match err {
        quinn::ConnectionError::ConnectionClosed(close) => close.error_code == revoked,
        quinn::ConnectionError::TransportError(e) => e.code == revoked,
        _ => false,
    }
}

/// Verifies the coordinator against the CA named by the token's fingerprint: the CA
/// certificate must be in the presented chain and hash to the pin, and the server
/// certificate must verify against it. No trust on first use.
#[derive(Debug)]
struct PinnedCa {
    pin: CaFingerprint,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedCa {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let ca = intermediates
            .iter()
            .find(|c| CaFingerprint::of(c) == self.pin)
            .ok_or_else(|| {
                rustls::Error::General(format!(
                    "the coordinator's CA does not match the token's fingerprint {}",
                    self.pin
                ))
            })?;
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(ca.clone().into_owned())
            .map_err(|e| rustls::Error::General(e.to_string()))?;
        let inner =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), self.provider.clone())
                .build()
                .map_err(|e| rustls::Error::General(e.to_string()))?;
        inner.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
