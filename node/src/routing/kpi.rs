//! Contact-center KPIs computed only from the engine's events, so a figure means
//! exactly what these definitions say wherever it is shown — the wallboard, the
//! reports, an agent's own figures, the simulator — and whether the events were
//! the coordinator's own or uploaded by a gateway that routed alone. This is the
//! one implementation; README.md's KPI table restates the definitions.
//!
//! Definitions (per queue and in total; a contact is attributed to the queue where
//! it was answered or abandoned, i.e. after any overflow; a transfer into a queue
//! is a new contact there):
//! - **Offered** = answered + abandoned voice/chat contacts, *excluding*
//!   callbacks; contacts still waiting at the end of the window are not counted
//!   yet (the wallboard shows them as waiting), nor are calls the engine rejected
//!   (blacklist, every queue full) or handed back to a branch's own router (that
//!   router's uploaded events count them).
//! - **Answered** = offered contacts an agent answered.
//! - **Abandoned** = offered contacts whose caller hung up while waiting or
//!   ringing. A caller who chose a callback is not an abandon.
//! - **Answer rate** = answered ÷ offered; **abandonment rate** = abandoned ÷
//!   offered (the two add up to 100 %).
//! - **Service level** X/T = contacts answered within T (the queue's
//!   `service_level.threshold_ms`, waits measured from first queue entry) ÷
//!   offered. Abandons count in the denominator whenever they happen, even
//!   within T (the strict variant: a short abandon is a caller we failed).
//! - **ASA** = mean wait (first queue entry → answer) of answered contacts.
//! - **AHT** = mean (talk + hold + after-call work) of completed contacts,
//!   callbacks included (their handling is real work).
//! - **Occupancy** (per agent and in total) = handle time (on call + wrap-up) ÷
//!   (handle time + available time (ready or ringing)), up to the window's end
//!   or now, whichever is first; not-ready and logged-out time is in neither.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::config::RoutingConfig;
use super::events::{Event, EventKind};
use super::model::{AgentId, AgentState, QueueId};
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
}

impl QueueKpis {
    /// Answered + abandoned.
    pub fn offered(&self) -> u64 {
        self.answered + self.abandoned
    }
    /// Service level as a fraction.
    pub fn service_level(&self) -> Option<f64> {
        ratio(self.answered_within_sl, self.offered())
    }
    /// Average speed of answer, ms.
    pub fn asa_ms(&self) -> Option<f64> {
        ratio(self.answered_wait_ms, self.answered)
    }
    /// Average handle time, ms.
    pub fn aht_ms(&self) -> Option<f64> {
        ratio(self.handle_ms, self.completed)
    }
    /// Abandoned ÷ offered.
    pub fn abandonment_rate(&self) -> Option<f64> {
        ratio(self.abandoned, self.offered())
    }
    /// Answered ÷ offered.
    pub fn answer_rate(&self) -> Option<f64> {
        ratio(self.answered, self.offered())
    }

    fn add(&mut self, o: &QueueKpis) {
        self.answered += o.answered;
        self.answered_within_sl += o.answered_within_sl;
        self.abandoned += o.abandoned;
        self.callbacks += o.callbacks;
        self.answered_wait_ms += o.answered_wait_ms;
        self.completed += o.completed;
        self.handle_ms += o.handle_ms;
    }
}

/// One agent's figures, by the same definitions as the queues'.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentKpis {
    /// On call or in wrap-up, ms.
    pub handle_ms: u64,
    /// Ready or ringing, ms.
    pub available_ms: u64,
    /// Contacts the agent answered (callbacks excluded, as for queues).
    pub answered: u64,
    /// Contacts the agent completed (callbacks included, as for AHT).
    pub completed: u64,
    /// Sum of handle times of those contacts, ms.
    pub completed_handle_ms: u64,
}

impl AgentKpis {
    /// Average handle time of the agent's completed contacts, ms.
    pub fn aht_ms(&self) -> Option<f64> {
        ratio(self.completed_handle_ms, self.completed)
    }

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
        let mut agent_since: HashMap<AgentId, (Timestamp, AgentState)> = HashMap::new();
        for e in events {
            match &e.kind {
                EventKind::CallbackRequested { call, queue } => {
                    callbacks.insert(*call);
                    report.queues.entry(*queue).or_default().callbacks += 1;
                }
                EventKind::Answered {
                    call,
                    agent,
                    queue,
                    waited_ms,
                    ..
                } if !callbacks.contains(call) => {
                    report.agents.entry(*agent).or_default().answered += 1;
                    let q = report.queues.entry(*queue).or_default();
                    q.answered += 1;
                    q.answered_wait_ms += waited_ms;
                    let threshold = thresholds.get(queue).copied().unwrap_or(default_threshold);
                    q.answered_within_sl += u64::from(*waited_ms <= threshold);
                }
                EventKind::Abandoned { call, queue, .. } if !callbacks.contains(call) => {
                    report.queues.entry(*queue).or_default().abandoned += 1;
                }
                EventKind::Completed {
                    agent,
                    queue,
                    talk_ms,
                    hold_ms,
                    wrap_ms,
                    ..
                } => {
                    let handle = talk_ms + hold_ms + wrap_ms;
                    let q = report.queues.entry(*queue).or_default();
                    q.completed += 1;
                    q.handle_ms += handle;
                    let a = report.agents.entry(*agent).or_default();
                    a.completed += 1;
                    a.completed_handle_ms += handle;
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
