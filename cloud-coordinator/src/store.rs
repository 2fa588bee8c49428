//! The coordinator's durable state in redb: enrolled nodes and enrollment tokens,
//! uploaded gateway records (CDRs…), center configurations, queue events and
//! dispositions.
//!
//! redb allows one opener per file; admin commands reach a running server through
//! its admin socket instead (see [`crate::admin`]).
//!
//! CDR uploads are also indexed, in the transaction that stores them, by start
//! time and by caller number, so an export page, a report's range or a screen
//! pop reads only the CDRs it shows instead of every upload ever received.

use crate::calls::records::{Disposition, QueueEvent};
use redb::{
    Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition,
    WriteTransaction,
};
use serde::{Deserialize, Serialize};
use std::ops::{Bound, Range};
use std::path::Path;
use std::sync::Arc;
use tandem_node::calls::Cdr;
use tandem_node::inventory::Inventory;
use tandem_node::link::EnrollToken;
use tandem_node::names::{NodeId, Site};
use tandem_node::proto::{EnrollRefusal, RecordKind, UploadRecord};
use tandem_node::record::{self, RecordError};
use tandem_node::routing::{CallId, Event};
use tandem_node_io::durable::{Durable, HealthReport, OpenError, Unavailable};
use tandem_node_io::storage::{DbError, read_table};

const NODES: TableDefinition<&str, &[u8]> = TableDefinition::new("nodes");
const TOKENS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("tokens");
/// Uploaded gateway records, keyed by (node, sequence): stored once however often
/// a gateway retries.
const UPLOADS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("uploads");
const UPLOAD_RECORD_VERSION: u8 = 1;

/// The CDR index by time: every decodable CDR upload keyed by (started µs, call,
/// node, sequence) — the upload's (node, sequence) keeps two uploads of one call
/// apart, as the uploads table does — holding the CDR record as uploaded, so a
/// page of an export reads only its own rows.
const CDRS: TableDefinition<(u64, u64, &str, u64), &[u8]> = TableDefinition::new("cdrs_by_start");
/// The same CDRs by (caller number, started µs, call, node, sequence): the key of
/// [`CDRS`] behind the number, for the screen pop's history.
const CDRS_BY_NUMBER: TableDefinition<(&str, u64, u64, &str, u64), ()> =
    TableDefinition::new("cdrs_by_number");
/// Store-wide markers.
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// [`META`] key: the [`CDR_INDEX_VERSION`] the CDR index was built with.
const CDR_INDEX_VERSION_KEY: &str = "cdr_index_version";
/// [`META`] key: the longest call indexed (ended − started, µs), so a report can
/// find the calls that started before its range but still held a line in it.
const LONGEST_CALL_KEY: &str = "cdr_longest_call_us";
/// The CDR index's layout. Bump it when the index changes or this build learns
/// to decode CDRs it skipped before: the next open rebuilds the index from the
/// uploads.
const CDR_INDEX_VERSION: u64 = 1;
/// Uploads read per transaction while rebuilding the CDR index, so a year of
/// records never sits in one transaction.
const INDEX_BATCH: usize = 20_000;
/// Version byte of a [`CdrKey`] cursor.
const CURSOR_VERSION: u8 = 1;

/// Center configurations by version (1, 2, …): the latest is in force.
const CONFIGS: TableDefinition<u64, &[u8]> = TableDefinition::new("center_configs");
const CONFIG_RECORD_VERSION: u8 = 1;

/// Which stored configuration versions are kept: every form save stores a whole
/// configuration (up to [`tandem_node::limits::MAX_CONFIG_BYTES`]), so without
/// pruning the table grows by that much per click.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigRetention {
    /// The latest this many versions are always kept.
    pub keep_last: usize,
    /// Older ones: the last version of each day (UTC) of this many days back
    /// from the newest is kept, the rest removed.
    pub daily_days: u64,
}

/// The retention the coordinator applies: the last 50 versions, and one a day
/// for 90 days.
pub const CONFIG_RETENTION: ConfigRetention = ConfigRetention {
    keep_last: 50,
    daily_days: 90,
};

const DAY_US: u64 = 86_400_000_000;

impl ConfigRetention {
    /// The versions to remove from `stored` ((version, day loaded), oldest
    /// first), `now_us` being when the newest was loaded.
    pub fn doomed(&self, stored: &[(u64, Option<u64>)], now_us: u64) -> Vec<u64> {
        let recent = stored.len().saturating_sub(self.keep_last);
        let first_day = (now_us / DAY_US).saturating_sub(self.daily_days);
        let mut out = Vec::new();
        for (i, &(version, day)) in stored[..recent].iter().enumerate() {
            // A record this build cannot read is left alone, not guessed at.
            let Some(day) = day else { continue };
            let next_day = stored.get(i + 1).and_then(|(_, d)| *d);
            let last_of_its_day = next_day != Some(day);
            if day < first_day || !last_of_its_day {
                out.push(version);
            }
        }
        out
    }
}

/// (version, day loaded) of every stored configuration, oldest first; the day
/// is `None` for a record this build cannot decode.
fn config_days(
    table: &impl ReadableTable<u64, &'static [u8]>,
) -> Result<Vec<(u64, Option<u64>)>, StoreError> {
    let mut out = Vec::new();
    for entry in table.iter()? {
        let (k, v) = entry?;
        let day = record::decode::<StoredConfig>(CONFIG_RECORD_VERSION, v.value())
            .ok()
            .map(|c| c.loaded_at_us / DAY_US);
        out.push((k.value(), day));
    }
    Ok(out)
}
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
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
    #[error("cannot open the database: {0}")]
    Open(#[from] OpenError),
    #[error("stored record")]
    Record(#[from] RecordError),
    #[error("no node {0}")]
    UnknownNode(NodeId),
    #[error("cannot make a token")]
    Token(#[from] tandem_node::link::TokenError),
    /// The database file is open to others (see [`tandem_node_io::private_files`]).
    #[error(transparent)]
    Private(#[from] tandem_node_io::private_files::PrivateFileError),
}

tandem_node_io::redb_errors_into!(StoreError, |e| StoreError::Db(e.into()));

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

/// Where a CDR sits in the time index. Its text form ([`CdrKey::to_cursor`]) is
/// the export's paging cursor: the next page starts after it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CdrKey {
    /// When the call started, µs since the epoch.
    pub started_us: u64,
    /// The call.
    pub call: u64,
    /// The node that uploaded the CDR.
    pub node: String,
    /// Its upload sequence number.
    pub seq: u64,
}

impl CdrKey {
    fn from_key((started_us, call, node, seq): (u64, u64, &str, u64)) -> Self {
        CdrKey {
            started_us,
            call,
            node: node.to_owned(),
            seq,
        }
    }

    fn key(&self) -> (u64, u64, &str, u64) {
        (self.started_us, self.call, self.node.as_str(), self.seq)
    }

    /// The opaque cursor a client sends back to get the next page (hex, so it
    /// needs no escaping in a header or a query string).
    pub fn to_cursor(&self) -> String {
        hex::encode(record::encode(CURSOR_VERSION, self))
    }

    /// Reads a cursor made by [`CdrKey::to_cursor`]; `None` for anything else.
    pub fn from_cursor(text: &str) -> Option<CdrKey> {
        let bytes = hex::decode(text).ok()?;
        record::decode(CURSOR_VERSION, &bytes).ok()
    }
}

/// One page of CDRs, oldest first, and the key the next page starts after
/// (`None` on the last page).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CdrPage {
    pub cdrs: Vec<Cdr>,
    pub next: Option<CdrKey>,
}

/// The CDR index's tables, open in a write transaction.
struct CdrIndex<'t> {
    by_start: redb::Table<'t, (u64, u64, &'static str, u64), &'static [u8]>,
    by_number: redb::Table<'t, (&'static str, u64, u64, &'static str, u64), ()>,
    meta: redb::Table<'t, &'static str, u64>,
    longest_us: u64,
}

impl<'t> CdrIndex<'t> {
    fn open(tx: &'t WriteTransaction) -> Result<Self, StoreError> {
        let meta = tx.open_table(META)?;
        let longest_us = meta.get(LONGEST_CALL_KEY)?.map_or(0, |v| v.value());
        Ok(CdrIndex {
            by_start: tx.open_table(CDRS)?,
            by_number: tx.open_table(CDRS_BY_NUMBER)?,
            meta,
            longest_us,
        })
    }

    /// Indexes the CDR uploaded as `(node, seq)`. A body that does not decode (a
    /// gateway writing another version) is logged and left out: returns false.
    fn add(&mut self, node: &str, seq: u64, body: &[u8]) -> Result<bool, StoreError> {
        let cdr = match Cdr::from_record(body) {
            Ok(cdr) => cdr,
            Err(err) => {
                tracing::warn!(node, seq, %err, "an uploaded CDR could not be decoded; it is stored but not indexed");
                return Ok(false);
            }
        };
        self.by_start
            .insert((cdr.started_us, cdr.call.0, node, seq), body)?;
        if let Some(number) = &cdr.number {
            self.by_number
                .insert((number.as_str(), cdr.started_us, cdr.call.0, node, seq), ())?;
        }
        let length = cdr.ended_us.saturating_sub(cdr.started_us);
        if length > self.longest_us {
            self.longest_us = length;
            self.meta.insert(LONGEST_CALL_KEY, length)?;
        }
        Ok(true)
    }
}

/// What [`Store::ingest`] did with one batch of uploads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ingested {
    /// Every sequence number now safe to acknowledge.
    pub acked: Vec<u64>,
    /// Positions in the batch of the records this call stored (not an earlier
    /// attempt): what live figures may count without counting twice.
    pub fresh: Vec<usize>,
}

/// The coordinator database.
pub struct Store {
    db: Durable,
}

impl Store {
    /// Opens (or creates) the database in `dir`, building the CDR index first if
    /// the store predates it.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let path = dir.join(DB_FILE);
        tandem_node_io::private_files::secret_file(&path)?;
        let store = match Durable::open(&path) {
            Ok(db) => Self { db },
            Err(OpenError::InUse) => return Err(StoreError::Locked),
            Err(e) => return Err(e.into()),
        };
        store.build_cdr_index(INDEX_BATCH)?;
        Ok(store)
    }

    /// A store held in memory with redb's own commit semantics, for the
    /// whole-network simulation: a committed transaction survives a simulated
    /// coordinator crash (the `Store` outlives the call-control core), an
    /// uncommitted one never happened.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        let store = Self {
            db: Durable::in_memory()?,
        };
        store.build_cdr_index(INDEX_BATCH)?;
        Ok(store)
    }

    /// A store-wide marker from [`META`].
    fn meta(&self, key: &str) -> Result<Option<u64>, StoreError> {
        let tx = self.db()?.begin_read()?;
        Ok(match read_table(&tx, META)? {
            Some(meta) => meta.get(key)?.map(|v| v.value()),
            None => None,
        })
    }

    /// Builds the CDR index from the stored uploads when it is missing or of
    /// another [`CDR_INDEX_VERSION`] (a deployment upgrading). In transactions of
    /// `batch` uploads; the version marker is written with the last one, so an
    /// interrupted build starts over at the next open.
    fn build_cdr_index(&self, batch: usize) -> Result<(), StoreError> {
        if self.meta(CDR_INDEX_VERSION_KEY)? == Some(CDR_INDEX_VERSION) {
            return Ok(());
        }
        let tx = self.db()?.begin_write()?;
        tx.delete_table(CDRS)?;
        tx.delete_table(CDRS_BY_NUMBER)?;
        tx.open_table(META)?.remove(LONGEST_CALL_KEY)?;
        tx.commit()?;
        let (mut resume, mut indexed, mut undecodable) = (None::<(String, u64)>, 0u64, 0u64);
        loop {
            let tx = self.db()?.begin_write()?;
            let done = {
                let uploads = tx.open_table(UPLOADS)?;
                let mut index = CdrIndex::open(&tx)?;
                let from = resume.take();
                let lower = match &from {
                    Some((node, seq)) => Bound::Excluded((node.as_str(), *seq)),
                    None => Bound::Unbounded,
                };
                let mut read = 0;
                for entry in uploads.range::<(&str, u64)>((lower, Bound::Unbounded))? {
                    let (k, v) = entry?;
                    let (node, seq) = k.value();
                    let upload: StoredUpload = record::decode(UPLOAD_RECORD_VERSION, v.value())?;
                    if upload.kind == RecordKind::Cdr {
                        if index.add(node, seq, &upload.body)? {
                            indexed += 1;
                        } else {
                            undecodable += 1;
                        }
                    }
                    resume = Some((node.to_owned(), seq));
                    read += 1;
                    if read == batch {
                        break;
                    }
                }
                read < batch
            };
            if done {
                tx.open_table(META)?
                    .insert(CDR_INDEX_VERSION_KEY, CDR_INDEX_VERSION)?;
            }
            tx.commit()?;
            if done {
                break;
            }
        }
        tracing::info!(
            indexed,
            undecodable,
            "CDR index built from the stored uploads"
        );
        Ok(())
    }

    /// The database, for tables kept by other modules (accounts); reopened
    /// first after a storage fault (see [`Durable`]).
    pub(crate) fn db(&self) -> Result<Arc<Database>, StoreError> {
        Ok(self.db.get()?)
    }

    /// Whether writes work, and the fault counters, for `/healthz` and `/metrics`.
    pub fn health(&self) -> HealthReport {
        self.db.health().report()
    }

    /// Reopens the database if a storage fault was seen (at most once per
    /// [`tandem_node_io::durable::RETRY`]); returns whether writes work. Blocking.
    pub fn recover(&self) -> bool {
        self.db.recover()
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
        let tx = self.db()?.begin_write()?;
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
        let tx = self.db()?.begin_write()?;
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
        let tx = self.db()?.begin_read()?;
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
        let tx = self.db()?.begin_write()?;
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
    /// says which sequence numbers are now safe to acknowledge (including ones
    /// stored by an earlier, unacknowledged attempt) and which records are new.
    pub fn ingest(
        &self,
        node: &NodeId,
        records: &[UploadRecord],
        now_us: u64,
    ) -> Result<Ingested, StoreError> {
        let tx = self.db()?.begin_write()?;
        let mut fresh = Vec::new();
        {
            let mut table = tx.open_table(UPLOADS)?;
            let mut index = CdrIndex::open(&tx)?;
            for (i, r) in records.iter().enumerate() {
                let key = (node.as_str(), r.seq);
                if table.get(key)?.is_none() {
                    fresh.push(i);
                    if r.kind == RecordKind::Cdr {
                        index.add(node.as_str(), r.seq, &r.body)?;
                    }
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
        Ok(Ingested {
            acked: records.iter().map(|r| r.seq).collect(),
            fresh,
        })
    }

    /// Every stored upload of `node`, by sequence number.
    pub fn uploads(&self, node: &NodeId) -> Result<Vec<(u64, StoredUpload)>, StoreError> {
        let tx = self.db()?.begin_read()?;
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

    /// Stores a validated configuration as `version` and, in the same
    /// transaction, prunes the older ones by [`CONFIG_RETENTION`].
    pub fn save_config(&self, config: &StoredConfig) -> Result<(), StoreError> {
        let tx = self.db()?.begin_write()?;
        {
            let mut table = tx.open_table(CONFIGS)?;
            table.insert(
                config.version,
                record::encode(CONFIG_RECORD_VERSION, config).as_slice(),
            )?;
            let doomed = CONFIG_RETENTION.doomed(&config_days(&table)?, config.loaded_at_us);
            for version in &doomed {
                table.remove(*version)?;
            }
            if !doomed.is_empty() {
                tracing::info!(pruned = doomed.len(), "old configuration versions pruned");
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The versions of the stored configurations, oldest first.
    pub fn config_versions(&self) -> Result<Vec<u64>, StoreError> {
        let tx = self.db()?.begin_read()?;
        let Some(table) = read_table(&tx, CONFIGS)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for entry in table.iter()? {
            out.push(entry?.0.value());
        }
        Ok(out)
    }

    /// The configuration in force: the highest version stored.
    pub fn latest_config(&self) -> Result<Option<StoredConfig>, StoreError> {
        let tx = self.db()?.begin_read()?;
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
        let tx = self.db()?.begin_write()?;
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

    /// The dispositions of `calls`, read by key: the work grows with the calls
    /// asked about, not with every disposition ever stored.
    pub fn dispositions_of(&self, calls: &[CallId]) -> Result<Vec<Disposition>, StoreError> {
        let tx = self.db()?.begin_read()?;
        let Some(table) = read_table(&tx, DISPOSITIONS)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for call in calls {
            for entry in table.range((call.0, 0)..=(call.0, u32::MAX))? {
                let (_, v) = entry?;
                out.push(record::decode(DISPOSITION_RECORD_VERSION, v.value())?);
            }
        }
        Ok(out)
    }

    /// The CDRs that started in `started_us`, oldest first (by start, then call),
    /// after the cursor `after`, at most `limit` of those `keep` accepts. Reads
    /// only the index rows from the cursor to the page's end (plus one to know
    /// whether another page follows).
    pub fn cdr_page(
        &self,
        started_us: Range<u64>,
        after: Option<&CdrKey>,
        limit: usize,
        mut keep: impl FnMut(&Cdr) -> bool,
    ) -> Result<CdrPage, StoreError> {
        let mut page = CdrPage::default();
        let tx = self.db()?.begin_read()?;
        let Some(table) = read_table(&tx, CDRS)? else {
            return Ok(page);
        };
        let (start, end) = ((started_us.start, 0, "", 0), (started_us.end, 0, "", 0));
        let (lower, bound) = match after {
            Some(after) if after.key() >= start => (after.key(), Bound::Excluded(after.key())),
            _ => (start, Bound::Included(start)),
        };
        if lower >= end {
            return Ok(page);
        }
        let mut last = None;
        for entry in table.range((bound, Bound::Excluded(end)))? {
            let (k, v) = entry?;
            if page.cdrs.len() == limit {
                page.next = last;
                break;
            }
            let cdr = Cdr::from_record(v.value())?;
            if keep(&cdr) {
                page.cdrs.push(cdr);
                last = Some(CdrKey::from_key(k.value()));
            }
        }
        Ok(page)
    }

    /// The CDRs of calls that held a line during `window_us` (started before its
    /// end, ended at or after its start), oldest first: a report's calls. Reads
    /// the index from the window's start less the longest call ever indexed.
    pub fn cdrs_overlapping(&self, window_us: Range<u64>) -> Result<Vec<Cdr>, StoreError> {
        let longest = self.meta(LONGEST_CALL_KEY)?.unwrap_or(0);
        let from = window_us.start.saturating_sub(longest);
        let page = self.cdr_page(from..window_us.end, None, usize::MAX, |c| {
            c.ended_us >= window_us.start
        })?;
        Ok(page.cdrs)
    }

    /// The latest `limit` CDRs of calls from or to `number` that started at or
    /// after `since_us`, newest first (the screen pop's history), from the
    /// number index: reads at most `limit` index rows.
    pub fn latest_cdrs_of(
        &self,
        number: &str,
        since_us: u64,
        limit: usize,
    ) -> Result<Vec<Cdr>, StoreError> {
        let tx = self.db()?.begin_read()?;
        let (Some(by_number), Some(by_start)) =
            (read_table(&tx, CDRS_BY_NUMBER)?, read_table(&tx, CDRS)?)
        else {
            return Ok(Vec::new());
        };
        // Every key of `number` sorts before those of the next string, `number\0`.
        let successor = format!("{number}\0");
        let rows =
            by_number.range((number, since_us, 0, "", 0)..(successor.as_str(), 0, 0, "", 0))?;
        let mut out = Vec::new();
        for entry in rows.rev().take(limit) {
            let (k, _) = entry?;
            let (_, started_us, call, node, seq) = k.value();
            if let Some(v) = by_start.get((started_us, call, node, seq))? {
                out.push(Cdr::from_record(v.value())?);
            }
        }
        Ok(out)
    }

    /// How many CDRs are indexed (read from the index's length, not counted).
    pub fn cdr_count(&self) -> Result<u64, StoreError> {
        let tx = self.db()?.begin_read()?;
        Ok(match read_table(&tx, CDRS)? {
            Some(table) => table.len()?,
            None => 0,
        })
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
        let tx = self.db()?.begin_read()?;
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
    #[test]
    fn configuration_versions_keep_the_last_ones_and_one_a_day_for_the_retention() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let retention = CONFIG_RETENTION;
        // 200 days of edits, three a day, then a busy last day of 60 saves.
        let mut version = 0;
        let mut save = |day: u64, n: u64| {
            for i in 0..n {
                version += 1;
                store
                    .save_config(&StoredConfig {
                        version,
                        loaded_at_us: day * DAY_US + i * 1_000_000,
                        body: vec![1, 2, 3],
                    })
                    .unwrap();
            }
        };
        for day in 0..200 {
            save(day, 3);
        }
        save(200, 60);
        let kept = store.config_versions().unwrap();
        let last = 200 * 3 + 60;
        // The last 50: all from the busy day.
        assert_eq!(
            kept[kept.len() - 50..],
            (last - 49..=last).collect::<Vec<_>>()
        );
        // Before them, one a day (the day's last) for the 90 days back from
        // day 200; the busy day's earlier saves are gone, as is everything older.
        let daily: Vec<u64> = (110..200).map(|day| day * 3 + 3).collect();
        assert_eq!(kept[..kept.len() - 50], daily[..]);
        assert_eq!(
            kept.len(),
            retention.keep_last + retention.daily_days as usize
        );
        // The latest is still the one in force.
        assert_eq!(store.latest_config().unwrap().unwrap().version, last);
    }

    use super::*;
    use tandem_node::link::CaFingerprint;

    fn token(expires_at: u64) -> EnrollToken {
        EnrollToken::generate(
            Site::new("bj-01").unwrap(),
            CaFingerprint([1; 32]),
            expires_at,
            &ring::rand::SystemRandom::new(),
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
        let first = store.ingest(&a, &[rec(1, 1), rec(2, 2)], 10).unwrap();
        assert_eq!((first.acked, first.fresh), (vec![1, 2], vec![0, 1]));
        // A retry after a lost acknowledgement: acknowledged again, stored once,
        // and the first copy (with its first receive time) is kept.
        let retry = store.ingest(&a, &[rec(2, 9), rec(3, 3)], 20).unwrap();
        assert_eq!((retry.acked, retry.fresh), (vec![2, 3], vec![1]));
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
        use crate::calls::records::Disposition;
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

    fn cdr(call: u64, started_us: u64, number: &str) -> Cdr {
        use tandem_node::calls::{EndCause, Hangup};
        use tandem_node::routing::CallId;
        Cdr {
            call: CallId(call),
            site: Site::new("bj-01").unwrap(),
            line: "fxo1".into(),
            outbound: false,
            number: Some(number.into()),
            started_us,
            answered_us: Some(started_us + 1),
            ended_us: started_us + 10,
            hangup: Hangup::Caller,
            cause: EndCause::Completed,
            ivr_path: vec![],
            queue: None,
            agents: vec![],
            recording: None,
            events: vec![],
        }
    }

    fn upload(seq: u64, kind: RecordKind, body: Vec<u8>) -> UploadRecord {
        UploadRecord {
            seq,
            kind,
            created_at_us: 0,
            body,
        }
    }

    fn all_cdrs(store: &Store) -> Vec<Cdr> {
        store
            .cdr_page(0..u64::MAX, None, usize::MAX, |_| true)
            .unwrap()
            .cdrs
    }

    #[test]
    fn uploaded_cdrs_decode_and_other_records_are_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let cdr = cdr(9, 1, "+8613800000001");
        let node = NodeId::new("bj-01-a").unwrap();
        store
            .ingest(
                &node,
                &[
                    upload(1, RecordKind::Cdr, cdr.to_record()),
                    upload(2, RecordKind::QueueEvent, vec![1, 2]),
                    upload(3, RecordKind::Cdr, vec![9, 9]),
                ],
                0,
            )
            .unwrap();
        assert_eq!(all_cdrs(&store), vec![cdr]);
        assert_eq!(store.cdr_count().unwrap(), 1);
        assert_eq!(store.uploads(&node).unwrap().len(), 3, "all stored");
    }

    /// 60 CDRs from two nodes, some starting at the same microsecond.
    fn sixty(store: &Store) -> Vec<Cdr> {
        let mut all = Vec::new();
        for (n, node) in ["bj-01-a", "sh-01-a"].into_iter().enumerate() {
            let node = NodeId::new(node).unwrap();
            let records: Vec<_> = (0..30u64)
                .map(|i| {
                    let call = 100 * n as u64 + i;
                    let c = cdr(call, 1_000 + (i / 3) * 100, &format!("555{}", call % 4));
                    all.push(c.clone());
                    upload(i + 1, RecordKind::Cdr, c.to_record())
                })
                .collect();
            store.ingest(&node, &records, 0).unwrap();
        }
        all.sort_by_key(|c| (c.started_us, c.call));
        all
    }

    #[test]
    fn cursor_paging_visits_every_cdr_of_the_range_once_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let all = sixty(&store);
        assert_eq!(all_cdrs(&store), all);
        let range = 1_200..1_700;
        let wanted: Vec<_> = all
            .iter()
            .filter(|c| range.contains(&c.started_us))
            .cloned()
            .collect();
        assert_eq!(wanted.len(), 30);
        for limit in [1, 7, 30, 31] {
            let (mut got, mut after, mut pages) = (Vec::new(), None, 0);
            loop {
                let page = store
                    .cdr_page(range.clone(), after.as_ref(), limit, |_| true)
                    .unwrap();
                assert!(page.cdrs.len() <= limit);
                got.extend(page.cdrs);
                pages += 1;
                // The cursor survives its text form.
                after = page
                    .next
                    .map(|k| CdrKey::from_cursor(&k.to_cursor()).unwrap());
                if after.is_none() {
                    break;
                }
            }
            assert_eq!(got, wanted, "limit {limit}");
            assert_eq!(pages, wanted.len().div_ceil(limit), "limit {limit}");
        }
        // A filter still fills pages; a cursor from before the range starts it.
        let odd = store
            .cdr_page(range.clone(), None, 5, |c| c.call.0 % 2 == 1)
            .unwrap();
        assert_eq!(odd.cdrs.len(), 5);
        assert!(odd.cdrs.iter().all(|c| c.call.0 % 2 == 1));
        let early = CdrKey {
            started_us: 0,
            call: 0,
            node: "a".into(),
            seq: 0,
        };
        assert_eq!(
            store
                .cdr_page(range.clone(), Some(&early), 100, |_| true)
                .unwrap()
                .cdrs,
            wanted
        );
        assert_eq!(
            store.cdr_page(5..5, None, 10, |_| true).unwrap(),
            CdrPage::default()
        );
        assert_eq!(CdrKey::from_cursor("zz"), None);
        assert_eq!(CdrKey::from_cursor("0100"), None);
    }

    #[test]
    fn a_numbers_latest_calls_come_from_the_number_index_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let all = sixty(&store);
        let mut of_5551: Vec<_> = all
            .iter()
            .filter(|c| c.number.as_deref() == Some("5551"))
            .cloned()
            .collect();
        of_5551.reverse();
        assert_eq!(store.latest_cdrs_of("5551", 0, 100).unwrap(), of_5551);
        assert_eq!(store.latest_cdrs_of("5551", 0, 3).unwrap(), of_5551[..3]);
        assert!(
            store.latest_cdrs_of("555", 0, 10).unwrap().is_empty(),
            "no prefix match"
        );
        assert!(store.latest_cdrs_of("55510", 0, 10).unwrap().is_empty());
    }

    #[test]
    fn a_duplicate_upload_is_indexed_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let node = NodeId::new("bj-01-a").unwrap();
        let first = cdr(1, 50, "5550");
        store
            .ingest(&node, &[upload(1, RecordKind::Cdr, first.to_record())], 0)
            .unwrap();
        // A retry of the same record, and a later resend of (node, 1) with another
        // start time: neither adds a row.
        store
            .ingest(&node, &[upload(1, RecordKind::Cdr, first.to_record())], 1)
            .unwrap();
        store
            .ingest(
                &node,
                &[upload(1, RecordKind::Cdr, cdr(1, 60, "5550").to_record())],
                2,
            )
            .unwrap();
        assert_eq!(all_cdrs(&store), vec![first.clone()]);
        assert_eq!(store.cdr_count().unwrap(), 1);
        assert_eq!(store.latest_cdrs_of("5550", 0, 10).unwrap(), vec![first]);
    }

    #[test]
    fn a_store_without_the_index_is_indexed_when_opened() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let all = sixty(&store);
        let node = NodeId::new("bj-01-a").unwrap();
        store
            .ingest(&node, &[upload(99, RecordKind::Cdr, vec![9])], 0)
            .unwrap();
        // What a store written before the index looks like.
        let tx = store.db().unwrap().begin_write().unwrap();
        tx.delete_table(CDRS).unwrap();
        tx.delete_table(CDRS_BY_NUMBER).unwrap();
        tx.delete_table(META).unwrap();
        tx.commit().unwrap();
        assert!(all_cdrs(&store).is_empty());
        // In transactions of 7 uploads: 61 uploads need 9.
        store.build_cdr_index(7).unwrap();
        assert_eq!(all_cdrs(&store), all);
        assert_eq!(store.cdr_count().unwrap(), 60);
        let of_5552 = all.iter().filter(|c| c.number.as_deref() == Some("5552"));
        assert_eq!(
            store.latest_cdrs_of("5552", 0, 100).unwrap().len(),
            of_5552.count()
        );
        assert_eq!(
            store.meta(CDR_INDEX_VERSION_KEY).unwrap(),
            Some(CDR_INDEX_VERSION)
        );
        // An index of another version is rebuilt, not added to; a current one is kept.
        let tx = store.db().unwrap().begin_write().unwrap();
        tx.open_table(META)
            .unwrap()
            .insert(CDR_INDEX_VERSION_KEY, CDR_INDEX_VERSION + 1)
            .unwrap();
        tx.commit().unwrap();
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(all_cdrs(&store), all);
        assert_eq!(store.cdr_count().unwrap(), 60);
    }

    #[test]
    fn a_window_includes_calls_that_started_before_it_and_still_held_a_line() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let node = NodeId::new("bj-01-a").unwrap();
        let mut long = cdr(1, 100, "5550");
        long.ended_us = 5_000;
        let (short, inside, after) = (
            cdr(2, 200, "5551"),
            cdr(3, 3_000, "5552"),
            cdr(4, 9_000, "5553"),
        );
        let records: Vec<_> = [&long, &short, &inside, &after]
            .into_iter()
            .zip(1..)
            .map(|(c, seq)| upload(seq, RecordKind::Cdr, c.to_record()))
            .collect();
        store.ingest(&node, &records, 0).unwrap();
        assert_eq!(
            store.cdrs_overlapping(2_000..6_000).unwrap(),
            vec![long, inside]
        );
    }

    #[test]
    fn a_second_opener_is_told_the_directory_is_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let _first = Store::open(dir.path()).unwrap();
        assert!(matches!(Store::open(dir.path()), Err(StoreError::Locked)));
    }
}
