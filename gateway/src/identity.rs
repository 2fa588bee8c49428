//! The gateway's enrolled identity, kept in its data directory across reboots.

use redb::{Database, ReadableDatabase, TableDefinition};
use serde::{Deserialize, Serialize};
use std::path::Path;
use tandem_node::names::{NodeId, Site};
use tandem_node::record::{self, RecordError};
use tandem_node_io::link::NodeKey;
use tandem_node_io::link::tls::{TlsError, enrolled_client_config};

const DB_FILE: &str = "gateway.redb";
const IDENTITY: TableDefinition<&str, &[u8]> = TableDefinition::new("identity");
const KEY: &str = "self";
const IDENTITY_RECORD_VERSION: u8 = 1;

/// Identity storage failures.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("data directory {0}: {1}")]
    DataDir(String, std::io::Error),
    #[error(transparent)]
    Db(#[from] tandem_node_io::storage::DbError),
    #[error("stored identity")]
    Record(#[from] RecordError),
    #[error("stored key")]
    Key(#[from] tandem_node_io::link::KeyError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(
        "this gateway is not enrolled yet: run `tandem-gateway enroll --coordinator ADDR --token TOKEN --data DIR` first"
    )]
    NotEnrolled,
}

tandem_node_io::redb_errors_into!(IdentityError, |e| IdentityError::Db(e.into()));

/// Everything the gateway needs to reconnect on every boot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub node_id: NodeId,
    pub site: Site,
    /// Address the field tech enrolled against (host:port).
    pub coordinator: String,
    pub cert_der: Vec<u8>,
    pub ca_der: Vec<u8>,
    pub key_pem: String,
}

impl Identity {
    /// QUIC client configuration presenting this identity.
    pub fn client_config(&self) -> Result<quinn::ClientConfig, IdentityError> {
        let key = NodeKey::from_pem(&self.key_pem)?;
        Ok(enrolled_client_config(&self.ca_der, &self.cert_der, &key)?)
    }
}

/// The gateway database: identity, outbox and the cached configuration. One
/// handle per process, since redb admits one opener.
pub struct GatewayStore {
    db: std::sync::Arc<Database>,
}

impl GatewayStore {
    pub fn open(dir: &Path) -> Result<Self, IdentityError> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| IdentityError::DataDir(dir.display().to_string(), e))?;
        Ok(Self {
            db: std::sync::Arc::new(Database::create(dir.join(DB_FILE))?),
        })
    }

    /// The outbox, sharing this database.
    pub fn outbox(&self) -> crate::outbox::Outbox {
        crate::outbox::Outbox::new(self.db.clone())
    }

    /// The cached deployment configuration, sharing this database.
    pub fn config_cache(&self) -> crate::calls::config_cache::ConfigCache {
        crate::calls::config_cache::ConfigCache::new(self.db.clone())
    }

    pub fn identity(&self) -> Result<Option<Identity>, IdentityError> {
        let tx = self.db.begin_read()?;
        let Some(table) = tandem_node_io::storage::read_table(&tx, IDENTITY)? else {
            return Ok(None);
        };
        let value = table.get(KEY)?;
        Ok(match value {
            Some(v) => Some(record::decode(IDENTITY_RECORD_VERSION, v.value())?),
            None => None,
        })
    }

    pub fn save_identity(&self, identity: &Identity) -> Result<(), IdentityError> {
        let tx = self.db.begin_write()?;
        tx.open_table(IDENTITY)?.insert(
            KEY,
            record::encode(IDENTITY_RECORD_VERSION, identity).as_slice(),
        )?;
        tx.commit()?;
        Ok(())
    }
}
