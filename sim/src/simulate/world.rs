//! The simulated world: one event queue in virtual time, the coordinator, the
//! branches, the links, the callers and the agents.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use tandem_coordinator::calls::{CallControl, Output};
use tandem_coordinator::store::Store;
use tandem_node::calls::{
    AgentCommand, CallDown, CallUp, Cdr, EndCause, Hangup, ReleaseReason, TransferTarget,
};
use tandem_node::names::NodeId;
use tandem_node::proto::Message;
use tandem_node::routing::{AgentId, AgentState, CallId, QueueId, Timestamp};

use super::branch::{Branch, Effect, Stage};
use super::center::{CARD, Center, GENERAL};
use super::check::{Breach, Checks};
use super::net::{Dir, Link, NetStats, decode};
use super::rng::SimRng;
use super::{CallCounts, FaultCounts, Options, SimulateError, Summary, UploadCounts};

/// Virtual epoch: 2027-01-15, a weekday morning in China.
pub(super) const T0: Timestamp = Timestamp(1_800_000_000_000);
/// How long a side takes to notice a dead session (missed heartbeats).
const NOTICE_MS: u64 = 3_000;
/// Mean talk time.
const TALK_MS: f64 = 150_000.0;
/// Mean caller patience in the queue.
const PATIENCE_MS: f64 = 120_000.0;
/// How long after the traffic stops the network may take to drain.
const DRAIN_MS: u64 = 2 * 3_600_000;
/// How often an agent looks at their screen and fixes their state.
const CHECK_MS: u64 = 120_000;

/// What an agent does next.
#[derive(Debug, Clone, Copy)]
enum Act {
    Answer(CallId),
    Reject(CallId),
    Finish(CallId),
    WrapUp,
    Break,
    Back,
    Check,
}

#[derive(Debug, Clone, Copy)]
enum Fault {
    Wan,
    Partition,
    GatewayCrash,
    CoordinatorCrash,
}

#[derive(Debug)]
enum Ev {
    Arrival(usize),
    IvrDone(usize, CallId, QueueId),
    Patience(usize, CallId),
    CallerHangup(usize, CallId),
    Agent(AgentId, Act),
    Deliver {
        site: usize,
        dir: Dir,
        epoch: u64,
        frame: Vec<u8>,
    },
    CoordTick,
    LocalTick(usize),
    Fault(Fault),
    WanBack(usize),
    Notice {
        site: usize,
        epoch: u64,
    },
    Connect(usize),
    Established {
        site: usize,
        epoch: u64,
    },
    GatewayRestart(usize),
    CoordinatorRestart,
    Heal,
}

/// A simulated agent: where they sit and what they last saw on their screen.
pub(super) struct AgentSim {
    pub site: usize,
    pub view: Option<AgentState>,
    pub on_break: bool,
}

/// What is physically true at the seats and in the mixes, whatever any
/// router believes.
#[derive(Default)]
pub(super) struct Truth {
    pub ringing: BTreeMap<AgentId, BTreeSet<CallId>>,
    pub in_calls: BTreeMap<AgentId, BTreeSet<CallId>>,
    /// Agents whose seat or mix changed in this step.
    pub touched: BTreeSet<AgentId>,
}

pub(super) struct World {
    pub opts: Options,
    pub now: Timestamp,
    end_traffic: Timestamp,
    pub healed: bool,
    rng: SimRng,
    queue: BTreeMap<(Timestamp, u64), Ev>,
    seq: u64,
    pub center: Center,
    pub branches: Vec<Branch>,
    pub links: Vec<Link>,
    pub cc: Option<CallControl>,
    pub coord_online: BTreeSet<usize>,
    pub store: Store,
    pub nodes: Vec<NodeId>,
    pub agents: BTreeMap<AgentId, AgentSim>,
    pub truth: Truth,
    /// Every call that entered a box, with its branch.
    pub created: BTreeMap<CallId, usize>,
    /// CDRs stored per call.
    pub cdrs: BTreeMap<CallId, u32>,
    connected: BTreeSet<CallId>,
    interarrival_ms: Vec<f64>,
    coord_tick_at: Option<Timestamp>,
    local_tick_at: Vec<Option<Timestamp>>,
    loss: f64,
    calls: CallCounts,
    uploads: UploadCounts,
    injected: FaultCounts,
    net: NetStats,
    pub checks: Checks,
    /// What this step touched, for the invariant checks.
    pub touched_coord: bool,
    pub restored: bool,
    pub touched_sites: BTreeSet<usize>,
    pub taken_back: BTreeSet<usize>,
    pub step: u64,
    breach: Option<Breach>,
}

fn site_seat_agents(center: &Center, site: usize) -> usize {
    center.seats.iter().filter(|(_, s, _)| *s == site).count()
}

impl World {
    pub fn new(opts: &Options) -> Result<World, SimulateError> {
        let center = Center::new(opts.sites, opts.agents)?;
        let mut rng = SimRng::new(opts.seed);
        let store =
            Store::open_in_memory().map_err(|e| SimulateError::Coordinator(e.to_string()))?;
        let cc = CallControl::new(center.config.clone(), 1, T0)
            .map_err(|e| SimulateError::Coordinator(e.to_string()))?;
        let mut branches = Vec::new();
        let mut links = Vec::new();
        let mut nodes = Vec::new();
        let mut interarrival_ms = Vec::new();
        for (i, site) in center.sites.iter().enumerate() {
            let seated = site_seat_agents(&center, i);
            branches.push(Branch::new(
                site.clone(),
                i,
                seated * 2 + 2,
                center.config.clone(),
                opts.bug,
                T0,
            ));
            links.push(Link::new(rng.between(10, 80)));
            nodes.push(
                NodeId::new(format!("node-{}", site.as_str()))
                    .map_err(|e| SimulateError::Coordinator(e.to_string()))?,
            );
            // Offered load `load` Erlang per agent at the mean talk time.
            let per_hour = opts.load * seated as f64 * 3_600_000.0 / TALK_MS;
            interarrival_ms.push(3_600_000.0 / per_hour.max(0.01));
        }
        let agents = center
            .seats
            .iter()
            .map(|(a, site, _)| {
                (
                    *a,
                    AgentSim {
                        site: *site,
                        view: None,
                        on_break: false,
                    },
                )
            })
            .collect();
        let hours_ms = (opts.hours.max(0.0) * 3_600_000.0) as u64;
        let n = branches.len();
        let mut world = World {
            opts: opts.clone(),
            now: T0,
            end_traffic: T0.plus(hours_ms),
            healed: false,
            rng,
            queue: BTreeMap::new(),
            seq: 0,
            center,
            branches,
            links,
            cc: Some(cc),
            coord_online: BTreeSet::new(),
            store,
            nodes,
            agents,
            truth: Truth::default(),
            created: BTreeMap::new(),
            cdrs: BTreeMap::new(),
            connected: BTreeSet::new(),
            interarrival_ms,
            coord_tick_at: None,
            local_tick_at: vec![None; n],
            loss: if opts.faults.loss { 0.02 } else { 0.0 },
            calls: CallCounts::default(),
            uploads: UploadCounts::default(),
            injected: FaultCounts::default(),
            net: NetStats::default(),
            checks: Checks::default(),
            touched_coord: false,
            restored: false,
            touched_sites: BTreeSet::new(),
            taken_back: BTreeSet::new(),
            step: 0,
            breach: None,
        };
        world.schedule_start();
        Ok(world)
    }

    fn at(&mut self, at: Timestamp, ev: Ev) {
        self.seq += 1;
        self.queue.insert((at.max(self.now), self.seq), ev);
    }

    fn after(&mut self, ms: u64, ev: Ev) {
        self.at(self.now.plus(ms), ev);
    }

    fn schedule_start(&mut self) {
        for site in 0..self.branches.len() {
            let first = self.rng.exp(self.interarrival_ms[site]);
            self.after(first, Ev::Arrival(site));
            let connect = self.rng.between(0, 2_000);
            self.after(connect, Ev::Connect(site));
        }
        let agents: Vec<AgentId> = self.agents.keys().copied().collect();
        for a in agents {
            let check = self.rng.between(2_500, 6_000);
            self.after(check, Ev::Agent(a, Act::Check));
            let pause = self.rng.exp(1_800_000.0);
            self.after(pause, Ev::Agent(a, Act::Break));
        }
        let f = self.opts.faults;
        for (on, fault, mean) in [
            (f.wan, Fault::Wan, 600_000.0),
            (f.partition, Fault::Partition, 1_800_000.0),
            (f.gateway_crash, Fault::GatewayCrash, 1_200_000.0),
            (f.coordinator_crash, Fault::CoordinatorCrash, 1_800_000.0),
        ] {
            if on {
                let at = self.rng.exp(mean);
                self.after(at, Ev::Fault(fault));
            }
        }
        self.at(self.end_traffic, Ev::Heal);
    }

    pub fn run(mut self) -> Result<Summary, SimulateError> {
        let deadline = self.end_traffic.plus(DRAIN_MS);
        while let Some(((at, _), ev)) = self.queue.pop_first() {
            if at > deadline {
                self.now = deadline;
                break;
            }
            self.now = at;
            self.step += 1;
            self.touched_coord = false;
            self.restored = false;
            self.touched_sites.clear();
            self.taken_back.clear();
            self.truth.touched.clear();
            self.handle(ev);
            let mut checks = std::mem::take(&mut self.checks);
            let checked = checks.after_step(&self);
            self.checks = checks;
            if let Err(b) = checked {
                self.breach = Some(b);
                break;
            }
            if self.healed && self.drained() {
                break;
            }
        }
        if self.breach.is_none() {
            let mut checks = std::mem::take(&mut self.checks);
            let checked = checks.at_end(&self);
            self.checks = checks;
            if let Err(b) = checked {
                self.breach = Some(b);
            }
        }
        Ok(self.summary())
    }

    /// Everything healed, every call ended, every record stored.
    pub fn drained(&self) -> bool {
        self.cc.is_some()
            && self.branches.iter().all(|b| {
                b.up && b.online
                    && b.calls.is_empty()
                    && b.outbox.is_empty()
                    && b.started.is_empty()
            })
    }

    fn summary(&self) -> Summary {
        let mut calls = self.calls.clone();
        calls.cdrs_stored = self.cdrs.values().map(|n| u64::from(*n)).sum();
        Summary {
            seed: self.opts.seed,
            hours: self.opts.hours,
            sites: self.opts.sites,
            agents: self.opts.agents,
            faults: self.opts.faults,
            bug: self.opts.bug,
            simulated_ms: self.now.since(T0),
            events: self.step,
            calls,
            uploads: self.uploads.clone(),
            injected: self.injected.clone(),
            network: self.net.clone(),
            invariants: self.checks.counts(),
            breaches: self.breach.iter().cloned().collect(),
        }
    }

    // ---- events --------------------------------------------------------------

    fn handle(&mut self, ev: Ev) {
        if self.opts.trace && !matches!(ev, Ev::Deliver { .. }) {
            eprintln!("{} {:>9} {ev:?}", self.step, self.now.since(T0));
        }
        match ev {
            Ev::Arrival(site) => self.arrival(site),
            Ev::IvrDone(site, call, queue) => {
                let mut fx = Vec::new();
                self.branches[site].ivr_done(self.now, call, queue, &mut fx);
                self.apply(site, fx);
            }
            Ev::Patience(site, call) => {
                let stage = self.branches[site].calls.get(&call).map(|c| c.stage);
                let cause = match stage {
                    Some(Stage::Ivr) => EndCause::AbandonedInIvr,
                    Some(Stage::Waiting) => EndCause::AbandonedInQueue,
                    _ => return,
                };
                self.calls.abandoned += 1;
                self.end_call(site, call, cause, Hangup::Caller);
            }
            Ev::CallerHangup(site, call) => {
                let stage = self.branches[site].calls.get(&call).map(|c| c.stage);
                let cause = match stage {
                    Some(Stage::Connected) => EndCause::Completed,
                    Some(_) => EndCause::AbandonedInQueue,
                    None => return,
                };
                self.end_call(site, call, cause, Hangup::Caller);
            }
            Ev::Agent(agent, act) => self.agent_act(agent, act),
            Ev::Deliver {
                site,
                dir,
                epoch,
                frame,
            } => self.deliver(site, dir, epoch, &frame),
            Ev::CoordTick => {
                self.coord_tick_at = None;
                if let Some(cc) = &mut self.cc {
                    cc.tick(self.now);
                    self.touched_coord = true;
                    self.flush_coordinator();
                }
            }
            Ev::LocalTick(site) => {
                self.local_tick_at[site] = None;
                let mut fx = Vec::new();
                self.branches[site].local_tick(self.now, &mut fx);
                self.apply(site, fx);
            }
            Ev::Fault(fault) => self.fault(fault),
            Ev::WanBack(site) => self.links[site].wan_up = true,
            Ev::Notice { site, epoch } => self.notice(site, epoch),
            Ev::Connect(site) => self.connect(site),
            Ev::Established { site, epoch } => self.established(site, epoch),
            Ev::GatewayRestart(site) => self.gateway_restart(site),
            Ev::CoordinatorRestart => self.coordinator_restart(),
            Ev::Heal => self.heal(),
        }
    }

    fn end_call(&mut self, site: usize, call: CallId, cause: EndCause, hangup: Hangup) {
        let mut fx = Vec::new();
        self.branches[site].end_call(self.now, call, cause, hangup, &mut fx);
        self.apply(site, fx);
        self.kick_upload(site);
    }

    fn arrival(&mut self, site: usize) {
        if self.now < self.end_traffic {
            let next = self.rng.exp(self.interarrival_ms[site]);
            self.after(next, Ev::Arrival(site));
        } else {
            return;
        }
        let caller = format!("+86138{:08}", self.rng.below(100_000_000));
        self.touched_sites.insert(site);
        match self.branches[site].ring_in(self.now, caller) {
            None => self.calls.blocked += 1,
            Some(call) => {
                self.calls.entered += 1;
                self.created.insert(call, site);
                let ivr = self.rng.between(3_000, 8_000);
                let queue = if self.rng.chance(0.7) { GENERAL } else { CARD };
                self.after(ivr, Ev::IvrDone(site, call, queue));
                let patience = ivr + self.rng.exp(PATIENCE_MS);
                self.after(patience, Ev::Patience(site, call));
            }
        }
    }

    // ---- agents ---------------------------------------------------------------

    fn agent_act(&mut self, agent: AgentId, act: Act) {
        let Some(a) = self.agents.get(&agent) else {
            return;
        };
        let (site, view, on_break) = (a.site, a.view.clone(), a.on_break);
        let ringing = |w: &World, call: CallId| {
            w.truth
                .ringing
                .get(&agent)
                .is_some_and(|r| r.contains(&call))
        };
        let idle = self
            .truth
            .ringing
            .get(&agent)
            .is_none_or(BTreeSet::is_empty)
            && self
                .truth
                .in_calls
                .get(&agent)
                .is_none_or(BTreeSet::is_empty);
        match act {
            Act::Answer(call) if ringing(self, call) => {
                self.agent_command(agent, AgentCommand::Answer);
            }
            Act::Reject(call) if ringing(self, call) => {
                self.agent_command(agent, AgentCommand::Reject);
            }
            Act::Answer(_) | Act::Reject(_) => {}
            Act::Finish(call) => {
                if !self
                    .truth
                    .in_calls
                    .get(&agent)
                    .is_some_and(|c| c.contains(&call))
                {
                    return;
                }
                let queue = self
                    .created
                    .get(&call)
                    .and_then(|s| self.branches[*s].calls.get(&call))
                    .and_then(|c| c.queue);
                if queue == Some(GENERAL) && self.rng.chance(0.1) {
                    self.calls.transfers += 1;
                    self.agent_command(
                        agent,
                        AgentCommand::Transfer {
                            to: TransferTarget::Queue(CARD),
                            consult: false,
                        },
                    );
                } else {
                    self.agent_command(agent, AgentCommand::Hangup);
                }
                let wrap = self.rng.between(1_000, 4_000);
                self.after(wrap, Ev::Agent(agent, Act::WrapUp));
            }
            Act::WrapUp => {
                if view == Some(AgentState::WrapUp) {
                    self.agent_command(
                        agent,
                        AgentCommand::WrapUp {
                            disposition: "done".into(),
                            note: String::new(),
                        },
                    );
                }
            }
            Act::Break => {
                let next = self.rng.exp(1_800_000.0);
                self.after(next, Ev::Agent(agent, Act::Break));
                if idle && view == Some(AgentState::Ready) && !self.healed {
                    if let Some(a) = self.agents.get_mut(&agent) {
                        a.on_break = true;
                    }
                    self.agent_command(
                        agent,
                        AgentCommand::NotReady {
                            reason: "break".into(),
                        },
                    );
                    let back = self.rng.exp(300_000.0);
                    self.after(back, Ev::Agent(agent, Act::Back));
                }
            }
            Act::Back => {
                if let Some(a) = self.agents.get_mut(&agent) {
                    a.on_break = false;
                }
                self.agent_command(agent, AgentCommand::Ready);
            }
            Act::Check => {
                let next = CHECK_MS + self.rng.below(10_000);
                self.after(next, Ev::Agent(agent, Act::Check));
                // An agent busy at their seat does not touch their state.
                if !self.branches[site].up || on_break || !idle {
                    return;
                }
                match view {
                    None | Some(AgentState::LoggedOut) => {
                        self.agent_command(agent, AgentCommand::Login);
                        self.agent_command(agent, AgentCommand::Ready);
                    }
                    Some(AgentState::NotReady(_)) => {
                        self.agent_command(agent, AgentCommand::Ready);
                    }
                    _ => {}
                }
            }
        }
    }

    /// An agent presses a button at their seat: the seat's node sends it to the
    /// coordinator, or its local router takes it while alone.
    fn agent_command(&mut self, agent: AgentId, command: AgentCommand) {
        let Some(site) = self.agents.get(&agent).map(|a| a.site) else {
            return;
        };
        if !self.branches[site].up {
            return;
        }
        if self.branches[site].handles_locally(agent) {
            let mut fx = Vec::new();
            self.branches[site].local_command(self.now, agent, &command, &mut fx);
            self.apply(site, fx);
        } else {
            self.send_up(site, Message::CallUp(CallUp::Agent { agent, command }));
        }
    }

    fn on_ring(&mut self, agent: AgentId, call: CallId) {
        self.truth.ringing.entry(agent).or_default().insert(call);
        self.truth.touched.insert(agent);
        let r = self.rng.below(100);
        if r < 85 {
            let d = self.rng.between(1_000, 6_000);
            self.after(d, Ev::Agent(agent, Act::Answer(call)));
        } else if r < 90 {
            let d = self.rng.between(1_000, 3_000);
            self.after(d, Ev::Agent(agent, Act::Reject(call)));
        }
    }

    // ---- branch effects ---------------------------------------------------------

    fn apply(&mut self, site: usize, fx: Vec<Effect>) {
        self.touched_sites.insert(site);
        let mut work: VecDeque<Effect> = fx.into();
        while let Some(e) = work.pop_front() {
            match e {
                Effect::Up(up) => self.send_up(site, Message::CallUp(up)),
                Effect::Ring(agent, call) => self.on_ring(agent, call),
                Effect::StopRing(agent, call) => {
                    if let Some(r) = self.truth.ringing.get_mut(&agent) {
                        r.remove(&call);
                    }
                    self.truth.touched.insert(agent);
                }
                Effect::Joined(agent, call) => {
                    self.truth.in_calls.entry(agent).or_default().insert(call);
                    self.truth.touched.insert(agent);
                    let talk = self.rng.exp(TALK_MS);
                    self.after(talk, Ev::Agent(agent, Act::Finish(call)));
                    if self.connected.insert(call) {
                        self.calls.answered += 1;
                        let caller = self.rng.exp(TALK_MS * 1.5);
                        self.after(caller, Ev::CallerHangup(site, call));
                    }
                }
                Effect::Left(agent, call) => {
                    if let Some(c) = self.truth.in_calls.get_mut(&agent) {
                        c.remove(&call);
                    }
                    self.truth.touched.insert(agent);
                }
                Effect::LocalState(agent, state) => {
                    if let Some(a) = self.agents.get_mut(&agent) {
                        a.view = Some(state);
                    }
                }
                Effect::CallerAlone(call) => {
                    let d = self.rng.between(2_000, 10_000);
                    self.after(d, Ev::CallerHangup(site, call));
                }
                Effect::BackToCoordinator(agent, ready) => {
                    let mut more = Vec::new();
                    self.branches[site].release_agent(self.now, agent, &mut more);
                    work.extend(more);
                    let ready = ready && self.agents.get(&agent).is_some_and(|a| !a.on_break);
                    self.send_up(
                        site,
                        Message::CallUp(CallUp::Agent {
                            agent,
                            command: AgentCommand::Login,
                        }),
                    );
                    if ready {
                        self.send_up(
                            site,
                            Message::CallUp(CallUp::Agent {
                                agent,
                                command: AgentCommand::Ready,
                            }),
                        );
                    }
                }
            }
        }
        if let Some(d) = self.branches[site].local.router.next_deadline()
            && self.local_tick_at[site].is_none_or(|t| d < t)
        {
            self.local_tick_at[site] = Some(d);
            self.at(d, Ev::LocalTick(site));
        }
    }

    // ---- network ----------------------------------------------------------------

    fn send_up(&mut self, site: usize, message: Message) {
        if !(self.links[site].session && self.branches[site].online && self.branches[site].up) {
            self.net.lost_with_session += 1;
            return;
        }
        self.send(site, Dir::Up, &message);
    }

    fn send_down(&mut self, site: usize, message: Message) {
        if !(self.links[site].session && self.coord_online.contains(&site)) {
            self.net.lost_with_session += 1;
            return;
        }
        self.send(site, Dir::Down, &message);
    }

    fn send(&mut self, site: usize, dir: Dir, message: &Message) {
        let link = &mut self.links[site];
        match link.send(
            self.now,
            dir,
            message,
            self.loss,
            &mut self.rng,
            &mut self.net,
        ) {
            Ok((at, frame)) => {
                let epoch = link.epoch;
                self.at(
                    at,
                    Ev::Deliver {
                        site,
                        dir,
                        epoch,
                        frame,
                    },
                );
            }
            Err(e) => self.breach_now("wire-codec", format!("encoding failed: {e}")),
        }
    }

    fn deliver(&mut self, site: usize, dir: Dir, epoch: u64, frame: &[u8]) {
        let link = &self.links[site];
        if link.epoch != epoch || !link.session {
            self.net.lost_with_session += 1;
            return;
        }
        let message = match decode(frame) {
            Ok(m) => m,
            Err(e) => {
                self.breach_now("wire-codec", format!("decoding failed: {e}"));
                return;
            }
        };
        if self.opts.trace {
            eprintln!(
                "{} {:>9} {site} {dir:?} {message:?}",
                self.step,
                self.now.since(T0)
            );
        }
        match dir {
            Dir::Up => self.coordinator_receives(site, message),
            Dir::Down => self.branch_receives(site, message),
        }
    }

    fn breach_now(&mut self, invariant: &'static str, detail: String) {
        self.checks
            .record_breach(invariant, self.opts.seed, self.step, self.now, detail);
    }

    // ---- coordinator --------------------------------------------------------------

    fn coordinator_receives(&mut self, site: usize, message: Message) {
        if self.cc.is_none() {
            return;
        }
        self.touched_coord = true;
        match message {
            Message::CallUp(up) => {
                let restore = matches!(up, CallUp::Anchored(_));
                let name = self.center.sites[site].clone();
                if let Some(cc) = &mut self.cc
                    && let Err(e) = cc.call_up(self.now, &name, up)
                {
                    tracing::debug!(site = %name, err = %e, "call up refused");
                }
                self.restored |= restore;
                self.flush_coordinator();
            }
            Message::Upload { records } => {
                self.uploads.batches += 1;
                self.uploads.records_sent += records.len() as u64;
                match self
                    .store
                    .ingest(&self.nodes[site], &records, self.now.0 * 1000)
                {
                    Ok(done) => {
                        for i in done.fresh {
                            self.uploads.records_stored += 1;
                            let Some(r) = records.get(i) else { continue };
                            match Cdr::from_record(&r.body) {
                                Ok(cdr) => {
                                    if cdr.cause == EndCause::LineFault("gateway-restart".into()) {
                                        self.calls.cut_by_crash += 1;
                                    }
                                    let n = self.cdrs.entry(cdr.call).or_default();
                                    *n += 1;
                                    let n = *n;
                                    self.checks.passed_upload();
                                    if n > 1 {
                                        self.breach_now(
                                            "uploads-exactly-once",
                                            format!("a second CDR of call {} was stored", cdr.call),
                                        );
                                    }
                                }
                                Err(e) => self.breach_now(
                                    "one-cdr-per-call",
                                    format!("undecodable CDR: {e}"),
                                ),
                            }
                        }
                        self.send_down(site, Message::UploadAck { seqs: done.acked });
                    }
                    Err(e) => self.breach_now("uploads-exactly-once", format!("store: {e}")),
                }
            }
            _ => {}
        }
    }

    fn flush_coordinator(&mut self) {
        let Some(cc) = &mut self.cc else {
            return;
        };
        let out = cc.drain();
        let next = cc.next_deadline();
        for o in out {
            if let Output::Send { site, command } = o
                && let Some(i) = self.center.sites.iter().position(|s| *s == site)
            {
                self.send_down(i, Message::CallDown(command));
            }
        }
        if let Some(d) = next
            && self.coord_tick_at.is_none_or(|t| d < t)
        {
            self.coord_tick_at = Some(d);
            self.at(d, Ev::CoordTick);
        }
    }

    // ---- branches -------------------------------------------------------------------

    fn branch_receives(&mut self, site: usize, message: Message) {
        if !self.branches[site].up {
            return;
        }
        let now = self.now;
        let mut fx = Vec::new();
        let b = &mut self.branches[site];
        match message {
            Message::UploadAck { seqs } => {
                b.acked(&seqs);
                self.kick_upload(site);
                return;
            }
            Message::CallDown(down) => match down {
                CallDown::Join {
                    call,
                    party,
                    endpoint,
                    role,
                    agent,
                } => b.join(now, call, party, agent, role, endpoint, &mut fx),
                CallDown::Leave { call, party } => b.leave(now, call, party, &mut fx),
                CallDown::Log { call, event } => b.add_log(now, call, event),
                CallDown::Announce { call, position, .. } => b.add_log(
                    now,
                    call,
                    tandem_node::calls::CdrEventKind::Announced { position },
                ),
                CallDown::Release { call, reason } => {
                    let (cause, hangup) = match reason {
                        ReleaseReason::AgentHungUp(a) => (EndCause::Completed, Hangup::Agent(a)),
                        ReleaseReason::QueueFull => (EndCause::QueueFull, Hangup::System),
                        ReleaseReason::Blacklisted => (EndCause::Blacklisted, Hangup::System),
                        ReleaseReason::ForceReleased(_) => {
                            (EndCause::ForceReleased, Hangup::System)
                        }
                        ReleaseReason::CallbackRegistered => (EndCause::IvrHangup, Hangup::System),
                    };
                    b.end_call(now, call, cause, hangup, &mut fx);
                }
                CallDown::Ring { call, agent, .. } => fx.push(Effect::Ring(agent, call)),
                CallDown::StopRing { call, agent, .. } => fx.push(Effect::StopRing(agent, call)),
                CallDown::AgentUpdate(u) => {
                    if let Some(a) = self.agents.get_mut(&u.agent)
                        && !self.branches[site].handles_locally(u.agent)
                    {
                        a.view = u.view.state;
                    }
                }
                _ => {}
            },
            _ => {}
        }
        self.apply(site, fx);
        self.kick_upload(site);
    }

    fn kick_upload(&mut self, site: usize) {
        if let Some(records) = self.branches[site].upload_batch() {
            self.send_up(site, Message::Upload { records });
        }
    }

    // ---- sessions -----------------------------------------------------------------

    /// The session dies now; each side notices after the heartbeat timeout.
    fn kill_link(&mut self, site: usize) {
        let link = &mut self.links[site];
        if link.session {
            link.session = false;
            link.epoch += 1;
            let epoch = link.epoch;
            self.after(NOTICE_MS, Ev::Notice { site, epoch });
        }
    }

    fn notice(&mut self, site: usize, epoch: u64) {
        if self.links[site].epoch != epoch {
            return;
        }
        if self.coord_online.remove(&site) {
            self.touched_coord = true;
            let name = self.center.sites[site].clone();
            if let Some(cc) = &mut self.cc {
                cc.node_offline(self.now, &name);
            }
            self.flush_coordinator();
        }
        self.go_offline(site);
        let retry = self.rng.between(500, 2_000);
        self.after(retry, Ev::Connect(site));
    }

    fn go_offline(&mut self, site: usize) {
        if !self.branches[site].up || !self.branches[site].online {
            return;
        }
        // Rings from the coordinator stop: nobody can answer them now.
        let seated: Vec<AgentId> = self
            .agents
            .iter()
            .filter(|(_, a)| a.site == site)
            .map(|(id, _)| *id)
            .collect();
        for a in &seated {
            if let Some(r) = self.truth.ringing.get_mut(a) {
                r.clear();
                self.truth.touched.insert(*a);
            }
        }
        let presence: Vec<(AgentId, AgentState)> = seated
            .iter()
            .filter_map(|a| {
                self.agents[a]
                    .view
                    .clone()
                    .filter(|s| *s != AgentState::LoggedOut)
                    .map(|s| (*a, s))
            })
            .collect();
        let mut fx = Vec::new();
        self.branches[site].go_offline(self.now, &mut fx);
        self.branches[site].adopt_agents(self.now, &presence, &mut fx);
        self.taken_back.insert(site);
        self.apply(site, fx);
    }

    fn connect(&mut self, site: usize) {
        let b = &self.branches[site];
        if !b.up || b.online {
            return;
        }
        let link = &self.links[site];
        if link.wan_up && self.cc.is_some() && !link.session {
            let epoch = self.links[site].new_session();
            let rtt = 2 * self.links[site].latency_ms;
            self.after(rtt, Ev::Established { site, epoch });
        } else {
            let retry = self.rng.between(1_000, 3_000);
            self.after(retry, Ev::Connect(site));
        }
    }

    fn established(&mut self, site: usize, epoch: u64) {
        if self.links[site].epoch != epoch || !self.links[site].session {
            let retry = self.rng.between(1_000, 3_000);
            self.after(retry, Ev::Connect(site));
            return;
        }
        let name = self.center.sites[site].clone();
        let Some(cc) = &mut self.cc else {
            return;
        };
        self.touched_coord = true;
        if self.coord_online.contains(&site) {
            // A new session replaces one the coordinator had not seen die.
            cc.node_offline(self.now, &name);
        }
        cc.node_online(self.now, &name);
        self.coord_online.insert(site);
        self.flush_coordinator();
        let mut fx = Vec::new();
        self.branches[site].go_online(self.now, &mut fx);
        self.apply(site, fx);
        self.kick_upload(site);
    }

    // ---- faults ---------------------------------------------------------------------

    fn fault(&mut self, fault: Fault) {
        if self.healed {
            return;
        }
        let n = self.branches.len() as u64;
        match fault {
            Fault::Wan => {
                self.injected.wan_cuts += 1;
                let site = self.rng.below(n) as usize;
                let dur = self.rng.between(5_000, 180_000);
                self.cut(site, dur);
                let next = self.rng.exp(600_000.0);
                self.after(next, Ev::Fault(fault));
            }
            Fault::Partition => {
                self.injected.partitions += 1;
                let dur = self.rng.between(20_000, 120_000);
                for site in 0..self.branches.len() {
                    if self.rng.chance(0.5) {
                        self.cut(site, dur);
                    }
                }
                let next = self.rng.exp(1_800_000.0);
                self.after(next, Ev::Fault(fault));
            }
            Fault::GatewayCrash => {
                let site = self.rng.below(n) as usize;
                if self.branches[site].up {
                    self.injected.gateway_crashes += 1;
                    self.gateway_crash(site);
                    let down = self.rng.between(5_000, 60_000);
                    self.after(down, Ev::GatewayRestart(site));
                }
                let next = self.rng.exp(1_200_000.0);
                self.after(next, Ev::Fault(fault));
            }
            Fault::CoordinatorCrash => {
                if self.cc.is_some() {
                    self.injected.coordinator_crashes += 1;
                    self.touched_coord = true;
                    self.cc = None;
                    self.coord_tick_at = None;
                    self.coord_online.clear();
                    for site in 0..self.links.len() {
                        self.kill_link(site);
                    }
                    let down = self.rng.between(5_000, 30_000);
                    self.after(down, Ev::CoordinatorRestart);
                }
                let next = self.rng.exp(1_800_000.0);
                self.after(next, Ev::Fault(fault));
            }
        }
    }

    fn cut(&mut self, site: usize, dur: u64) {
        self.links[site].wan_up = false;
        self.kill_link(site);
        self.after(dur, Ev::WanBack(site));
    }

    fn gateway_crash(&mut self, site: usize) {
        let mut fx = Vec::new();
        self.branches[site].crash(self.now, &mut fx);
        self.kill_link(site);
        let seated: Vec<AgentId> = self
            .agents
            .iter()
            .filter(|(_, a)| a.site == site)
            .map(|(id, _)| *id)
            .collect();
        for a in seated {
            if let Some(s) = self.agents.get_mut(&a) {
                s.view = None;
            }
            if let Some(r) = self.truth.ringing.get_mut(&a) {
                r.clear();
            }
            self.truth.touched.insert(a);
        }
        self.apply(site, fx);
    }

    fn gateway_restart(&mut self, site: usize) {
        if self.branches[site].up {
            return;
        }
        self.branches[site].restart(self.now);
        self.touched_sites.insert(site);
        self.connect(site);
    }

    fn coordinator_restart(&mut self) {
        if self.cc.is_some() {
            return;
        }
        match CallControl::new(self.center.config.clone(), 1, self.now) {
            Ok(cc) => self.cc = Some(cc),
            Err(e) => self.breach_now("coordinator-restart", e.to_string()),
        }
        self.touched_coord = true;
    }

    /// Traffic and faults stop; everything down comes back.
    fn heal(&mut self) {
        self.healed = true;
        for site in 0..self.links.len() {
            self.links[site].wan_up = true;
        }
        self.coordinator_restart();
        for site in 0..self.branches.len() {
            self.gateway_restart(site);
        }
        // Agents on a break come back so the last callers are served.
        let agents: Vec<AgentId> = self.agents.keys().copied().collect();
        for a in agents {
            if self.agents.get(&a).is_some_and(|s| s.on_break) {
                let d = self.rng.between(0, 5_000);
                self.after(d, Ev::Agent(a, Act::Back));
            }
        }
    }
}
