//! The last deployment configuration the coordinator pushed, kept in the
//! gateway database so a gateway restarted while the WAN is down still answers
//! its lines with the right IVR and routes to its own seats.

use std::sync::Arc;

use redb::{Database, ReadableDatabase, TableDefinition};
use tandem_node::calls::{ConfigPush, ValidCenterConfig};
use tandem_node::record;

use super::CallsError;

const CONFIG: TableDefinition<&str, &[u8]> = TableDefinition::new("calls_config");
const KEY: &str = "center";
const CONFIG_RECORD_VERSION: u8 = 1;

/// The configuration cache (shares the gateway database).
#[derive(Clone)]
pub struct ConfigCache {
    db: Arc<Database>,
}

fn cache_err(e: impl std::fmt::Display) -> CallsError {
    CallsError::Cache(e.to_string())
}

impl ConfigCache {
    pub(crate) fn new(db: Arc<Database>) -> Self {
        ConfigCache { db }
    }

    /// The cached push, if any. Blocking (a read transaction).
    pub fn load(&self) -> Result<Option<ConfigPush>, CallsError> {
        let tx = self.db.begin_read().map_err(cache_err)?;
        let Some(table) = tandem_node_io::storage::read_table(&tx, CONFIG).map_err(cache_err)?
        else {
            return Ok(None);
        };
        let Some(v) = table.get(KEY).map_err(cache_err)? else {
            return Ok(None);
        };
        Ok(Some(
            record::decode(CONFIG_RECORD_VERSION, v.value()).map_err(cache_err)?,
        ))
    }

    /// Validates `push` and stores it unless the cache already holds this
    /// version or a newer one (the coordinator pushes on every reconnect).
    /// Returns the configuration to apply, or `None` for a push already known.
    /// Blocking (one fsync).
    pub fn store(&self, push: &ConfigPush) -> Result<Option<Arc<ValidCenterConfig>>, CallsError> {
        let config = ValidCenterConfig::from_postcard(&push.body)?;
        // Compared with the last *usable* cache: one this build cannot read is
        // replaced even by the same version.
        if let Some((cached, _)) = self.load_valid()
            && cached >= push.version
        {
            tracing::info!(
                cached,
                pushed = push.version,
                "configuration already known; push ignored"
            );
            return Ok(None);
        }
        let tx = self.db.begin_write().map_err(cache_err)?;
        tx.open_table(CONFIG)
            .map_err(cache_err)?
            .insert(KEY, record::encode(CONFIG_RECORD_VERSION, push).as_slice())
            .map_err(cache_err)?;
        tx.commit().map_err(cache_err)?;
        Ok(Some(Arc::new(config)))
    }

    /// The cached configuration, validated again (a cache written by an older
    /// build may no longer pass); an invalid one is reported and ignored.
    pub fn load_valid(&self) -> Option<(u64, Arc<ValidCenterConfig>)> {
        let push = match self.load() {
            Ok(p) => p?,
            Err(err) => {
                tracing::error!(%err, "cannot read the cached configuration");
                return None;
            }
        };
        match ValidCenterConfig::from_postcard(&push.body) {
            Ok(c) => Some((push.version, Arc::new(c))),
            Err(err) => {
                tracing::error!(%err, version = push.version, "cached configuration is not valid; ignored");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::GatewayStore;

    const DEMO: &str = include_str!("../../../center-configs/demo.toml");

    #[test]
    fn newer_wins_older_is_ignored_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let body = ValidCenterConfig::from_toml(DEMO)
            .unwrap()
            .to_postcard()
            .unwrap();
        {
            let store = GatewayStore::open(dir.path()).unwrap();
            let cache = store.config_cache();
            assert!(cache.load_valid().is_none());
            let push = |version| ConfigPush {
                version,
                body: body.clone(),
            };
            assert!(cache.store(&push(5)).unwrap().is_some());
            assert!(cache.store(&push(3)).unwrap().is_none());
            assert!(cache.store(&push(5)).unwrap().is_none());
            assert!(
                cache
                    .store(&ConfigPush {
                        version: 9,
                        body: vec![1, 2, 3]
                    })
                    .is_err()
            );
        }
        let store = GatewayStore::open(dir.path()).unwrap();
        assert_eq!(store.config_cache().load_valid().unwrap().0, 5);
    }
}
