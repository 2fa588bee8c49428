//! The coordinator's private certificate authority.
//!
//! Gateways trust only this CA (pinned by fingerprint in their enrollment token) and
//! the coordinator trusts only node certificates it issued, so no public PKI or DNS
//! is involved in federation identity. The CA key is kept in the data directory,
//! readable only by the service user.

use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls_pki_types::{CertificateDer, CertificateSigningRequestDer};
use std::path::{Path, PathBuf};
use tandem_node::link::{COORDINATOR_SERVER_NAME, CaFingerprint};
use tandem_node::names::{NodeId, Site};

const CA_CERT_FILE: &str = "ca-cert.der";
const CA_KEY_FILE: &str = "ca-key.pem";

/// Node certificates are long-lived; revocation, not expiry, removes a node.
const NODE_CERT_DAYS: i64 = 5 * 365;
const SERVER_CERT_DAYS: i64 = 2 * 365;
const CA_DAYS: i64 = 20 * 365;

/// CA failures.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    #[error("CA file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("certificate operation failed")]
    Rcgen(#[from] rcgen::Error),
    #[error("the certificate request is not valid: {0}")]
    BadCsr(String),
}

/// The CA, loaded or created at start-up.
pub struct Ca {
    cert_der: Vec<u8>,
    issuer: Issuer<'static, KeyPair>,
    fingerprint: CaFingerprint,
}

/// A parsed certificate signing request.
pub struct Csr(CertificateSigningRequestParams);

impl Csr {
    /// Parses and checks the request's self-signature.
    pub fn parse(der: &[u8]) -> Result<Self, CaError> {
        CertificateSigningRequestParams::from_der(&CertificateSigningRequestDer::from(der))
            .map(Csr)
            .map_err(|e| CaError::BadCsr(e.to_string()))
    }

    /// SHA-256 of the requested public key: identifies the requesting box.
    pub fn key_hash(&self) -> [u8; 32] {
        use rcgen::PublicKeyData;
        CaFingerprint::of(self.0.public_key.der_bytes()).0
    }
}

/// A certificate with its private key, for the coordinator's own TLS identity.
pub struct ServerIdentity {
    pub cert_der: Vec<u8>,
    pub key: KeyPair,
}

impl Ca {
    /// Loads the CA from `dir`, creating it on first start.
    pub fn load_or_create(dir: &Path) -> Result<Self, CaError> {
        let cert_path = dir.join(CA_CERT_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| CaError::Io { path, source }
        };
        if cert_path.exists() {
            let cert_der = std::fs::read(&cert_path).map_err(io(&cert_path))?;
            let key_pem = std::fs::read_to_string(&key_path).map_err(io(&key_path))?;
            let key = KeyPair::from_pem(&key_pem)?;
            let issuer = Issuer::from_ca_cert_der(&CertificateDer::from(cert_der.as_slice()), key)?;
            return Ok(Self::from_parts(cert_der, issuer));
        }
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, "Tandem");
        dn.push(
            DnType::CommonName,
            format!("Tandem coordinator CA {}", hex_id(&key)),
        );
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.not_before = days_from_now(-1);
        params.not_after = days_from_now(CA_DAYS);
        let cert = params.self_signed(&key)?;
        write_private(&key_path, key.serialize_pem().as_bytes()).map_err(io(&key_path))?;
        std::fs::write(&cert_path, cert.der()).map_err(io(&cert_path))?;
        Ok(Self::from_parts(
            cert.der().to_vec(),
            Issuer::new(params, key),
        ))
    }

    fn from_parts(cert_der: Vec<u8>, issuer: Issuer<'static, KeyPair>) -> Self {
        let fingerprint = CaFingerprint::of(&cert_der);
        Self {
            cert_der,
            issuer,
            fingerprint,
        }
    }

    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }

    pub fn fingerprint(&self) -> CaFingerprint {
        self.fingerprint
    }

    /// Issues a node certificate for the key in `csr`. The coordinator, not the
    /// request, decides the subject: the node id, and the site as the unit.
    pub fn issue_node_cert(
        &self,
        node_id: &NodeId,
        site: &Site,
        csr: &Csr,
    ) -> Result<Vec<u8>, CaError> {
        let mut params = CertificateParams::new(vec![format!("{node_id}.node.tandem.invalid")])?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, node_id.as_str());
        dn.push(DnType::OrganizationalUnitName, site.as_str());
        params.distinguished_name = dn;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.not_before = days_from_now(-1);
        params.not_after = days_from_now(NODE_CERT_DAYS);
        Ok(params
            .signed_by(&csr.0.public_key, &self.issuer)?
            .der()
            .to_vec())
    }

    /// A fresh server certificate for this run of the coordinator.
    pub fn issue_server_identity(&self) -> Result<ServerIdentity, CaError> {
        self.issue_server_identity_for(&[COORDINATOR_SERVER_NAME.to_owned()])
    }

    /// A fresh server certificate for `names` (host names or IP addresses), e.g.
    /// for the HTTPS pages, which browsers reach by the coordinator's real name.
    pub fn issue_server_identity_for(&self, names: &[String]) -> Result<ServerIdentity, CaError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        let mut sans = Vec::new();
        for name in names {
            sans.push(match name.parse::<std::net::IpAddr>() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => SanType::DnsName(name.as_str().try_into()?),
            });
        }
        params.subject_alt_names = sans;
        let mut dn = DistinguishedName::new();
        dn.push(
            DnType::CommonName,
            names
                .first()
                .map_or(COORDINATOR_SERVER_NAME, String::as_str),
        );
        params.distinguished_name = dn;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.not_before = days_from_now(-1);
        params.not_after = days_from_now(SERVER_CERT_DAYS);
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(ServerIdentity {
            cert_der: cert.der().to_vec(),
            key,
        })
    }
}

fn hex_id(key: &KeyPair) -> String {
    let fp = CaFingerprint::of(key.public_key_raw());
    fp.to_string()[..12].to_owned()
}

fn days_from_now(days: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc() + time::Duration::days(days)
}

/// Writes a secret file readable only by its owner.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandem_node_io::link::NodeKey;

    #[test]
    fn persists_and_issues() {
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::load_or_create(dir.path()).unwrap();
        let again = Ca::load_or_create(dir.path()).unwrap();
        assert_eq!(ca.fingerprint(), again.fingerprint());
        let key = NodeKey::generate().unwrap();
        let id = NodeId::new("bj-01-abc123").unwrap();
        let csr = Csr::parse(&key.csr_der().unwrap()).unwrap();
        assert_eq!(
            csr.key_hash(),
            Csr::parse(&key.csr_der().unwrap()).unwrap().key_hash()
        );
        let site = Site::new("bj-01").unwrap();
        let cert = again.issue_node_cert(&id, &site, &csr).unwrap();
        assert_eq!(crate::tls::identity_of(&cert), Some((id, site)));
        assert!(Csr::parse(b"not a csr").is_err());
    }
}
