//! Queue events and dispositions the store could not take (a full disk, an I/O
//! error), held in memory in the order they happened and written, before any
//! newer record, once the store takes writes again. Bounded: past
//! [`JOURNAL_LIMIT`] records the oldest are dropped, each drop logged as an error
//! and counted in `/metrics`, never silently.

use super::{Disposition, QueueEvent};
use crate::store::{Store, StoreError};

/// Records (events plus dispositions) held at most: about a day of a large
/// center's queue log in a few tens of megabytes.
pub const JOURNAL_LIMIT: usize = 200_000;

/// The records waiting for the store, oldest first.
#[derive(Debug, Default)]
pub struct Journal {
    events: Vec<QueueEvent>,
    dispositions: Vec<Disposition>,
    dropped: u64,
}

/// What `/metrics` shows of the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JournalStats {
    /// Records waiting for the store now.
    pub held: u64,
    /// Records dropped because the journal was full.
    pub dropped: u64,
}

impl Journal {
    /// Adds `events` and `dispositions` after what is held, then writes
    /// everything held in one transaction. On failure the records stay held
    /// (the oldest dropped past the limit) and the error is returned.
    pub fn store(
        &mut self,
        store: &Store,
        events: Vec<QueueEvent>,
        dispositions: Vec<Disposition>,
    ) -> Result<(), StoreError> {
        let was_empty = self.is_empty();
        self.events.extend(events);
        self.dispositions.extend(dispositions);
        self.flush(store).inspect_err(|err| {
            if was_empty {
                tracing::error!(%err, "call records held in memory until the store takes writes again");
            }
            self.bound();
        })
    }

    /// Writes what is held, if anything.
    pub fn flush(&mut self, store: &Store) -> Result<(), StoreError> {
        if self.is_empty() {
            return Ok(());
        }
        store.append_call_records(&self.events, &self.dispositions)?;
        tracing::info!(
            events = self.events.len(),
            dispositions = self.dispositions.len(),
            "held call records stored"
        );
        self.events.clear();
        self.dispositions.clear();
        Ok(())
    }

    fn is_empty(&self) -> bool {
        self.events.is_empty() && self.dispositions.is_empty()
    }

    /// Drops the oldest records past [`JOURNAL_LIMIT`], loudly.
    fn bound(&mut self) {
        let held = self.events.len() + self.dispositions.len();
        let excess = held.saturating_sub(JOURNAL_LIMIT);
        if excess == 0 {
            return;
        }
        let from_events = excess.min(self.events.len());
        self.events.drain(..from_events);
        self.dispositions.drain(..excess - from_events);
        self.dropped += excess as u64;
        tracing::error!(
            dropped = excess,
            total_dropped = self.dropped,
            "call-record journal full: the oldest records are lost"
        );
    }

    pub fn stats(&self) -> JournalStats {
        JournalStats {
            held: (self.events.len() + self.dispositions.len()) as u64,
            dropped: self.dropped,
        }
    }
}
