//! Site authority: a node speaks only for its own site.
//!
//! A node's certificate names its site; everything the node sends is checked
//! against it. Call reports (`CallUp`) may only touch calls anchored at that
//! site, restore reports may not claim another site's calls, seats or relay
//! legs, uploaded CDRs must be labelled with that site and uploaded routing
//! events may not name another site's calls or agents, and media datagrams
//! must travel on a relay leg the node is an end of (see [`crate::relay`]).
//! Media statistics are keyed by the sending node itself, so they cannot speak
//! for anyone else.
//!
//! A refusal changes nothing, is logged at warn in the session's span (node id
//! and site) and counted per node and kind for `/metrics`
//! (`tandem_authority_refusals_total`). Honest nodes can race with call
//! control (a call forgotten while its report was in flight is unknown, not
//! foreign, and is not counted), so one refusal is not a verdict; a session
//! that collects [`STRIKES_BEFORE_DROP`] of them is dropped with a
//! protocol-violation goodbye naming the reason. Other sessions are untouched.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use tandem_node::calls::Cdr;
use tandem_node::media::LegId;
use tandem_node::names::{NodeId, Site};
use tandem_node::proto::{RecordKind, UploadRecord};
use tandem_node::routing::{AgentId, CallId, Event, EventKind};

/// Refusals one session may collect before it is dropped. Media counts one
/// strike per foreign leg, not per datagram (a leg carries 50 a second).
pub const STRIKES_BEFORE_DROP: u32 = 5;

/// What a refused act was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AuthorityKind {
    /// A call report (`CallUp`) about another site's call.
    Call,
    /// A restore report claiming another site's call, seat or leg.
    Restore,
    /// An agent command for an agent not seated at the node's site.
    Agent,
    /// An upload (CDR or routing event) speaking for another site.
    Upload,
    /// Media on a relay leg the node is not an end of.
    Media,
}

impl AuthorityKind {
    /// The `kind` label on `/metrics`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthorityKind::Call => "call",
            AuthorityKind::Restore => "restore",
            AuthorityKind::Agent => "agent",
            AuthorityKind::Upload => "upload",
            AuthorityKind::Media => "media",
        }
    }
}

/// A refused act: its kind and why, for the log and the goodbye.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} refused: {why}", kind.as_str())]
pub struct Refusal {
    pub kind: AuthorityKind,
    pub why: String,
}

impl Refusal {
    pub fn new(kind: AuthorityKind, why: impl Into<String>) -> Self {
        Refusal {
            kind,
            why: why.into(),
        }
    }
}

/// Refusals since start, per node and kind: what `/metrics` shows. Bounded by
/// the enrolled nodes times five kinds.
#[derive(Default)]
pub struct RefusalCounts {
    counts: Mutex<BTreeMap<(NodeId, AuthorityKind), u64>>,
}

impl RefusalCounts {
    fn add(&self, node: &NodeId, kind: AuthorityKind, n: u64) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        *counts.entry((node.clone(), kind)).or_default() += n;
    }

    /// Every (node, kind, count), by node then kind.
    pub fn all(&self) -> Vec<(NodeId, AuthorityKind, u64)> {
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts
            .iter()
            .map(|((node, kind), n)| (node.clone(), *kind, *n))
            .collect()
    }

    /// One node's refusals of one kind.
    pub fn get(&self, node: &NodeId, kind: AuthorityKind) -> u64 {
        let counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts.get(&(node.clone(), kind)).copied().unwrap_or(0)
    }
}

/// One session's strikes, shared by its control loop and its media task.
pub struct SessionStrikes {
    node: NodeId,
    inner: Mutex<Strikes>,
}

#[derive(Default)]
struct Strikes {
    count: u32,
    foreign_legs: BTreeSet<LegId>,
}

/// What the session must do after a refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Keep going.
    Keep,
    /// Drop the session; the text says why (for the log and the goodbye).
    Drop(String),
}

impl SessionStrikes {
    pub fn new(node: NodeId) -> Self {
        SessionStrikes {
            node,
            inner: Mutex::new(Strikes::default()),
        }
    }

    fn strikes(&self) -> std::sync::MutexGuard<'_, Strikes> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts, logs and judges one refused act.
    pub fn refuse(&self, counts: &RefusalCounts, refusal: &Refusal) -> Verdict {
        counts.add(&self.node, refusal.kind, 1);
        let strikes = {
            let mut s = self.strikes();
            s.count += 1;
            s.count
        };
        tracing::warn!(kind = refusal.kind.as_str(), why = %refusal.why, strikes, "site authority: refused");
        self.judge(strikes, refusal)
    }

    /// Counts a media datagram on `leg`, which the node is not an end of: every
    /// datagram is counted, the first on each leg is logged and is a strike.
    pub fn refuse_media(&self, counts: &RefusalCounts, leg: LegId) -> Verdict {
        counts.add(&self.node, AuthorityKind::Media, 1);
        let strikes = {
            let mut s = self.strikes();
            if !s.foreign_legs.insert(leg) {
                return Verdict::Keep;
            }
            s.count += 1;
            s.count
        };
        let refusal = Refusal::new(
            AuthorityKind::Media,
            format!("media on {leg}, not this node's"),
        );
        tracing::warn!(kind = "media", why = %refusal.why, strikes, "site authority: refused");
        self.judge(strikes, &refusal)
    }

    fn judge(&self, strikes: u32, last: &Refusal) -> Verdict {
        if strikes >= STRIKES_BEFORE_DROP {
            Verdict::Drop(format!(
                "site authority: {strikes} refused acts, the last: {last}"
            ))
        } else {
            Verdict::Keep
        }
    }
}

/// Uploaded records `site` may not store, with why: CDRs labelled with
/// another site. Records that do not decode are left to the store, which keeps
/// them unindexed under the sending node.
pub fn foreign_cdrs(site: &Site, records: &[UploadRecord]) -> Vec<(u64, String)> {
    records
        .iter()
        .filter(|r| r.kind == RecordKind::Cdr)
        .filter_map(|r| {
            let cdr = Cdr::from_record(&r.body).ok()?;
            (cdr.site != *site).then(|| {
                (
                    r.seq,
                    format!(
                        "CDR of call {} is labelled {}, the node is at {site}",
                        cdr.call, cdr.site
                    ),
                )
            })
        })
        .collect()
}

/// The uploaded routing events among `records` (by sequence number), for the
/// call-control checks of [`event_subjects`].
pub fn uploaded_events(records: &[UploadRecord]) -> Vec<(u64, Event)> {
    records
        .iter()
        .filter(|r| r.kind == RecordKind::QueueEvent)
        .filter_map(|r| Some((r.seq, Event::from_record(&r.body).ok()?)))
        .collect()
}

/// The call and the agent a routing event is about.
pub fn event_subjects(kind: &EventKind) -> (Option<CallId>, Option<AgentId>) {
    match kind {
        EventKind::Queued { call, .. }
        | EventKind::Blacklisted { call, .. }
        | EventKind::Rejected { call, .. }
        | EventKind::Overflowed { call, .. }
        | EventKind::Widened { call, .. }
        | EventKind::Held { call }
        | EventKind::Resumed { call }
        | EventKind::Abandoned { call, .. }
        | EventKind::CallbackOffered { call, .. }
        | EventKind::CallbackRequested { call, .. }
        | EventKind::Withdrawn { call, .. } => (Some(*call), None),
        EventKind::Offered { call, agent, .. }
        | EventKind::OfferEnded { call, agent, .. }
        | EventKind::Answered { call, agent, .. }
        | EventKind::Ended { call, agent, .. }
        | EventKind::Completed { call, agent, .. } => (Some(*call), Some(*agent)),
        EventKind::AgentStateChanged { agent, .. } => (None, Some(*agent)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node() -> NodeId {
        NodeId::new("sh-01-000001").unwrap()
    }

    #[test]
    fn the_fifth_strike_drops_and_media_strikes_once_per_leg() {
        let counts = RefusalCounts::default();
        let strikes = SessionStrikes::new(node());
        for _ in 0..100 {
            assert_eq!(strikes.refuse_media(&counts, LegId(7)), Verdict::Keep);
        }
        assert_eq!(counts.get(&node(), AuthorityKind::Media), 100);
        let call = Refusal::new(AuthorityKind::Call, "not yours");
        for _ in 1..STRIKES_BEFORE_DROP - 1 {
            assert_eq!(strikes.refuse(&counts, &call), Verdict::Keep);
        }
        let Verdict::Drop(why) = strikes.refuse_media(&counts, LegId(8)) else {
            panic!("the fifth strike must drop the session");
        };
        assert!(why.contains("leg-8"), "{why}");
        assert_eq!(counts.get(&node(), AuthorityKind::Call), 3);
    }

    #[test]
    fn only_cdrs_labelled_with_another_site_are_foreign() {
        use tandem_node::calls::{EndCause, Hangup};
        let cdr = |site: &str| Cdr {
            call: CallId(1),
            site: Site::new(site).unwrap(),
            line: "fxo1".into(),
            outbound: false,
            number: None,
            started_us: 1,
            answered_us: None,
            ended_us: 2,
            hangup: Hangup::Caller,
            cause: EndCause::Completed,
            ivr_path: vec![],
            queue: None,
            agents: vec![],
            recording: None,
            events: vec![],
        };
        let upload = |seq, kind, body| UploadRecord {
            seq,
            kind,
            created_at_us: 0,
            body,
        };
        let records = [
            upload(1, RecordKind::Cdr, cdr("sh-01").to_record()),
            upload(2, RecordKind::Cdr, cdr("bj-01").to_record()),
            upload(3, RecordKind::Cdr, vec![9, 9]),
            upload(4, RecordKind::IvrEvent, vec![1]),
        ];
        let foreign = foreign_cdrs(&Site::new("sh-01").unwrap(), &records);
        assert_eq!(foreign.len(), 1);
        assert_eq!(foreign[0].0, 2);
        assert!(foreign[0].1.contains("bj-01"), "{}", foreign[0].1);
    }
}
