//! HTTPS for the web pages, the API and `/metrics`: either a certificate from the
//! coordinator's own CA for the names browsers use (clients then trust `ca.der`
//! from the data directory), or a certificate chain and key an administrator
//! provides (PEM, e.g. from the company's public CA).

use std::path::PathBuf;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::sync::watch;

use super::{Api, HttpOptions};
use crate::Coordinator;

/// Where the HTTPS certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpTls {
    /// Issued at start by the coordinator's own CA for these host names or IP
    /// addresses.
    OwnCa {
        /// Names in the certificate (at least one).
        names: Vec<String>,
    },
    /// A certificate chain and its private key, PEM files.
    Files {
        /// Leaf first, then intermediates.
        cert: PathBuf,
        /// PKCS#8, PKCS#1 or SEC1 key.
        key: PathBuf,
    },
}

/// Why HTTPS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum HttpTlsError {
    #[error("no host name given for the certificate")]
    NoNames,
    #[error("certificate from the coordinator's CA: {0}")]
    Ca(#[from] crate::ca::CaError),
    #[error("{path}: {problem}")]
    File { path: String, problem: String },
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The rustls server configuration for `tls`.
pub fn server_config(
    coordinator: &Coordinator,
    tls: &HttpTls,
) -> Result<Arc<rustls::ServerConfig>, HttpTlsError> {
    let (chain, key) = match tls {
        HttpTls::OwnCa { names } => {
            if names.is_empty() {
                return Err(HttpTlsError::NoNames);
            }
            let identity = coordinator.ca().issue_server_identity_for(names)?;
            let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(identity.key.serialize_der()));
            (vec![CertificateDer::from(identity.cert_der)], key)
        }
        HttpTls::Files { cert, key } => {
            let file_error = |path: &PathBuf, problem: String| HttpTlsError::File {
                path: path.display().to_string(),
                problem,
            };
            let chain = CertificateDer::pem_file_iter(cert)
                .map_err(|e| file_error(cert, e.to_string()))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| file_error(cert, e.to_string()))?;
            if chain.is_empty() {
                return Err(file_error(cert, "no certificate in the file".into()));
            }
            let key =
                PrivateKeyDer::from_pem_file(key).map_err(|e| file_error(key, e.to_string()))?;
            (chain, key)
        }
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Serves the HTTP surface over TLS until `stop`. A failed handshake costs only
/// that connection. Cookies are marked `Secure` and pages ask for HSTS.
pub async fn serve(
    coordinator: Coordinator,
    listener: tokio::net::TcpListener,
    config: Arc<rustls::ServerConfig>,
    stop: watch::Receiver<bool>,
) {
    let desk = coordinator.call_desk();
    let options = HttpOptions {
        https: true,
        ..HttpOptions::from_env()
    };
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    super::listen::serve(
        Api::new(coordinator, desk, options),
        listener,
        Some(acceptor),
        stop,
    )
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_files_are_loaded_and_a_bad_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let coordinator = Coordinator::open(&dir.path().join("data")).unwrap();
        let cert = rcgen::generate_simple_self_signed(vec!["tandem.example.com".into()]).unwrap();
        let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        std::fs::write(&cert_path, cert.cert.pem()).unwrap();
        std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
        let files = HttpTls::Files {
            cert: cert_path.clone(),
            key: key_path.clone(),
        };
        assert!(server_config(&coordinator, &files).is_ok());

        let missing = HttpTls::Files {
            cert: dir.path().join("nope.pem"),
            key: key_path,
        };
        let e = server_config(&coordinator, &missing)
            .unwrap_err()
            .to_string();
        assert!(e.contains("nope.pem"), "{e}");
        let swapped = HttpTls::Files {
            cert: cert_path.clone(),
            key: cert_path,
        };
        let e = server_config(&coordinator, &swapped)
            .unwrap_err()
            .to_string();
        assert!(e.contains("cert.pem"), "{e}");
        let no_names = HttpTls::OwnCa { names: vec![] };
        assert!(matches!(
            server_config(&coordinator, &no_names),
            Err(HttpTlsError::NoNames)
        ));
    }
}
