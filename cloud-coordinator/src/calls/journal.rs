//! Queue events and dispositions the store could not take (a full disk, an I/O
//! error), held in memory in the order they happened and written, before any
//! newer record, once the store takes writes again. Bounded: past
//! [`JOURNAL_LIMIT`] records the oldest are dropped, each drop logged as an error
//! and counted in `/metrics`, never silently.

use super::{Disposition, QueueEvent};
use crate::store::StoreError;

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
        write: impl FnOnce(&[QueueEvent], &[Disposition]) -> Result<(), StoreError>,
        events: Vec<QueueEvent>,
        dispositions: Vec<Disposition>,
    ) -> Result<(), StoreError> {
        let was_empty = self.is_empty();
        self.events.extend(events);
        self.dispositions.extend(dispositions);
        self.flush(write).inspect_err(|err| {
            if was_empty {
                tracing::error!(%err, "call records held in memory until the store takes writes again");
            }
            self.bound();
        })
    }

    /// Writes what is held, if anything, with `write` (the store's
    /// `append_call_records`, one transaction).
    pub fn flush(
        &mut self,
        write: impl FnOnce(&[QueueEvent], &[Disposition]) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        if self.is_empty() {
            return Ok(());
        }
        write(&self.events, &self.dispositions)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use tandem_node::routing::{AgentId, CallId};
    use tandem_node_io::durable::Unavailable;

    fn disposition(call: u64) -> Disposition {
        Disposition {
            call: CallId(call),
            agent: AgentId(1),
            code: "sale".into(),
            note: String::new(),
            at_ms: call,
        }
    }

    fn full(_: &[QueueEvent], _: &[Disposition]) -> Result<(), StoreError> {
        Err(Unavailable("disk full".into()).into())
    }

    #[test]
    fn records_refused_by_the_store_are_written_later_in_order() {
        let mut journal = Journal::default();
        assert!(journal.store(full, vec![], vec![disposition(1)]).is_err());
        assert!(journal.store(full, vec![], vec![disposition(2)]).is_err());
        assert_eq!(
            journal.stats(),
            JournalStats {
                held: 2,
                dropped: 0
            }
        );
        let mut written = Vec::new();
        journal
            .store(
                |_, d| {
                    written.extend(d.iter().map(|d| d.call.0));
                    Ok(())
                },
                vec![],
                vec![disposition(3)],
            )
            .unwrap();
        assert_eq!(written, vec![1, 2, 3], "held records first, in order");
        assert_eq!(
            journal.stats(),
            JournalStats {
                held: 0,
                dropped: 0
            }
        );
        journal.flush(|_, _| panic!("nothing to write")).unwrap();
    }

    #[test]
    fn past_the_limit_the_oldest_are_dropped_and_counted() {
        let mut journal = Journal::default();
        let many: Vec<_> = (0..JOURNAL_LIMIT as u64 + 5).map(disposition).collect();
        assert!(journal.store(full, vec![], many).is_err());
        assert_eq!(
            journal.stats(),
            JournalStats {
                held: JOURNAL_LIMIT as u64,
                dropped: 5
            }
        );
        let mut first = None;
        journal
            .flush(|_, d| {
                first = d.first().map(|d| d.call.0);
                Ok(())
            })
            .unwrap();
        assert_eq!(first, Some(5), "the five oldest were dropped");
    }
}
