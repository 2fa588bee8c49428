//! Contact-center KPIs computed only from the engine's events, so a report means
//! exactly what these definitions say — whether it is computed live on the
//! coordinator or later from uploaded CDRs.
//!
//! Definitions (per queue and in total; a contact is attributed to the queue where
//! it was answered or abandoned, i.e. after any overflow):
//! - **Queued contacts** = answered + abandoned voice/chat contacts, *excluding*
//!   callbacks; contacts still waiting at the end of the window are not counted,
//!   nor are calls the engine rejected (blacklist, every queue full).
//! - **Service level** X/T = contacts answered within T (the queue's
//!   `service_level.threshold_ms`, waits measured from first queue entry) ÷ queued
//!   contacts. Abandons count in the denominator whenever they happen, even within T
//!   (the strict variant: a short abandon is a caller we failed).
//! - **ASA** = mean wait (first queue entry → answer) of answered contacts.
//! - **AHT** = mean (talk + hold + after-call work) of completed contacts,
//!   callbacks included (their handling is real work).
//! - **Abandonment rate** = abandoned ÷ queued contacts. A caller who chose a
//!   callback is not an abandon.
//! - **Answer rate** = offers answered ÷ offers decided by the agent (answered,
//!   rejected or timed out); offers withdrawn by the engine (ring-all losers, caller
//!   hung up while ringing, agent went on break) are left out.
//! - **Occupancy** (per agent and in total) = handle time (on call + wrap-up) ÷
//!   (handle time + available time (ready or ringing)); not-ready and logged-out
//!   time is in neither.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::config::RoutingConfig;
use super::events::{Event, EventKind};
use super::model::{AgentId, AgentState, OfferEnd, QueueId};
use super::time::Timestamp;

/// Counters and ratios of one queue (or of all queues).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QueueKpis {
    /// Answered contacts (callbacks excluded).
    pub answered: u64,
    /// Of which answered within the service-level threshold.
    pub answered_within_sl: u64,
    /// Abandoned contacts (callbacks excluded).
    pub abandoned: u64,
    /// Callbacks requested.
    pub callbacks: u64,
    /// Sum of waits of answered contacts, ms.
    pub answered_wait_ms: u64,
    /// Completed contacts.
    pub completed: u64,
    /// Sum of handle times of completed contacts, ms.
    pub handle_ms: u64,
    /// Offers the agents decided on.
    pub offers_decided: u64,
    /// Of which answered.
    pub offers_answered: u64,
}

impl QueueKpis {
    /// Answered + abandoned.
    pub fn queued(&self) -> u64 {
        self.answered + self.abandoned
    }
    /// Service level as a fraction.
    pub fn service_level(&self) -> Option<f64> {
        ratio(self.answered_within_sl, self.queued())
    }
    /// Average speed of answer, ms.
    pub fn asa_ms(&self) -> Option<f64> {
        ratio(self.answered_wait_ms, self.answered)
    }
    /// Average handle time, ms.
    pub fn aht_ms(&self) -> Option<f64> {
        ratio(self.handle_ms, self.completed)
    }
    /// Abandoned ÷ queued.
    pub fn abandonment_rate(&self) -> Option<f64> {
        ratio(self.abandoned, self.queued())
    }
    /// Offers answered ÷ offers decided.
    pub fn answer_rate(&self) -> Option<f64> {
        ratio(self.offers_answered, self.offers_decided)
    }

    fn add(&mut self, o: &QueueKpis) {
        self.answered += o.answered;
        self.answered_within_sl += o.answered_within_sl;
        self.abandoned += o.abandoned;
        self.callbacks += o.callbacks;
        self.answered_wait_ms += o.answered_wait_ms;
        self.completed += o.completed;
        self.handle_ms += o.handle_ms;
        self.offers_decided += o.offers_decided;
        self.offers_answered += o.offers_answered;
    }
}

/// Time accounting of one agent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentKpis {
    /// On call or in wrap-up, ms.
    pub handle_ms: u64,
    /// Ready or ringing, ms.
    pub available_ms: u64,
}

impl AgentKpis {
    /// Handle ÷ (handle + available).
    pub fn occupancy(&self) -> Option<f64> {
        ratio(self.handle_ms, self.handle_ms + self.available_ms)
    }
}

/// KPIs of a window of events.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KpiReport {
    /// Per queue.
    pub queues: BTreeMap<QueueId, QueueKpis>,
    /// Per agent.
    pub agents: BTreeMap<AgentId, AgentKpis>,
}

impl KpiReport {
    /// Every queue added up.
    pub fn total(&self) -> QueueKpis {
        let mut t = QueueKpis::default();
        for q in self.queues.values() {
            t.add(q);
        }
        t
    }

    /// Occupancy of all agents together.
    pub fn occupancy(&self) -> Option<f64> {
        let handle: u64 = self.agents.values().map(|a| a.handle_ms).sum();
        let available: u64 = self.agents.values().map(|a| a.available_ms).sum();
        ratio(handle, handle + available)
    }

    /// Computes the report from `events` (in order), closing open agent intervals
    /// at `until`. Thresholds come from `config` (20 s for queues it no longer has).
    pub fn from_events(events: &[Event], config: &RoutingConfig, until: Timestamp) -> KpiReport {
        let thresholds: HashMap<QueueId, u64> = config
            .queues
            .iter()
            .map(|q| (q.id, q.service_level.threshold_ms))
            .collect();
        let default_threshold = super::config::ServiceLevelTarget::default().threshold_ms;
        let mut report = KpiReport::default();
        let mut callbacks = HashSet::new();
        let mut offer_queue = HashMap::new();
        let mut agent_since: HashMap<AgentId, (Timestamp, AgentState)> = HashMap::new();
        for e in events {
            match &e.kind {
                EventKind::CallbackRequested { call, queue } => {
                    callbacks.insert(*call);
                    report.queues.entry(*queue).or_default().callbacks += 1;
                }
                EventKind::Offered { offer, queue, .. } => {
                    offer_queue.insert(*offer, *queue);
                }
                EventKind::OfferEnded { offer, how, .. } => {
                    if let Some(q) = offer_queue.remove(offer)
                        && *how != OfferEnd::Cancelled
                    {
                        report.queues.entry(q).or_default().offers_decided += 1;
                    }
                }
                EventKind::Answered {
                    offer,
                    call,
                    queue,
                    waited_ms,
                    ..
                } => {
                    offer_queue.remove(offer);
                    let q = report.queues.entry(*queue).or_default();
                    q.offers_decided += 1;
                    q.offers_answered += 1;
                    if !callbacks.contains(call) {
                        q.answered += 1;
                        q.answered_wait_ms += waited_ms;
                        let threshold = thresholds.get(queue).copied().unwrap_or(default_threshold);
                        q.answered_within_sl += u64::from(*waited_ms <= threshold);
                    }
                }
                EventKind::Abandoned { call, queue, .. } if !callbacks.contains(call) => {
                    report.queues.entry(*queue).or_default().abandoned += 1;
                }
                EventKind::Completed {
                    queue,
                    talk_ms,
                    hold_ms,
                    wrap_ms,
                    ..
                } => {
                    let q = report.queues.entry(*queue).or_default();
                    q.completed += 1;
                    q.handle_ms += talk_ms + hold_ms + wrap_ms;
                }
                EventKind::AgentStateChanged { agent, state } => {
                    if let Some((since, old)) = agent_since.insert(*agent, (e.at, state.clone())) {
                        account(
                            report.agents.entry(*agent).or_default(),
                            &old,
                            e.at.since(since),
                        );
                    }
                }
                _ => {}
            }
        }
        for (agent, (since, state)) in agent_since {
            account(
                report.agents.entry(agent).or_default(),
                &state,
                until.since(since),
            );
        }
        report
    }
}

fn account(a: &mut AgentKpis, state: &AgentState, ms: u64) {
    match state {
        AgentState::OnCall | AgentState::WrapUp => a.handle_ms += ms,
        AgentState::Ready | AgentState::Reserved => a.available_ms += ms,
        AgentState::LoggedOut | AgentState::NotReady(_) => {}
    }
}

fn ratio(num: u64, den: u64) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}
