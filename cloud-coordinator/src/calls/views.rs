//! What agents see ([`AgentView`], pushed to their seat after every change) and
//! what the wallboard sees ([`CenterSummary`]: counters computed from the Router's
//! events with [`KpiReport`], so they mean exactly what the KPI definitions say;
//! live figures — waiting calls, longest wait, time in state, lines in use — from
//! the Router's and call control's state at the summary's instant).

use std::collections::{BTreeMap, VecDeque};

use serde::Serialize;
use tandem_node::calls::{AgentUpdate, AgentView, CallDown};
use tandem_node::names::Site;
use tandem_node::routing::{AgentId, Event, KpiReport, QueueId};

use super::*;

/// Router events kept in memory for the live summary. Older events stay in the
/// store; the live figures then cover the most recent ones only.
pub const SUMMARY_EVENTS: usize = 200_000;

/// Counters the Router's events do not carry.
#[derive(Debug, Default)]
pub(super) struct Stats {
    events: VecDeque<Event>,
    transferred: BTreeMap<QueueId, u64>,
}

impl Stats {
    pub(super) fn record(&mut self, event: &Event) {
        if self.events.len() == SUMMARY_EVENTS {
            self.events.pop_front();
        }
        self.events.push_back(event.clone());
    }

    pub(super) fn transferred(&mut self, queue: QueueId) {
        *self.transferred.entry(queue).or_default() += 1;
    }
}

/// One queue on the wallboard.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueSummary {
    /// The queue (0 for the totals row).
    pub queue: QueueId,
    /// Its name.
    pub name: String,
    /// Answered + abandoned ([`KpiReport`]'s definition, as reports count);
    /// calls still waiting are in `waiting_now` until they are one or the other.
    pub offered: u64,
    /// Answered by an agent.
    pub answered: u64,
    /// Caller hung up while waiting or ringing.
    pub abandoned: u64,
    /// Transferred away by the agent who answered.
    pub transferred: u64,
    /// Answered within the threshold ÷ (answered + abandoned), in percent.
    pub service_level_percent: Option<f64>,
    /// Mean wait of answered calls.
    pub asa_ms: Option<f64>,
    /// Calls waiting now.
    pub waiting_now: u64,
    /// How long the longest-waiting of those calls has waited, from its first
    /// queue entry (as ASA counts); `None` when nobody waits. The wallboard
    /// ticks it on between updates.
    pub longest_wait_ms: Option<u64>,
}

/// One site on the wallboard.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SiteSummary {
    /// The site.
    pub site: Site,
    /// Calls anchored there that the coordinator is routing or connecting.
    pub calls_up: u64,
    /// Whether its node is online.
    pub online: bool,
    /// Trunk lines (FXO ports and E1 timeslots) its gateways reported, as the
    /// reports count them.
    pub lines: u32,
    /// Lines holding a call now: calls anchored there, less callback requests
    /// whose caller has hung up. Calls still in the gateway's IVR are not yet
    /// known to the coordinator and not counted.
    pub lines_in_use: u64,
    /// Lines in use ÷ lines, percent; `None` without lines.
    pub trunk_occupancy_percent: Option<f64>,
    /// Its gateways enrolled and not revoked (filled in by the coordinator,
    /// which sees the nodes table).
    pub nodes: u32,
    /// Of those, connected now (filled in by the coordinator).
    pub nodes_online: u32,
}

impl SiteSummary {
    pub(super) fn new(site: Site, online: bool, lines: u32) -> SiteSummary {
        SiteSummary {
            site,
            calls_up: 0,
            online,
            lines,
            lines_in_use: 0,
            trunk_occupancy_percent: None,
            nodes: 0,
            nodes_online: 0,
        }
    }
}

/// One agent on the wallboard.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentSummary {
    /// The agent.
    pub agent: AgentId,
    /// Their name.
    pub name: String,
    /// What their desk shows (state, call, caller, queue).
    pub view: AgentView,
    /// How long they have been in their current state (the Router's visible
    /// state, as `view.state`), so a team lead sees who has been on break or in
    /// wrap-up too long; the wallboard ticks it on between updates.
    pub in_state_ms: Option<u64>,
}

/// The name of the totals row.
const TOTALS_NAME: &str = "total";

/// The whole center at a glance, for the demo, the tests and the web UI.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CenterSummary {
    /// Stored configuration version in force.
    pub config_version: u64,
    /// Per queue.
    pub queues: Vec<QueueSummary>,
    /// Per site.
    pub sites: Vec<SiteSummary>,
    /// Per agent of the configuration.
    pub agents: Vec<AgentSummary>,
    /// Every queue added up.
    pub totals: QueueSummary,
    /// CDRs stored from gateway uploads (filled in by the coordinator).
    pub cdrs_stored: u64,
}

impl CenterSummary {
    /// The summary before any configuration is loaded: nothing to show.
    pub fn empty() -> Self {
        CenterSummary {
            config_version: 0,
            queues: Vec::new(),
            sites: Vec::new(),
            agents: Vec::new(),
            totals: QueueSummary {
                queue: QueueId(0),
                name: TOTALS_NAME.into(),
                offered: 0,
                answered: 0,
                abandoned: 0,
                transferred: 0,
                service_level_percent: None,
                asa_ms: None,
                waiting_now: 0,
                longest_wait_ms: None,
            },
            cdrs_stored: 0,
        }
    }
}

impl CallControl {
    /// What `/metrics` samples at every scrape: calls up, and calls waiting per
    /// queue. Cheap, unlike [`CallControl::summary`]'s figures.
    pub fn load(&self) -> (u64, Vec<(QueueId, u64)>) {
        let depth = self
            .config
            .config()
            .routing
            .queues
            .iter()
            .map(|q| (q.id, self.waiting_now(q.id)))
            .collect();
        (self.calls.len() as u64, depth)
    }

    fn waiting_now(&self, queue: QueueId) -> u64 {
        self.router.waiting(queue).len() as u64
    }

    /// Counts on the wallboard what a gateway's own router did while the WAN
    /// was down, once its events are uploaded (each event once: the caller
    /// passes only newly stored ones).
    pub fn record_local_events(&mut self, events: &[Event]) {
        for event in events {
            self.stats.record(event);
        }
    }

    /// An agent's view now.
    pub fn view(&self, agent: AgentId) -> AgentView {
        let mut view = AgentView {
            state: self.router.agent_state(agent),
            supervising: self.supervising.get(&agent).map(|s| s.agent),
            ..AgentView::default()
        };
        let call = match self.desks.get(&agent) {
            Some(
                Desk::Ringing { call, .. } | Desk::Talking { call, .. } | Desk::Dialling { call },
            ) => Some(*call),
            Some(Desk::WrapUp {
                call,
                caller,
                queue,
                ..
            }) => {
                view.call = Some(*call);
                view.caller = caller.clone();
                view.queue = Some(*queue);
                None
            }
            None => None,
        };
        if let Some(call) = call {
            view.call = Some(call);
            if let Some(c) = self.calls.get(&call) {
                view.caller = c.caller.clone();
                view.queue = Some(c.queue);
                view.held = c.held && c.party_of(agent).is_some();
                view.consulting = c.consult.as_ref().and_then(|k| {
                    if k.from == agent {
                        k.agent
                    } else if k.agent == Some(agent) {
                        Some(k.from)
                    } else {
                        None
                    }
                });
            }
        }
        view
    }

    /// The view last sent to `agent`'s seat, if any.
    pub fn agent_view(&self, agent: AgentId) -> Option<AgentView> {
        self.views.get(&agent).cloned()
    }

    /// Sends every changed view (and every refusal) to the agent's seat node.
    pub(super) fn flush_views(&mut self) {
        let dirty = std::mem::take(&mut self.dirty);
        for agent in dirty {
            let view = self.view(agent);
            let refused = self.refusals.remove(&agent).map(clip_refusal);
            if refused.is_none() && self.views.get(&agent) == Some(&view) {
                continue;
            }
            self.views.insert(agent, view.clone());
            if let Some(seat) = self.config.seat_of(agent).cloned() {
                self.send(
                    &seat.site,
                    CallDown::AgentUpdate(AgentUpdate {
                        agent,
                        view,
                        refused,
                    }),
                );
            }
        }
        // Refusals for agents whose view was not marked dirty still go out.
        let pending = std::mem::take(&mut self.refusals);
        for (agent, refused) in pending {
            if let Some(seat) = self.config.seat_of(agent).cloned() {
                let view = self.view(agent);
                self.send(
                    &seat.site,
                    CallDown::AgentUpdate(AgentUpdate {
                        agent,
                        view,
                        refused: Some(clip_refusal(refused)),
                    }),
                );
            }
        }
    }

    /// Queue, agent, site and total figures at `now` (`cdrs_stored` left at 0).
    /// `lines` holds the trunk lines per site its gateways reported (the core
    /// does not see node inventories).
    pub fn summary(&self, now: Timestamp, lines: &BTreeMap<Site, u32>) -> CenterSummary {
        let routing = &self.config.config().routing;
        let events: Vec<Event> = self.stats.events.iter().cloned().collect();
        let report = KpiReport::from_events(&events, routing, now);
        let queues: Vec<QueueSummary> = routing
            .queues
            .iter()
            .map(|q| {
                let k = report.queues.get(&q.id).cloned().unwrap_or_default();
                QueueSummary {
                    queue: q.id,
                    name: q.name.clone(),
                    offered: k.offered(),
                    answered: k.answered,
                    abandoned: k.abandoned,
                    transferred: self
                        .stats
                        .transferred
                        .get(&q.id)
                        .copied()
                        .unwrap_or_default(),
                    service_level_percent: k.service_level().map(|x| x * 100.0),
                    asa_ms: k.asa_ms(),
                    waiting_now: self.waiting_now(q.id),
                    longest_wait_ms: self.router.oldest_waiting(q.id).map(|t| now.since(t)),
                }
            })
            .collect();
        let t = report.total();
        let totals = QueueSummary {
            queue: QueueId(0),
            name: TOTALS_NAME.into(),
            offered: t.offered(),
            answered: t.answered,
            abandoned: t.abandoned,
            transferred: queues.iter().map(|q| q.transferred).sum(),
            service_level_percent: t.service_level().map(|x| x * 100.0),
            asa_ms: t.asa_ms(),
            waiting_now: queues.iter().map(|q| q.waiting_now).sum(),
            longest_wait_ms: queues.iter().filter_map(|q| q.longest_wait_ms).max(),
        };
        let mut sites: BTreeMap<Site, SiteSummary> = BTreeMap::new();
        for site in self
            .config
            .config()
            .sites
            .iter()
            .map(|s| &s.site)
            .chain(&self.online)
            .chain(lines.keys())
            .chain(self.calls.values().map(|c| &c.anchor))
        {
            let online = self.online.contains(site);
            let lines = lines.get(site).copied().unwrap_or(0);
            sites
                .entry(site.clone())
                .or_insert_with(|| SiteSummary::new(site.clone(), online, lines));
        }
        for c in self.calls.values() {
            if let Some(row) = sites.get_mut(&c.anchor) {
                row.calls_up += 1;
                // A callback request keeps its place after the caller hung up.
                row.lines_in_use += u64::from(!c.callback);
            }
        }
        for row in sites.values_mut() {
            row.trunk_occupancy_percent =
                (row.lines > 0).then(|| row.lines_in_use as f64 * 100.0 / f64::from(row.lines));
        }
        let agents = routing
            .agents
            .iter()
            .map(|a| AgentSummary {
                agent: a.id,
                name: a.name.clone(),
                view: self.view(a.id),
                in_state_ms: self
                    .router
                    .agent_stats(a.id)
                    .map(|s| now.since(s.state_since)),
            })
            .collect();
        CenterSummary {
            config_version: self.version,
            queues,
            sites: sites.into_values().collect(),
            agents,
            totals,
            cdrs_stored: 0,
        }
    }
}
/// A refusal as it goes to the seat: refusals quote what the agent typed, so
/// one is cut to [`tandem_node::limits::MAX_REFUSAL`] bytes.
fn clip_refusal(text: String) -> String {
    tandem_node::limits::clip(text, tandem_node::limits::MAX_REFUSAL)
}
