//! `tandem-coordinator`: the federation service.
//!
//! It owns the node registry and the CA, accepts gateway sessions over QUIC,
//! decides routing and call control ([`calls`]) and relays media. [`Coordinator`] is the one
//! handle to that state; the binary, the admin socket, the HTTP API and the tests
//! all go through it.

pub mod accounts;
pub mod admin;
pub mod ca;
pub mod calls;
pub mod events;
pub mod http;
pub mod media;
pub mod media_reports;
pub mod registry;
pub mod relay;
pub mod reports;
pub mod server;
pub mod session;
pub mod store;
pub mod tls;

use ca::{Ca, Csr};
use rand::Rng;
use registry::Registry;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use store::{NodeRecord, Store, StoreError};
use tandem_node::link::{EnrollToken, close, now_us};
use tandem_node::names::{NodeId, Site};
use tandem_node::proto::{EnrollRefusal, EnrollRequest, EnrollResult, GoodbyeReason};
use tls::Revocations;

/// The software version reported to peers and operators.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Coordinator start-up failures.
#[derive(Debug, thiserror::Error)]
pub enum CoordinatorError {
    #[error("data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Ca(#[from] ca::CaError),
    #[error(transparent)]
    Tls(#[from] tls::ServerTlsError),
    #[error("HTTPS: {0}")]
    HttpTls(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        #[source]
        source: std::io::Error,
    },
}

/// Handle to the coordinator's state; cheap to clone.
#[derive(Clone)]
pub struct Coordinator {
    inner: Arc<Inner>,
}

struct Inner {
    data_dir: PathBuf,
    store: Store,
    ca: Ca,
    revocations: Revocations,
    registry: Registry,
    relay: std::sync::Mutex<relay::RelayTable<NodeId>>,
    calls: calls::service::CallService,
    events: events::EventBus,
    media_reports: media_reports::MediaReports,
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    now_us() / 1_000_000
}

impl Coordinator {
    /// Opens (creating on first use) the data directory: database and CA.
    pub fn open(data_dir: &Path) -> Result<Self, CoordinatorError> {
        create_private_dir(data_dir)?;
        let store = Store::open(data_dir)?;
        let ca = Ca::load_or_create(data_dir)?;
        let revoked = store
            .nodes()?
            .into_iter()
            .filter(|n| n.revoked_at.is_some())
            .map(|n| n.node_id);
        let calls = calls::service::CallService::restore(&store);
        Ok(Self {
            inner: Arc::new(Inner {
                data_dir: data_dir.to_path_buf(),
                calls,
                store,
                ca,
                revocations: Revocations::new(revoked),
                registry: Registry::default(),
                relay: Default::default(),
                events: Default::default(),
                media_reports: Default::default(),
            }),
        })
    }

    pub fn data_dir(&self) -> &Path {
        &self.inner.data_dir
    }

    pub fn ca(&self) -> &Ca {
        &self.inner.ca
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    pub fn revocations(&self) -> &Revocations {
        &self.inner.revocations
    }

    /// Gateways' latest jitter-buffer totals, for `/metrics`.
    pub fn media_reports(&self) -> &media_reports::MediaReports {
        &self.inner.media_reports
    }

    /// Live call, queue, agent and node events for the operator surfaces.
    pub fn events(&self) -> &events::EventBus {
        &self.inner.events
    }

    /// Creates a one-time enrollment token for `site`, valid for `ttl_secs`.
    pub fn create_token(&self, site: Site, ttl_secs: u64) -> Result<EnrollToken, StoreError> {
        let now = now_secs();
        let token = EnrollToken::generate(
            site,
            self.inner.ca.fingerprint(),
            now + ttl_secs,
            &ring::rand::SystemRandom::new(),
        )?;
        self.inner.store.add_token(&token, now)?;
        Ok(token)
    }

    /// Handles an enrollment request. Blocking (signs and commits).
    pub fn enroll(&self, request: &EnrollRequest) -> EnrollResult {
        match self.try_enroll(request) {
            Ok(result) => result,
            Err(refusal) => EnrollResult::Refused(refusal),
        }
    }

    fn try_enroll(&self, request: &EnrollRequest) -> Result<EnrollResult, EnrollRefusal> {
        let token = EnrollToken::parse(&request.token).map_err(|_| EnrollRefusal::Malformed)?;
        if token.ca_fingerprint != self.inner.ca.fingerprint() {
            return Err(EnrollRefusal::Unknown);
        }
        let csr =
            Csr::parse(&request.csr_der).map_err(|e| EnrollRefusal::BadRequest(e.to_string()))?;
        let ca = &self.inner.ca;
        let (node, cert_der) = self
            .inner
            .store
            .enroll(
                &token,
                csr.key_hash(),
                now_secs(),
                new_node_id,
                |id, site| {
                    ca.issue_node_cert(id, site, &csr)
                        .map_err(|e| EnrollRefusal::Internal(e.to_string()))
                },
            )
            .map_err(|e| EnrollRefusal::Internal(e.to_string()))??;
        tracing::info!(node = %node.node_id, site = %node.site, "node enrolled");
        Ok(EnrollResult::Enrolled {
            node_id: node.node_id,
            site: node.site,
            cert_der,
            ca_der: ca.cert_der().to_vec(),
        })
    }

    /// Revokes a node: refused at every later handshake, and its live session (if
    /// any) is ended at once. Returns the record and whether it was online.
    pub fn revoke(&self, id: &NodeId) -> Result<(NodeRecord, bool), StoreError> {
        let record = self.inner.store.revoke(id, now_secs())?;
        self.inner.revocations.insert(id.clone());
        let was_online = self
            .inner
            .registry
            .kick(id, GoodbyeReason::Revoked, close::REVOKED);
        tracing::warn!(node = %id, site = %record.site, was_online, "node revoked");
        Ok((record, was_online))
    }
}

/// Node ids are the site plus a random suffix: readable in logs, unique by check.
fn new_node_id(site: &Site) -> Result<NodeId, EnrollRefusal> {
    let prefix: String = site.as_str().chars().take(40).collect();
    let prefix = prefix.trim_end_matches('-');
    let suffix: u32 = rand::rng().random_range(0..0x100_0000);
    NodeId::new(format!("{prefix}-{suffix:06x}"))
        .map_err(|e| EnrollRefusal::Internal(e.to_string()))
}

fn create_private_dir(dir: &Path) -> Result<(), CoordinatorError> {
    use std::os::unix::fs::DirBuilderExt;
    let err = |source| CoordinatorError::DataDir {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(err)
}
