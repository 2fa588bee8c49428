//! Jitter-buffer totals reported by gateways ([`Message::MediaStats`]), kept per
//! node so operators see media loss on `/metrics`.
//!
//! Soft state: the latest report of each node since the coordinator started,
//! kept after the node goes offline so its series do not vanish between
//! scrapes. A gateway counts from its own start, so a restarted gateway starts
//! again from zero: Prometheus treats that as a counter reset, and each node is
//! its own series, so nothing is mixed. A report that cannot be true (a counter
//! going down within one session, more packets lost than expected) comes from a
//! misbehaving peer: it is refused with a reason and the previous report stays.
//!
//! [`Message::MediaStats`]: tandem_node::proto::Message::MediaStats

use std::collections::BTreeMap;
use std::sync::Mutex;

use tandem_node::media::{MediaTotals, MediaTotalsError};
use tandem_node::names::{NodeId, Site};

/// One node's latest totals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeMediaReport {
    pub node: NodeId,
    pub site: Site,
    pub totals: MediaTotals,
}

struct Latest {
    site: Site,
    /// The session that sent it: counters may only restart in a new one.
    session: u64,
    totals: MediaTotals,
}

/// The latest report of every node. The lock is held for map operations only.
#[derive(Default)]
pub struct MediaReports {
    latest: Mutex<BTreeMap<NodeId, Latest>>,
}

impl MediaReports {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<NodeId, Latest>> {
        // Plain data: a panic elsewhere cannot leave an entry half-written.
        self.latest.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps `totals` as `node`'s latest report, unless it cannot follow the
    /// previous report of the same `session`.
    pub fn record(
        &self,
        node: &NodeId,
        site: &Site,
        session: u64,
        totals: MediaTotals,
    ) -> Result<(), MediaTotalsError> {
        let mut latest = self.lock();
        let earlier = latest
            .get(node)
            .filter(|l| l.session == session)
            .map(|l| &l.totals);
        totals.check(earlier)?;
        latest.insert(
            node.clone(),
            Latest {
                site: site.clone(),
                session,
                totals,
            },
        );
        Ok(())
    }

    /// Every node's latest report, by node id.
    pub fn all(&self) -> Vec<NodeMediaReport> {
        self.lock()
            .iter()
            .map(|(node, l)| NodeMediaReport {
                node: node.clone(),
                site: l.site.clone(),
                totals: l.totals,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn totals(expected: u64, received: u64, lost: u64) -> MediaTotals {
        MediaTotals {
            expected,
            received,
            lost,
            ..MediaTotals::default()
        }
    }

    #[test]
    fn the_latest_sound_report_of_each_node_is_kept() {
        let reports = MediaReports::default();
        let (a, b) = (
            NodeId::new("bj-01-a").unwrap(),
            NodeId::new("sh-01-b").unwrap(),
        );
        let (bj, sh) = (Site::new("bj-01").unwrap(), Site::new("sh-01").unwrap());
        reports.record(&b, &sh, 1, totals(10, 10, 0)).unwrap();
        reports.record(&a, &bj, 2, totals(100, 90, 10)).unwrap();
        reports.record(&a, &bj, 2, totals(200, 185, 15)).unwrap();
        // Going down within a session: a misbehaving peer, ignored.
        let err = reports
            .record(&a, &bj, 2, totals(150, 140, 10))
            .unwrap_err();
        assert!(err.to_string().contains("went down"), "{err}");
        // More lost than expected: ignored too.
        assert!(reports.record(&b, &sh, 1, totals(10, 0, 11)).is_err());
        let all = reports.all();
        assert_eq!(all.len(), 2);
        assert_eq!((&all[0].node, &all[0].site), (&a, &bj));
        assert_eq!(all[0].totals, totals(200, 185, 15));
        assert_eq!(all[1].totals, totals(10, 10, 0));
        // A restarted gateway counts from zero again, in a new session.
        reports.record(&a, &bj, 3, totals(5, 5, 0)).unwrap();
        assert_eq!(reports.all()[0].totals, totals(5, 5, 0));
    }
}
