//! The coordinator's durable state in redb: enrolled nodes and enrollment tokens,
//! uploaded gateway records (CDRs…), center configurations, queue events and
//! dispositions.
//!
//! redb allows one opener per file; admin commands reach a running server through
//! its admin socket instead (see [`crate::admin`]).

use crate::calls::{Disposition, QueueEvent};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use std::path::Path;
use tandem_node::calls::Cdr;
use tandem_node::inventory::Inventory;
use tandem_node::link::EnrollToken;
use tandem_node::names::{NodeId, Site};
use tandem_node::proto::{EnrollRefusal, RecordKind, UploadRecord};
use tandem_node::record::{self, RecordError};
use tandem_node::routing::Event;
use tandem_node::storage::{DbError, read_table};

const NODES: TableDefinition<&str, &[u8]> = TableDefinition::new("nodes");
const TOKENS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("tokens");
/// Uploaded gateway records, keyed by (node, sequence): stored once however often
/// a gateway retries.
const UPLOADS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("uploads");
const UPLOAD_RECORD_VERSION: u8 = 1;

/// Center configurations by version (1, 2, …): the latest is in force.
const CONFIGS: TableDefinition<u64, &[u8]> = TableDefinition::new("center_configs");
const CONFIG_RECORD_VERSION: u8 = 1;
/// Router events (queue log) in the order they happened.
const QUEUE_EVENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("queue_events");
const QUEUE_EVENT_RECORD_VERSION: u8 = 1;
/// Agents' dispositions, by (call, agent): a corrected disposition replaces the
/// earlier one.
const DISPOSITIONS: TableDefinition<(u64, u32), &[u8]> = TableDefinition::new("dispositions");
const DISPOSITION_RECORD_VERSION: u8 = 1;

const NODE_RECORD_VERSION: u8 = 1;
const TOKEN_RECORD_VERSION: u8 = 1;

const DB_FILE: &str = "coordinator.redb";

/// Storage failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "the data directory is in use by a running coordinator (and its admin socket did not answer)"
    )]
    Locked,
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("stored record")]
    Record(#[from] RecordError),
    #[error("no node {0}")]
    UnknownNode(NodeId),
    #[error("cannot make a token")]
    Token(#[from] tandem_node::link::TokenError),
}

tandem_node::redb_errors_into!(StoreError, |e| StoreError::Db(e.into()));

/// What the coordinator knows of a node between sessions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeRecord {
    pub node_id: NodeId,
    pub site: Site,
    /// Unix seconds.
    pub enrolled_at: u64,
    /// Unix seconds; `None` while active.
    pub revoked_at: Option<u64>,
    /// Unix seconds of the last moment the node was known online.
    pub last_seen: Option<u64>,
    pub software_version: Option<String>,
    pub address: Option<String>,
    pub inventory: Inventory,
}

/// A token as stored: only the hash of its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct TokenRecord {
    site: Site,
    secret_hash: [u8; 32],
    created_at: u64,
    expires_at: u64,
    /// Node enrolled with it and the SHA-256 of that node's request key, so a retry
    /// by the same box (same key) gets its certificate again.
    used: Option<(NodeId, [u8; 32])>,
}

/// An uploaded record as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredUpload {
    pub kind: RecordKind,
    pub created_at_us: u64,
    /// Coordinator clock when first stored, microseconds.
    pub received_at_us: u64,
    pub body: Vec<u8>,
}

/// A stored center configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredConfig {
    /// Its version.
    pub version: u64,
    /// When it was loaded, microseconds since the epoch.
    pub loaded_at_us: u64,
    /// Postcard of the [`tandem_node::calls::CenterConfig`].
    pub body: Vec<u8>,
}

/// The coordinator database.
pub struct Store {
    db: Database,
}

impl Store {
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        match Database::create(dir.join(DB_FILE)) {
            Ok(db) => Ok(Self { db }),
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => Err(StoreError::Locked),
            Err(e) => Err(e.into()),
        }
    }

    /// The database, for tables kept by other modules (accounts).
    pub(crate) fn db(&self) -> &Database {
        &self.db
    }

    /// Records a new token.
    pub fn add_token(&self, token: &EnrollToken, now: u64) -> Result<(), StoreError> {
        let rec = TokenRecord {
            site: token.site.clone(),
            secret_hash: token.secret_hash(),
            created_at: now,
            expires_at: token.expires_at,
            used: None,
        };
        let tx = self.db.begin_write()?;
        tx.open_table(TOKENS)?.insert(
            token.token_id.as_slice(),
            record::encode(TOKEN_RECORD_VERSION, &rec).as_slice(),
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Spends a token and records the new node, atomically. `issue` signs the
    /// certificate for the chosen node id; it runs inside the transaction so a
    /// failure leaves the token unspent.
    pub fn enroll(
        &self,
        token: &EnrollToken,
        key_hash: [u8; 32],
        now: u64,
        new_id: impl Fn(&Site) -> Result<NodeId, EnrollRefusal>,
        issue: impl FnOnce(&NodeId, &Site) -> Result<Vec<u8>, EnrollRefusal>,
    ) -> Result<Result<(NodeRecord, Vec<u8>), EnrollRefusal>, StoreError> {
        let tx = self.db.begin_write()?;
        let outcome = {
            let mut tokens = tx.open_table(TOKENS)?;
            let mut nodes = tx.open_table(NODES)?;
            let stored = match tokens.get(token.token_id.as_slice())? {
                Some(v) => record::decode::<TokenRecord>(TOKEN_RECORD_VERSION, v.value())?,
                None => return Ok(Err(EnrollRefusal::Unknown)),
            };
            if stored.secret_hash != token.secret_hash() {
                return Ok(Err(EnrollRefusal::Unknown));
            }
            let node_id = match &stored.used {
                Some((node_id, used_key)) if *used_key == key_hash => node_id.clone(),
                Some((node_id, _)) => {
                    return Ok(Err(EnrollRefusal::AlreadyUsed {
                        node_id: node_id.clone(),
                    }));
                }
                None if now >= stored.expires_at => {
                    return Ok(Err(EnrollRefusal::Expired {
                        expired_at: stored.expires_at,
                    }));
                }
                None => loop {
                    let id = match new_id(&stored.site) {
                        Ok(id) => id,
                        Err(refusal) => return Ok(Err(refusal)),
                    };
                    if nodes.get(id.as_str())?.is_none() {
                        break id;
                    }
                },
            };
            let cert = match issue(&node_id, &stored.site) {
                Ok(cert) => cert,
                Err(refusal) => return Ok(Err(refusal)),
            };
            let node = match nodes.get(node_id.as_str())? {
                Some(v) => record::decode::<NodeRecord>(NODE_RECORD_VERSION, v.value())?,
                None => NodeRecord {
                    node_id: node_id.clone(),
                    site: stored.site.clone(),
                    enrolled_at: now,
                    revoked_at: None,
                    last_seen: None,
                    software_version: None,
                    address: None,
                    inventory: Inventory::default(),
                },
            };
            nodes.insert(
                node_id.as_str(),
                record::encode(NODE_RECORD_VERSION, &node).as_slice(),
            )?;
            let spent = TokenRecord {
                used: Some((node_id, key_hash)),
                ..stored
            };
            tokens.insert(
                token.token_id.as_slice(),
                record::encode(TOKEN_RECORD_VERSION, &spent).as_slice(),
            )?;
            (node, cert)
        };
        tx.commit()?;
        Ok(Ok(outcome))
    }

    pub fn node(&self, id: &NodeId) -> Result<Option<NodeRecord>, StoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(NODES)?;
        let found = table.get(id.as_str())?;
        Ok(match found {
            Some(v) => Some(record::decode(NODE_RECORD_VERSION, v.value())?),
            None => None,
        })
    }

    pub fn nodes(&self) -> Result<Vec<NodeRecord>, StoreError> {
        self.all(NODES, NODE_RECORD_VERSION)
    }

    /// Applies `update` to each listed node in one transaction (presence updates
    /// are batched this way so a thousand reconnecting gateways cost a handful of
    /// commits, not a thousand).
    pub fn update_nodes<'a>(
        &self,
        ids: impl IntoIterator<Item = &'a NodeId>,
        mut update: impl FnMut(&mut NodeRecord),
    ) -> Result<(), StoreError> {
        let tx = self.db.begin_write()?;
        {
            let mut table = tx.open_table(NODES)?;
            for id in ids {
                let current = table
                    .get(id.as_str())?
                    .map(|v| record::decode::<NodeRecord>(NODE_RECORD_VERSION, v.value()))
                    .transpose()?;
                if let Some(mut node) = current {
                    update(&mut node);
                    table.insert(
                        id.as_str(),
                        record::encode(NODE_RECORD_VERSION, &node).as_slice(),
                    )?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Stores a gateway's uploaded records durably, each `(node, seq)` once, and
    /// returns every sequence number now safe to acknowledge (including ones
    /// stored by an earlier, unacknowledged attempt).
    pub fn ingest(
        &self,
        node: &NodeId,
        records: &[UploadRecord],
        now_us: u64,
    ) -> Result<Vec<u64>, StoreError> {
        let tx = self.db.begin_write()?;
        {
            let mut table = tx.open_table(UPLOADS)?;
            for r in records {
                let key = (node.as_str(), r.seq);
                if table.get(key)?.is_none() {
                    let stored = StoredUpload {
                        kind: r.kind,
                        created_at_us: r.created_at_us,
                        received_at_us: now_us,
                        body: r.body.clone(),
                    };
                    table.insert(
                        key,
                        record::encode(UPLOAD_RECORD_VERSION, &stored).as_slice(),
                    )?;
                }
            }
        }
        tx.commit()?;
        Ok(records.iter().map(|r| r.seq).collect())
    }

    /// Every stored upload of `node`, by sequence number.
    pub fn uploads(&self, node: &NodeId) -> Result<Vec<(u64, StoredUpload)>, StoreError> {
        let tx = self.db.begin_read()?;
        let Some(table) = read_table(&tx, UPLOADS)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for entry in table.range((node.as_str(), 0)..=(node.as_str(), u64::MAX))? {
            let (k, v) = entry?;
            out.push((
                k.value().1,
                record::decode(UPLOAD_RECORD_VERSION, v.value())?,
            ));
        }
        Ok(out)
    }

    /// The version the next stored configuration gets.
    pub fn next_config_version(&self) -> Result<u64, StoreError> {
        Ok(self.latest_config()?.map_or(1, |c| c.version + 1))
    }

    /// Stores a validated configuration as `version`.
    pub fn save_config(&self, config: &StoredConfig) -> Result<(), StoreError> {
        let tx = self.db.begin_write()?;
        tx.open_table(CONFIGS)?.insert(
            config.version,
            record::encode(CONFIG_RECORD_VERSION, config).as_slice(),
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The configuration in force: the highest version stored.
    pub fn latest_config(&self) -> Result<Option<StoredConfig>, StoreError> {
        let tx = self.db.begin_read()?;
        let Some(table) = read_table(&tx, CONFIGS)? else {
            return Ok(None);
        };
        let last = table.last()?;
        Ok(match last {
            Some((_, v)) => Some(record::decode(CONFIG_RECORD_VERSION, v.value())?),
            None => None,
        })
    }

    /// Appends queue events and stores dispositions, in one transaction.
    pub fn append_call_records(
        &self,
        events: &[QueueEvent],
        dispositions: &[Disposition],
    ) -> Result<(), StoreError> {
        if events.is_empty() && dispositions.is_empty() {
            return Ok(());
        }
        let tx = self.db.begin_write()?;
        {
            let mut table = tx.open_table(QUEUE_EVENTS)?;
            let first = table.last()?.map_or(1, |(k, _)| k.value() + 1);
            for (key, e) in (first..).zip(events) {
                table.insert(
                    key,
                    record::encode(QUEUE_EVENT_RECORD_VERSION, e).as_slice(),
                )?;
            }
            let mut table = tx.open_table(DISPOSITIONS)?;
            for d in dispositions {
                table.insert(
                    (d.call.0, d.agent.0),
                    record::encode(DISPOSITION_RECORD_VERSION, d).as_slice(),
                )?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Every stored queue event, oldest first.
    pub fn queue_events(&self) -> Result<Vec<QueueEvent>, StoreError> {
        self.all(QUEUE_EVENTS, QUEUE_EVENT_RECORD_VERSION)
    }

    /// Every stored disposition, by call then agent.
    pub fn dispositions(&self) -> Result<Vec<Disposition>, StoreError> {
        self.all(DISPOSITIONS, DISPOSITION_RECORD_VERSION)
    }

    /// Every uploaded CDR, decoded with [`Cdr::from_record`], and how many CDR
    /// uploads could not be decoded (a gateway writing another version).
    pub fn cdrs(&self) -> Result<(Vec<Cdr>, usize), StoreError> {
        self.decoded_uploads(RecordKind::Cdr, Cdr::from_record)
    }

    /// Every routing event a gateway's local router recorded while the WAN was
    /// down (uploads of [`RecordKind::QueueEvent`]), and how many could not be
    /// decoded.
    pub fn local_queue_events(&self) -> Result<(Vec<Event>, usize), StoreError> {
        self.decoded_uploads(RecordKind::QueueEvent, Event::from_record)
    }

    /// The uploads of `kind` from every node, decoded; undecodable ones counted.
    fn decoded_uploads<T>(
        &self,
        kind: RecordKind,
        decode: impl Fn(&[u8]) -> Result<T, RecordError>,
    ) -> Result<(Vec<T>, usize), StoreError> {
        let uploads: Vec<StoredUpload> = self.all(UPLOADS, UPLOAD_RECORD_VERSION)?;
        let (mut out, mut bad) = (Vec::new(), 0);
        for upload in uploads.iter().filter(|u| u.kind == kind) {
            match decode(&upload.body) {
                Ok(v) => out.push(v),
                Err(_) => bad += 1,
            }
        }
        Ok((out, bad))
    }

    /// Every record of `table`, in key order, decoded at `version`.
    fn all<K: redb::Key + 'static, T: serde::de::DeserializeOwned>(
        &self,
        table: TableDefinition<'_, K, &'static [u8]>,
        version: u8,
    ) -> Result<Vec<T>, StoreError> {
        let tx = self.db.begin_read()?;
        let Some(table) = read_table(&tx, table)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for entry in table.iter()? {
            let (_, v) = entry?;
            out.push(record::decode(version, v.value())?);
        }
        Ok(out)
    }

    /// Marks a node revoked. Idempotent.
    pub fn revoke(&self, id: &NodeId, now: u64) -> Result<NodeRecord, StoreError> {
        let mut found = None;
        self.update_nodes([id], |node| {
            node.revoked_at.get_or_insert(now);
            found = Some(node.clone());
        })?;
        found.ok_or_else(|| StoreError::UnknownNode(id.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandem_node::link::CaFingerprint;

    fn token(expires_at: u64) -> EnrollToken {
        EnrollToken::generate(
            Site::new("bj-01").unwrap(),
            CaFingerprint([1; 32]),
            expires_at,
        )
        .unwrap()
    }

    fn enroll(
        store: &Store,
        t: &EnrollToken,
        key: u8,
        now: u64,
    ) -> Result<(NodeRecord, Vec<u8>), EnrollRefusal> {
        store
            .enroll(
                t,
                [key; 32],
                now,
                |site| Ok(NodeId::new(format!("{site}-{now}")).unwrap()),
                |_, _| Ok(vec![9]),
            )
            .unwrap()
    }

    #[test]
    fn tokens_work_once_and_expire() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let t = token(100);
        store.add_token(&t, 10).unwrap();
        let (node, _) = enroll(&store, &t, 1, 50).unwrap();
        assert_eq!(node.site.as_str(), "bj-01");
        // The same box retrying gets the same node back.
        assert_eq!(enroll(&store, &t, 1, 60).unwrap().0.node_id, node.node_id);
        assert_eq!(
            enroll(&store, &t, 2, 60),
            Err(EnrollRefusal::AlreadyUsed {
                node_id: node.node_id.clone()
            })
        );
        let late = token(100);
        store.add_token(&late, 10).unwrap();
        assert_eq!(
            enroll(&store, &late, 3, 100),
            Err(EnrollRefusal::Expired { expired_at: 100 })
        );
        let mut forged = late.clone();
        forged.secret[0] ^= 1;
        assert_eq!(enroll(&store, &forged, 3, 50), Err(EnrollRefusal::Unknown));
        assert_eq!(
            enroll(&store, &token(100), 3, 50),
            Err(EnrollRefusal::Unknown)
        );
        assert!(store.revoke(&node.node_id, 70).unwrap().revoked_at == Some(70));
        assert_eq!(
            store.revoke(&node.node_id, 80).unwrap().revoked_at,
            Some(70)
        );
        assert!(matches!(
            store.revoke(&NodeId::new("nope").unwrap(), 1),
            Err(StoreError::UnknownNode(_))
        ));
        drop(store);
        assert_eq!(Store::open(dir.path()).unwrap().nodes().unwrap().len(), 1);
    }

    #[test]
    fn uploads_are_stored_once_per_node_and_sequence() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (a, b) = (NodeId::new("a").unwrap(), NodeId::new("b").unwrap());
        let rec = |seq: u64, byte: u8| UploadRecord {
            seq,
            kind: RecordKind::Cdr,
            created_at_us: seq,
            body: vec![byte],
        };
        assert_eq!(
            store.ingest(&a, &[rec(1, 1), rec(2, 2)], 10).unwrap(),
            vec![1, 2]
        );
        // A retry after a lost acknowledgement: acknowledged again, stored once,
        // and the first copy (with its first receive time) is kept.
        assert_eq!(
            store.ingest(&a, &[rec(2, 9), rec(3, 3)], 20).unwrap(),
            vec![2, 3]
        );
        store.ingest(&b, &[rec(1, 7)], 30).unwrap();
        let got = store.uploads(&a).unwrap();
        assert_eq!(
            got.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
        assert_eq!(
            (got[1].1.body.clone(), got[1].1.received_at_us),
            (vec![2], 10)
        );
        assert_eq!(store.uploads(&b).unwrap().len(), 1);
    }

    #[test]
    fn dispositions_are_stored_durably_and_a_correction_replaces_the_first() {
        use crate::calls::Disposition;
        use tandem_node::routing::{AgentId, CallId};
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let d = |call: u64, agent: u32, code: &str| Disposition {
            call: CallId(call),
            agent: AgentId(agent),
            code: code.into(),
            note: format!("note {call}"),
            at_ms: 5,
        };
        store
            .append_call_records(&[], &[d(2, 1, "resolved"), d(1, 4, "escalated")])
            .unwrap();
        store
            .append_call_records(&[], &[d(2, 1, "callback")])
            .unwrap();
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(
            store.dispositions().unwrap(),
            vec![d(1, 4, "escalated"), d(2, 1, "callback")]
        );
    }

    #[test]
    fn uploaded_cdrs_decode_and_other_records_are_left_out() {
        use tandem_node::calls::{Cdr, EndCause, Hangup};
        use tandem_node::routing::CallId;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let cdr = Cdr {
            call: CallId(9),
            site: Site::new("bj-01").unwrap(),
            line: "fxo1".into(),
            outbound: false,
            number: Some("+8613800000001".into()),
            started_us: 1,
            answered_us: Some(2),
            ended_us: 3,
            hangup: Hangup::Caller,
            cause: EndCause::Completed,
            ivr_path: vec![],
            queue: None,
            agents: vec![],
            recording: None,
            events: vec![],
        };
        let rec = |seq, kind, body| UploadRecord {
            seq,
            kind,
            created_at_us: 0,
            body,
        };
        let node = NodeId::new("bj-01-a").unwrap();
        store
            .ingest(
                &node,
                &[
                    rec(1, RecordKind::Cdr, cdr.to_record()),
                    rec(2, RecordKind::QueueEvent, vec![1, 2]),
                    rec(3, RecordKind::Cdr, vec![9, 9]),
                ],
                0,
            )
            .unwrap();
        assert_eq!(store.cdrs().unwrap(), (vec![cdr], 1));
    }

    #[test]
    fn a_second_opener_is_told_the_directory_is_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let _first = Store::open(dir.path()).unwrap();
        assert!(matches!(Store::open(dir.path()), Err(StoreError::Locked)));
    }
}
