//! The async shell around [`CallControl`]: one core behind a mutex, stepped by
//! gateway sessions, the admin socket, the API and a timer task; its outputs go
//! to nodes through the registry and the relay, its records to redb.
//!
//! Each step takes the core lock only for the pure computation; its commands go
//! out under a second lock (`dispatch`) and its records are committed under a
//! third (`writing`), each taken before the previous one is released. So
//! commands and records leave in the order they were decided, and a commit
//! never holds up the next step's computation or sends. Steps that commit records are blocking:
//! async callers run them with `spawn_blocking`.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tandem_node::calls::{
    AgentCommand, AgentView, CallDown, CallUp, Cdr, CenterConfig, ConfigPush, ValidCenterConfig,
};
use tandem_node::clock::Clock;
use tandem_node::media::LegId;
use tandem_node::names::{NodeId, Site};
use tandem_node::proto::{Message, RecordKind, UploadRecord};
use tandem_node::routing::{AgentId, Event, Timestamp};
use tokio::sync::{Notify, watch};

use super::journal::{Journal, JournalStats};
use super::{CallControl, CallError, CenterSummary, Disposition, Output, QueueEvent};
use crate::Coordinator;
use crate::media::LegEnd;
use crate::store::StoredConfig;

/// Longest the timer task sleeps without a deadline (it re-reads the deadline
/// whenever a step may have moved it, so this is only a safety net).
const IDLE_TICK: Duration = Duration::from_secs(1);

/// Records a step leaves to store.
type Records = (Vec<QueueEvent>, Vec<Disposition>);

/// Call control's state in the coordinator.
#[derive(Default)]
pub struct CallService {
    pub(super) core: Mutex<Option<CallControl>>,
    /// Time of each decision step, for `/metrics`.
    pub(super) latency: super::latency::LatencyHistogram,
    /// The configuration as pushed to nodes.
    push: Mutex<Option<ConfigPush>>,
    /// Serializes sending outputs (see the module documentation).
    dispatch: Mutex<()>,
    /// Serializes storing records, taken before `dispatch` is released; holds
    /// the records the store could not take yet.
    writing: Mutex<Journal>,
    /// Serializes configuration loads (version numbers).
    loading: Mutex<()>,
    /// Woken after every step: the next deadline may be earlier.
    wake: Notify,
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The core is plain data mutated by non-panicking steps; a panic elsewhere
    // cannot leave it half-written in a way a retry would make worse.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// `clock`'s time as the Router sees it.
fn at(clock: &dyn Clock) -> Timestamp {
    Timestamp(clock.now_ms())
}

impl CallService {
    /// Starts with the stored configuration, if one was loaded before.
    pub(crate) fn restore(store: &crate::store::Store, clock: &dyn Clock) -> Self {
        let service = CallService::default();
        match store.latest_config() {
            Ok(Some(stored)) => match ValidCenterConfig::from_postcard(&stored.body)
                .map_err(CallError::from)
                .and_then(|c| CallControl::new(c, stored.version, at(clock)))
            {
                Ok(core) => {
                    *lock(&service.core) = Some(core);
                    *lock(&service.push) = Some(ConfigPush {
                        version: stored.version,
                        body: stored.body,
                    });
                    tracing::info!(version = stored.version, "center configuration restored");
                }
                Err(err) => {
                    tracing::error!(%err, version = stored.version, "stored center configuration unusable")
                }
            },
            Ok(None) => {}
            Err(err) => tracing::error!(%err, "cannot read the stored center configuration"),
        }
        service
    }
}

impl Coordinator {
    /// The coordinator's clock as the Router sees it.
    pub fn now(&self) -> Timestamp {
        at(self.clock().as_ref())
    }

    pub(super) fn calls(&self) -> &CallService {
        &self.inner.calls
    }

    /// Runs one step of the core and carries out what it decided. Blocking.
    fn step<R>(
        &self,
        f: impl FnOnce(&mut CallControl) -> Result<R, CallError>,
    ) -> Result<R, CallError> {
        let service = self.calls();
        let mut core = lock(&service.core);
        let Some(cc) = core.as_mut() else {
            return Err(CallError::NotConfigured);
        };
        let started = std::time::Instant::now();
        let result = f(cc);
        service.latency.record(started.elapsed());
        self.carry_out(core);
        result
    }

    /// Carries out what the core decided (see the module documentation for the
    /// hand-over-hand locking), releasing the core as soon as the sends are
    /// ordered.
    fn carry_out(&self, mut core: MutexGuard<'_, Option<CallControl>>) {
        let service = self.calls();
        let outputs = core.as_mut().map(|cc| cc.drain()).unwrap_or_default();
        let dispatch = lock(&service.dispatch);
        drop(core);
        let (records, failed) = self.send_outputs(outputs);
        let mut writing = lock(&service.writing);
        drop(dispatch);
        self.store_records(&mut writing, records);
        drop(writing);
        service.wake.notify_one();
        if !failed.is_empty() {
            // Told back as a step of its own, every lock released.
            let _ = self.step(|cc| {
                for leg in failed {
                    cc.leg_failed(self.now(), leg);
                }
                Ok(())
            });
        }
    }

    /// Sends commands and opens or closes legs; returns the records to store and
    /// the legs that could not be opened.
    fn send_outputs(&self, outputs: Vec<Output>) -> (Records, Vec<u32>) {
        let mut failed = Vec::new();
        let mut events: Vec<QueueEvent> = Vec::new();
        let mut dispositions: Vec<Disposition> = Vec::new();
        for output in outputs {
            match output {
                Output::Send { site, command } => {
                    if let CallDown::AgentUpdate(update) = &command {
                        self.events().publish(crate::events::Event::Agent {
                            agent: update.agent,
                            view: update.view.clone(),
                        });
                    }
                    let sent = self.registry().node_for_site(&site).is_some_and(|node| {
                        self.registry().send(&node, Message::CallDown(command))
                    });
                    if !sent {
                        tracing::debug!(%site, "call command not delivered: site offline or its session is too far behind");
                    }
                }
                Output::OpenLeg {
                    leg,
                    call,
                    anchor,
                    seat,
                } => {
                    let nodes = (
                        self.registry().node_for_site(&anchor.site),
                        self.registry().node_for_site(&seat.site),
                    );
                    let (Some(a), Some(b)) = nodes else {
                        tracing::warn!(call = %call, leg, "relay leg not opened: a node is offline");
                        failed.push(leg);
                        continue;
                    };
                    let opened = self.open_leg(
                        LegId(leg),
                        &call.to_string(),
                        LegEnd {
                            node: &a,
                            endpoint: &anchor.endpoint,
                        },
                        LegEnd {
                            node: &b,
                            endpoint: &seat.endpoint,
                        },
                    );
                    if let Err(err) = opened {
                        tracing::warn!(call = %call, leg, %err, "relay leg not opened");
                        failed.push(leg);
                    }
                }
                Output::CloseLeg { leg } => {
                    if let Err(err) = self.close_leg(LegId(leg)) {
                        tracing::debug!(leg, %err, "relay leg already closed");
                    }
                }
                Output::QueueEvent(e) => {
                    if let Some(event) = live_event(&e) {
                        self.events().publish(event);
                    }
                    events.push(e);
                }
                Output::Disposition(d) => dispositions.push(d),
            }
        }
        ((events, dispositions), failed)
    }

    fn store_records(&self, journal: &mut Journal, (events, dispositions): Records) {
        if events.is_empty() && dispositions.is_empty() {
            return;
        }
        let store = self.store();
        let write = |e: &[QueueEvent], d: &[Disposition]| store.append_call_records(e, d);
        if let Err(err) = journal.store(write, events, dispositions) {
            tracing::debug!(%err, "call records held");
        }
    }

    /// Retries the store after a fault: reopens it if needed, then writes the
    /// call records held meanwhile. Blocking; the server calls it periodically.
    pub fn keep_store(&self) {
        if !self.store().recover() {
            return;
        }
        let mut journal = lock(&self.calls().writing);
        let store = self.store();
        if let Err(err) = journal.flush(|e, d| store.append_call_records(e, d)) {
            tracing::debug!(%err, "call records still held");
        }
    }

    /// The call records held for the store, for `/metrics`.
    pub fn journal_stats(&self) -> JournalStats {
        lock(&self.calls().writing).stats()
    }

    /// Validates, applies live and stores a center configuration (TOML), then
    /// pushes it to every online node. Returns its version. Blocking.
    pub fn load_config(&self, text: &str) -> Result<u64, CallError> {
        self.update_config(None, |_| Ok(ValidCenterConfig::from_toml(text)?))
    }

    /// The configuration in force and its version.
    pub fn center_config(&self) -> Option<(u64, CenterConfig)> {
        let core = lock(&self.calls().core);
        let cc = core.as_ref()?;
        Some((cc.version(), cc.config().config().clone()))
    }

    /// Replaces the configuration with what `edit` makes of the one in force
    /// (`None` before the first), then applies, stores and pushes it like
    /// [`Coordinator::load_config`]. Edits are serialized, so two administrators
    /// changing different things both land; `expected` is the version the editor
    /// started from, and a change made since refuses this one instead of
    /// silently undoing it. Blocking.
    pub fn update_config<E: From<CallError>>(
        &self,
        expected: Option<u64>,
        edit: impl FnOnce(Option<&CenterConfig>) -> Result<ValidCenterConfig, E>,
    ) -> Result<u64, E> {
        let service = self.calls();
        let _loading = lock(&service.loading);
        let current = self.center_config();
        if let Some(expected) = expected {
            let now_in_force = current.as_ref().map_or(0, |(v, _)| *v);
            if now_in_force != expected {
                return Err(CallError::Refused(format!(
                    "the configuration changed (version {now_in_force} now, {expected} was edited); reload and try again"
                ))
                .into());
            }
        }
        let valid = edit(current.as_ref().map(|(_, c)| c))?;
        Ok(self.install_config(valid)?)
    }

    /// Applies, stores and pushes `valid`; the caller holds `loading`.
    fn install_config(&self, valid: ValidCenterConfig) -> Result<u64, CallError> {
        let body = valid.to_postcard()?;
        let service = self.calls();
        let version = self.store().next_config_version()?;
        // Stored before it applies: a store that cannot write (full disk)
        // refuses the change with its reason instead of losing the version.
        self.store().save_config(&StoredConfig {
            version,
            loaded_at_us: self.clock().now_us(),
            body: body.clone(),
        })?;
        let at = self.now();
        {
            let mut core = lock(&service.core);
            match core.as_mut() {
                Some(cc) => {
                    cc.replace_config(valid, version, at)?;
                    self.carry_out(core);
                }
                None => {
                    let mut cc = CallControl::new(valid, version, at)?;
                    for node in self.registry().ids() {
                        if let Some(online) = self.registry().get(&node) {
                            cc.node_online(at, &online.site);
                        }
                    }
                    *core = Some(cc);
                }
            }
        }
        let push = ConfigPush { version, body };
        *lock(&service.push) = Some(push.clone());
        for node in self.registry().ids() {
            self.registry().send(&node, Message::Config(push.clone()));
        }
        tracing::info!(version, "center configuration loaded");
        service.wake.notify_one();
        Ok(version)
    }

    /// A gateway's upload stored `records`, of which `fresh` are new: the
    /// routing events its own router recorded while the WAN was down join the
    /// live figures. Blocking.
    pub(crate) fn uploads_stored(&self, records: &[UploadRecord], fresh: &[usize]) {
        let events: Vec<Event> = fresh
            .iter()
            .filter_map(|&i| records.get(i))
            .filter(|r| r.kind == RecordKind::QueueEvent)
            .filter_map(|r| {
                Event::from_record(&r.body)
                    .map_err(|err| tracing::warn!(%err, seq = r.seq, "uploaded routing event undecodable"))
                    .ok()
            })
            .collect();
        if events.is_empty() {
            return;
        }
        if let Some(cc) = lock(&self.calls().core).as_mut() {
            cc.record_local_events(&events);
        }
    }

    /// Uploaded records `site` may not speak for, by sequence number with why
    /// (see [`crate::authority`]): CDRs labelled with another site, routing
    /// events about another site's live call or agent.
    pub(crate) fn foreign_uploads(
        &self,
        site: &Site,
        records: &[UploadRecord],
    ) -> Vec<(u64, String)> {
        let mut foreign = crate::authority::foreign_cdrs(site, records);
        let events = crate::authority::uploaded_events(records);
        if events.is_empty() {
            return foreign;
        }
        let core = lock(&self.calls().core);
        if let Some(cc) = core.as_ref() {
            for (seq, event) in events {
                if let Some(why) = cc.foreign_event(site, &event.kind) {
                    foreign.push((seq, why));
                }
            }
        }
        foreign
    }

    /// The routing part of the configuration in force (queue names, service-level
    /// thresholds, agents), for reports.
    pub fn routing_config(&self) -> Option<tandem_node::routing::RoutingConfig> {
        let core = lock(&self.calls().core);
        Some(core.as_ref()?.config().config().routing.clone())
    }

    /// The version of the configuration in force.
    pub fn config_version(&self) -> Option<u64> {
        lock(&self.calls().push).as_ref().map(|p| p.version)
    }

    /// What a node gets right after `Welcome`.
    pub fn config_push(&self) -> Option<ConfigPush> {
        lock(&self.calls().push).clone()
    }

    /// A gateway report. Blocking.
    pub fn call_up(&self, node: &NodeId, site: &Site, up: CallUp) -> Result<(), CallError> {
        let span = tracing::info_span!("call_up", node = %node, site = %site);
        let _enter = span.enter();
        self.step(|cc| cc.call_up(self.now(), site, up))
    }

    /// An agent's command from the API (seat nodes come through
    /// [`Coordinator::call_up`]). Blocking.
    pub fn agent_command(
        &self,
        agent: AgentId,
        command: AgentCommand,
    ) -> Result<AgentView, CallError> {
        self.step(|cc| cc.agent_command(self.now(), agent, command))
    }

    /// An agent's current view; `None` for an agent the configuration lacks.
    pub fn agent_view(&self, agent: AgentId) -> Option<AgentView> {
        let core = lock(&self.calls().core);
        let cc = core.as_ref()?;
        cc.config()
            .config()
            .routing
            .agents
            .iter()
            .any(|a| a.id == agent)
            .then(|| cc.view(agent))
    }

    /// Queue, agent, site and total figures, and the number of stored CDRs.
    /// Blocking (reads the store).
    pub fn summary(&self) -> CenterSummary {
        let nodes = self.site_nodes().unwrap_or_else(|err| {
            tracing::warn!(%err, "gateways and trunk lines unavailable for the summary");
            Default::default()
        });
        let lines = nodes
            .iter()
            .map(|(site, n)| (site.clone(), n.lines))
            .collect();
        let mut summary = {
            let core = lock(&self.calls().core);
            match core.as_ref() {
                Some(cc) => cc.summary(self.now(), &lines),
                None => CenterSummary::empty(),
            }
        };
        // Call control lists every site with gateways once it has a
        // configuration; before that, the gateways' sites are listed here.
        for (site, n) in &nodes {
            if !summary.sites.iter().any(|row| &row.site == site) {
                summary
                    .sites
                    .push(super::SiteSummary::new(site.clone(), n.online > 0, n.lines));
            }
        }
        for row in &mut summary.sites {
            if let Some(n) = nodes.get(&row.site) {
                (row.nodes, row.nodes_online) = (n.nodes, n.online);
            }
        }
        summary.cdrs_stored = self.store().cdr_count().unwrap_or_else(|err| {
            tracing::error!(%err, "cannot count CDRs");
            0
        });
        summary
    }

    /// Every CDR uploaded by the gateways, oldest call first, empty (and logged)
    /// when the store fails. For tests and tools: the API reads pages and ranges
    /// through [`crate::store::Store::cdr_page`].
    pub fn cdrs(&self) -> Vec<Cdr> {
        self.store()
            .cdr_page(0..u64::MAX, None, usize::MAX, |_| true)
            .map(|page| page.cdrs)
            .unwrap_or_else(|err| {
                tracing::error!(%err, "cannot read CDRs");
                Vec::new()
            })
    }

    /// A node's session started: it gets the configuration, its agents may work.
    pub(crate) fn calls_node_online(&self, node: &NodeId, site: &Site) {
        if let Some(push) = self.config_push() {
            self.registry().send(node, Message::Config(push));
        }
        let _ = self.step(|cc| {
            cc.node_online(self.now(), site);
            Ok(())
        });
    }

    /// A node's session ended (and no other node serves its site).
    pub(crate) fn calls_node_offline(&self, site: &Site) {
        if self.registry().node_for_site(site).is_some() {
            return;
        }
        let _ = self.step(|cc| {
            cc.node_offline(self.now(), site);
            Ok(())
        });
    }

    /// Fires call control's timers until `stop` (offer timeouts, wrap-up ends,
    /// announcements, overflow, direct offers).
    pub(crate) async fn call_timer(self, mut stop: watch::Receiver<bool>) {
        loop {
            let deadline = lock(&self.calls().core)
                .as_ref()
                .and_then(|cc| cc.next_deadline());
            let wait = deadline.map_or(IDLE_TICK, |d| {
                Duration::from_millis(d.since(self.now())).min(IDLE_TICK)
            });
            tokio::select! {
                _ = tokio::time::sleep(wait) => {
                    let due = deadline.is_some_and(|d| d <= self.now());
                    if due {
                        let c = self.clone();
                        let ticked = tokio::task::spawn_blocking(move || {
                            c.step(|cc| {
                                cc.tick(c.now());
                                Ok(())
                            })
                        })
                        .await;
                        if let Err(err) = ticked {
                            tracing::error!(%err, "call timer step failed");
                        }
                    }
                }
                _ = self.calls().wake.notified() => {}
                _ = stop.changed() => return,
            }
        }
    }
}

#[cfg(test)]
#[path = "service_tests.rs"]
mod tests;

/// The live-stream form of a routing event that concerns one call.
fn live_event(e: &QueueEvent) -> Option<crate::events::Event> {
    use tandem_node::routing::EventKind as K;
    let call = e.call?;
    let (queue, agent, what) = match &e.event.kind {
        K::Queued { queue, .. } => (Some(*queue), None, "queued"),
        K::Offered { queue, agent, .. } => (Some(*queue), Some(*agent), "offered"),
        K::OfferEnded { agent, .. } => (None, Some(*agent), "offer_ended"),
        K::Answered { queue, agent, .. } => (Some(*queue), Some(*agent), "answered"),
        K::Held { .. } => (None, None, "held"),
        K::Resumed { .. } => (None, None, "resumed"),
        K::Ended { agent, .. } => (None, Some(*agent), "ended"),
        K::Completed { queue, agent, .. } => (Some(*queue), Some(*agent), "completed"),
        K::Abandoned { queue, .. } => (Some(*queue), None, "abandoned"),
        K::Overflowed { to, .. } => (Some(*to), None, "overflowed"),
        K::Rejected { .. } => (None, None, "rejected"),
        K::Blacklisted { .. } => (None, None, "blacklisted"),
        K::CallbackRequested { queue, .. } => (Some(*queue), None, "callback_requested"),
        _ => return None,
    };
    Some(crate::events::Event::Call {
        call,
        queue,
        agent,
        what: what.to_owned(),
    })
}
