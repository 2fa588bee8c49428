//! First contact with the coordinator: trade a one-time token for a certificate.

use crate::identity::{GatewayStore, Identity, IdentityError};
use std::time::Duration;
use tandem_node::link::{
    COORDINATOR_SERVER_NAME, CaFingerprint, EnrollToken, TokenError, close, now_us,
};
use tandem_node::proto::kind_name;
use tandem_node::proto::{EnrollRefusal, EnrollRequest, EnrollResult, Message};
use tandem_node_io::link::tls::{TlsError, enrollment_client_config};
use tandem_node_io::link::{ControlStream, LinkError, NodeKey};

/// Enrollment failures, each telling the field tech what to do.
#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    #[error("enrollment token")]
    Token(#[from] TokenError),
    #[error("the token expired at {0} (unix seconds); ask the administrator for a new one")]
    Expired(u64),
    #[error("this gateway is already enrolled as node {0}; pass --force to replace that identity")]
    AlreadyEnrolled(String),
    #[error("cannot resolve coordinator address {0:?}: {1}")]
    Resolve(String, String),
    #[error("cannot reach the coordinator at {0}: {1}")]
    Connect(String, String),
    #[error("the coordinator refused the enrollment")]
    Refused(#[from] EnrollRefusal),
    #[error("the coordinator sent a CA that does not match the token's fingerprint")]
    CaMismatch,
    #[error(transparent)]
    Link(#[from] LinkError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error("key")]
    Key(#[from] tandem_node_io::link::KeyError),
    #[error("no answer from the coordinator within {0:?}")]
    Timeout(Duration),
}

const ENROLL_TIMEOUT: Duration = Duration::from_secs(15);

/// Resolves "host:port" to a socket address.
pub async fn resolve(addr: &str) -> Result<std::net::SocketAddr, EnrollError> {
    tokio::net::lookup_host(addr)
        .await
        .map_err(|e| EnrollError::Resolve(addr.to_owned(), e.to_string()))?
        .next()
        .ok_or_else(|| EnrollError::Resolve(addr.to_owned(), "no address".to_owned()))
}

/// A client endpoint on an ephemeral port of the right address family.
pub fn client_endpoint(remote: std::net::SocketAddr) -> std::io::Result<quinn::Endpoint> {
    let local: std::net::SocketAddr = if remote.is_ipv6() {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    };
    quinn::Endpoint::client(local)
}

/// Enrolls this gateway and stores its identity in `store`.
pub async fn enroll(
    store: &GatewayStore,
    coordinator: &str,
    token_text: &str,
    force: bool,
) -> Result<Identity, EnrollError> {
    let token = EnrollToken::parse(token_text)?;
    if token.expires_at <= now_us() / 1_000_000 {
        return Err(EnrollError::Expired(token.expires_at));
    }
    if let Some(existing) = store.identity()?
        && !force
    {
        return Err(EnrollError::AlreadyEnrolled(existing.node_id.to_string()));
    }
    let key = NodeKey::generate()?;
    let request = EnrollRequest {
        token: token_text.trim().to_owned(),
        csr_der: key.csr_der()?,
        software_version: crate::VERSION.to_owned(),
    };
    let result = tokio::time::timeout(
        ENROLL_TIMEOUT,
        exchange(coordinator, token.ca_fingerprint, request),
    )
    .await
    .map_err(|_| EnrollError::Timeout(ENROLL_TIMEOUT))??;
    let (node_id, site, cert_der, ca_der) = match result {
        EnrollResult::Enrolled {
            node_id,
            site,
            cert_der,
            ca_der,
        } => (node_id, site, cert_der, ca_der),
        EnrollResult::Refused(refusal) => return Err(refusal.into()),
    };
    if CaFingerprint::of(&ca_der) != token.ca_fingerprint {
        return Err(EnrollError::CaMismatch);
    }
    let identity = Identity {
        node_id,
        site,
        coordinator: coordinator.to_owned(),
        cert_der,
        ca_der,
        key_pem: key.to_pem(),
    };
    store.save_identity(&identity)?;
    tracing::info!(node = %identity.node_id, site = %identity.site, "enrolled");
    Ok(identity)
}

async fn exchange(
    coordinator: &str,
    pin: CaFingerprint,
    request: EnrollRequest,
) -> Result<EnrollResult, EnrollError> {
    let addr = resolve(coordinator).await?;
    let endpoint = client_endpoint(addr)
        .map_err(|e| EnrollError::Connect(coordinator.to_owned(), e.to_string()))?;
    let connecting = endpoint
        .connect_with(
            enrollment_client_config(pin)?,
            addr,
            COORDINATOR_SERVER_NAME,
        )
        .map_err(|e| EnrollError::Connect(coordinator.to_owned(), e.to_string()))?;
    let conn = connecting
        .await
        .map_err(|e| EnrollError::Connect(coordinator.to_owned(), e.to_string()))?;
    let mut control = ControlStream::open(&conn).await?;
    control.send(&Message::EnrollRequest(request)).await?;
    let answer = control.recv_answering().await?;
    conn.close(quinn::VarInt::from_u32(close::NORMAL), b"enrolled");
    endpoint.wait_idle().await;
    match answer.message {
        Message::EnrollResult(result) => Ok(result),
        other => Err(LinkError::Unexpected {
            expected: "EnrollResult",
            got: kind_name(&other),
        }
        .into()),
    }
}
