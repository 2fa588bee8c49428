//! The gateway's outbox: everything the coordinator must eventually receive (CDRs,
//! queue and IVR events, recording index entries), kept durably until the
//! coordinator acknowledges it.
//!
//! A record is committed to redb (fsync) before [`Outbox::append`] returns, so a
//! gateway that crashes right after a call still holds its CDR. Records carry a
//! per-gateway sequence number, allocated in the same transaction, which the
//! coordinator uses to store each record exactly once however often an upload is
//! retried (a lost acknowledgement means a resend, never a duplicate).

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use std::sync::Arc;
use tandem_node::proto::{RecordKind, UploadRecord};
use tandem_node::record::{self, RecordError};
use tandem_node_io::storage::read_table;
use tokio::sync::Notify;

const RECORDS: TableDefinition<u64, &[u8]> = TableDefinition::new("outbox");
const META: TableDefinition<&str, u64> = TableDefinition::new("outbox_meta");
const NEXT_SEQ: &str = "next_seq";
const OUTBOX_RECORD_VERSION: u8 = 1;

/// Outbox failures.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error(transparent)]
    Db(#[from] tandem_node_io::storage::DbError),
    #[error("stored outbox record")]
    Record(#[from] RecordError),
}

tandem_node_io::redb_errors_into!(OutboxError, |e| OutboxError::Db(e.into()));

/// Shared handle to the outbox; cheap to clone.
#[derive(Clone)]
pub struct Outbox {
    db: Arc<Database>,
    appended: Arc<Notify>,
}

impl Outbox {
    pub(crate) fn new(db: Arc<Database>) -> Self {
        Self {
            db,
            appended: Arc::new(Notify::new()),
        }
    }

    /// Stores a record durably and returns its sequence number. Blocking (one
    /// fsync): call from a blocking context, never on the audio path.
    pub fn append(
        &self,
        kind: RecordKind,
        created_at_us: u64,
        body: Vec<u8>,
    ) -> Result<u64, OutboxError> {
        let tx = self.db.begin_write()?;
        let seq = {
            let mut meta = tx.open_table(META)?;
            let seq = meta.get(NEXT_SEQ)?.map(|v| v.value()).unwrap_or(1);
            meta.insert(NEXT_SEQ, seq + 1)?;
            let rec = UploadRecord {
                seq,
                kind,
                created_at_us,
                body,
            };
            tx.open_table(RECORDS)?
                .insert(seq, record::encode(OUTBOX_RECORD_VERSION, &rec).as_slice())?;
            seq
        };
        tx.commit()?;
        self.appended.notify_one();
        Ok(seq)
    }

    /// The oldest unacknowledged records, at most `limit` of them and about
    /// `max_bytes` of bodies (at least one record if any is pending).
    pub fn pending(
        &self,
        limit: usize,
        max_bytes: usize,
    ) -> Result<Vec<UploadRecord>, OutboxError> {
        let tx = self.db.begin_read()?;
        let Some(table) = read_table(&tx, RECORDS)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        let mut bytes = 0usize;
        for entry in table.iter()? {
            let (_, v) = entry?;
            let rec: UploadRecord = record::decode(OUTBOX_RECORD_VERSION, v.value())?;
            bytes += rec.body.len();
            if !out.is_empty() && (out.len() >= limit || bytes > max_bytes) {
                break;
            }
            out.push(rec);
        }
        Ok(out)
    }

    /// Removes records the coordinator has stored. Idempotent.
    pub fn acknowledge(&self, seqs: &[u64]) -> Result<(), OutboxError> {
        let tx = self.db.begin_write()?;
        {
            let mut table = tx.open_table(RECORDS)?;
            for seq in seqs {
                table.remove(*seq)?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Records waiting for acknowledgement.
    pub fn len(&self) -> Result<u64, OutboxError> {
        let tx = self.db.begin_read()?;
        match read_table(&tx, RECORDS)? {
            Some(t) => Ok(t.len()?),
            None => Ok(0),
        }
    }

    pub fn is_empty(&self) -> Result<bool, OutboxError> {
        Ok(self.len()? == 0)
    }

    /// Resolves after the next append (the uplink waits on it when idle).
    pub(crate) async fn appended(&self) {
        self.appended.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::GatewayStore;

    #[test]
    fn survives_reopen_and_acknowledges_idempotently() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = GatewayStore::open(dir.path()).unwrap();
            let outbox = store.outbox();
            for i in 0..5u8 {
                assert_eq!(
                    outbox
                        .append(RecordKind::Cdr, 100 + u64::from(i), vec![i; 10])
                        .unwrap(),
                    u64::from(i) + 1
                );
            }
            outbox.acknowledge(&[1, 2]).unwrap();
            outbox.acknowledge(&[2]).unwrap();
        } // dropped without any shutdown step, like a crash after commit
        let store = GatewayStore::open(dir.path()).unwrap();
        let outbox = store.outbox();
        let pending = outbox.pending(100, 1 << 20).unwrap();
        assert_eq!(
            pending.iter().map(|r| r.seq).collect::<Vec<_>>(),
            vec![3, 4, 5]
        );
        assert_eq!(pending[0].body, vec![2; 10]);
        // Sequence numbers never repeat, even after acknowledgement and reopen.
        assert_eq!(outbox.append(RecordKind::QueueEvent, 1, vec![]).unwrap(), 6);
        assert_eq!(outbox.len().unwrap(), 4);
    }

    #[test]
    fn batches_respect_count_and_size() {
        let dir = tempfile::tempdir().unwrap();
        let store = GatewayStore::open(dir.path()).unwrap();
        let outbox = store.outbox();
        for _ in 0..10 {
            outbox.append(RecordKind::Cdr, 0, vec![0; 100]).unwrap();
        }
        assert_eq!(outbox.pending(4, 1 << 20).unwrap().len(), 4);
        assert_eq!(outbox.pending(100, 250).unwrap().len(), 2);
        // One record larger than the byte budget still goes, alone.
        outbox.acknowledge(&(1..=10).collect::<Vec<_>>()).unwrap();
        outbox.append(RecordKind::Cdr, 0, vec![0; 1000]).unwrap();
        assert_eq!(outbox.pending(100, 250).unwrap().len(), 1);
    }
}
