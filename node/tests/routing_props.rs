//! Property tests: random topologies and random event sequences (agent state
//! changes, arrivals, answers, rejects, timeouts, abandons, callbacks, config
//! changes), with an independent tracker checking the engine's guarantees after
//! every input.

mod routing_support;

use std::collections::{BTreeMap, HashMap, HashSet};

use proptest::prelude::{
    Just, ProptestConfig, any, prop, prop_assert, prop_assert_eq, prop_oneof, proptest,
};
use proptest::strategy::Strategy as _;
use routing_support::*;
use tandem_node::routing::Strategy;
use tandem_node::routing::*;

const STRATEGIES: [Strategy; 9] = [
    Strategy::Linear,
    Strategy::Circular,
    Strategy::FewestAnswered,
    Strategy::LongestIdle,
    Strategy::AgentPriority,
    Strategy::CallerNumber,
    Strategy::Random,
    Strategy::ProficiencyWeighted,
    Strategy::RingAll,
];

#[derive(Debug, Clone)]
struct QueueParams {
    strategy: usize,
    /// (group, after seconds, min proficiency) per ring.
    rings: Vec<(usize, u64, u8)>,
    max_waiting: Option<u32>,
    overflow: Option<(u8, usize)>,
    wrap: u8,
    aging: bool,
    retry_s: u64,
    timeout_s: u64,
}

/// (agent, group, proficiency, priority, shift window as (start, end) minute of Monday)
type MemberParams = (usize, usize, u8, u8, Option<(u16, u16)>);

#[derive(Debug, Clone)]
struct Params {
    agents: usize,
    members: Vec<MemberParams>,
    groups: usize,
    queues: Vec<QueueParams>,
    chats: Vec<u8>,
    missed: u32,
    ring_all: bool,
}

fn queue_params(
    groups: usize,
    queues: usize,
    ring_all: bool,
) -> impl proptest::strategy::Strategy<Value = QueueParams> {
    let strategies: usize = if ring_all { 9 } else { 8 };
    (
        0..strategies,
        prop::collection::vec(
            (
                0..groups,
                prop::sample::select(vec![0u64, 0, 10, 30]),
                1..=3u8,
            ),
            1..=3,
        ),
        prop::option::of(1..4u32),
        prop::option::of((0..3u8, 0..queues)),
        0..4u8,
        any::<bool>(),
        1..10u64,
        5..20u64,
    )
        .prop_map(
            |(strategy, rings, max_waiting, overflow, wrap, aging, retry_s, timeout_s)| {
                QueueParams {
                    strategy,
                    rings,
                    max_waiting,
                    overflow,
                    wrap,
                    aging,
                    retry_s,
                    timeout_s,
                }
            },
        )
}

fn params() -> impl proptest::strategy::Strategy<Value = Params> {
    (1..=6usize, 1..=3usize, 1..=3usize, any::<bool>())
        .prop_flat_map(|(agents, groups, queues, ring_all)| {
            (
                Just(agents),
                prop::collection::vec(
                    (
                        0..agents,
                        0..groups,
                        1..=5u8,
                        0..3u8,
                        prop::option::weighted(0.25, (0..90u16, 0..120u16)),
                    ),
                    1..=12,
                ),
                Just(groups),
                prop::collection::vec(queue_params(groups, queues, ring_all), queues),
                prop::collection::vec(1..=3u8, agents),
                1..=3u32,
                Just(ring_all),
            )
        })
        .prop_map(
            |(agents, members, groups, queues, chats, missed, ring_all)| Params {
                agents,
                members,
                groups,
                queues,
                chats,
                missed,
                ring_all,
            },
        )
}

fn build(p: &Params, tweak: u8) -> RoutingConfig {
    let agents = (0..p.agents)
        .map(|a| AgentConfig {
            max_chats: p.chats[a],
            max_missed_offers: p.missed,
            ..agent(a as u32 + 1)
        })
        .collect();
    let groups = (0..p.groups)
        .map(|g| {
            let mut seen = HashSet::new();
            let members = p
                .members
                .iter()
                .filter(|m| m.1 == g && seen.insert(m.0))
                .map(|&(a, _, proficiency, priority, window)| Membership {
                    proficiency: (proficiency + tweak).clamp(1, 5),
                    priority,
                    windows: window
                        .map(|(start, end)| TimeWindow {
                            days: 0b1,
                            start_minute: start,
                            end_minute: end,
                        })
                        .into_iter()
                        .collect(),
                    ..member(a as u32 + 1)
                })
                .collect();
            GroupConfig {
                members,
                ..group(g as u32 + 1, &[])
            }
        })
        .collect();
    let queues = p
        .queues
        .iter()
        .enumerate()
        .map(|(i, qp)| {
            let id = i as u32 + 1;
            let mut q = queue(id, &[]);
            q.strategy =
                STRATEGIES[(qp.strategy + usize::from(tweak)) % if p.ring_all { 9 } else { 8 }];
            q.targets = qp
                .rings
                .iter()
                .map(|&(g, after, min)| TargetStep {
                    group: GroupId(g as u32 + 1),
                    after_ms: (after + u64::from(tweak) * 5) * 1_000,
                    min_proficiency: min,
                })
                .collect();
            q.max_waiting = qp.max_waiting;
            if let Some((kind, target)) = qp.overflow
                && target != i
            {
                let when = match kind {
                    0 => OverflowWhen::Full,
                    1 => OverflowWhen::NoReadyAgents,
                    _ => OverflowWhen::WaitExceedsMs(20_000),
                };
                q.overflow = vec![OverflowRule {
                    when,
                    target: QueueId(target as u32 + 1),
                }];
            }
            let mode = [
                WrapUpMode::None,
                WrapUpMode::Mandatory,
                WrapUpMode::Optional,
                WrapUpMode::Manual,
            ][usize::from(qp.wrap)];
            q.wrap_up = WrapUpPolicy {
                mode,
                duration_ms: 15_000,
            };
            q.aging_ms_per_level = qp.aging.then_some(10_000);
            q.retry_same_agent_after_ms = qp.retry_s * 1_000;
            q.offer_timeout_ms = qp.timeout_s * 1_000;
            q
        })
        .collect();
    RoutingConfig {
        queues,
        groups,
        agents,
        vips: vec![VipRule {
            pattern: NumberPattern::Exact("100".into()),
            priority: 7,
            agents: vec![AgentId(1)],
        }],
        random_seed: 3,
        ..RoutingConfig::default()
    }
}

#[derive(Debug, Clone)]
enum Op {
    Advance(u64),
    Arrive {
        queue: u8,
        caller: u8,
        priority: u8,
        chat: bool,
    },
    Login(u8),
    Ready(u8),
    NotReady(u8),
    Logout(u8),
    Accept(u8),
    Reject(u8),
    End(u8),
    Abandon(u8),
    WrapDone(u8),
    Callback(u8),
    Hold(u8, bool),
    Replace(u8),
    /// Any input with arbitrary (often unknown or stale) ids.
    Raw(u8, u8),
}

fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    prop_oneof![
        4 => (0..30_000u64).prop_map(Op::Advance),
        4 => (0..3u8, 0..4u8, 0..=9u8, prop::bool::weighted(0.2))
            .prop_map(|(queue, caller, priority, chat)| Op::Arrive { queue, caller, priority, chat }),
        1 => any::<u8>().prop_map(Op::Login),
        3 => any::<u8>().prop_map(Op::Ready),
        1 => any::<u8>().prop_map(Op::NotReady),
        1 => any::<u8>().prop_map(Op::Logout),
        4 => any::<u8>().prop_map(Op::Accept),
        1 => any::<u8>().prop_map(Op::Reject),
        3 => any::<u8>().prop_map(Op::End),
        1 => any::<u8>().prop_map(Op::Abandon),
        2 => any::<u8>().prop_map(Op::WrapDone),
        1 => any::<u8>().prop_map(Op::Callback),
        1 => (any::<u8>(), any::<bool>()).prop_map(|(c, h)| Op::Hold(c, h)),
        1 => (0..3u8).prop_map(Op::Replace),
        2 => (0..10u8, 0..40u8).prop_map(|(k, id)| Op::Raw(k, id)),
    ]
}

/// What the tracker knows about one call, from the action and event streams only.
#[derive(Debug, Default)]
struct CallTrack {
    first_queued: Option<u64>,
    queue: Option<QueueId>,
    priority: u8,
    channel: Channel,
    /// Offers ringing right now.
    offers: HashSet<OfferId>,
    answered: u32,
    connected: bool,
    ended: bool,
    finished: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Presence {
    #[default]
    LoggedOut,
    NotReady,
    Ready,
}

/// Independent bookkeeping of the engine's outputs, checking the guarantees.
#[derive(Default)]
struct Tracker {
    calls: BTreeMap<CallId, CallTrack>,
    offers: HashMap<OfferId, (CallId, AgentId)>,
    /// Interactions held per agent: (call, channel).
    holding: HashMap<AgentId, Vec<(CallId, Channel)>>,
    declined: HashMap<(CallId, AgentId), u64>,
    answered_by: HashMap<AgentId, u64>,
    /// What each agent said (or the engine decided after missed offers).
    presence: HashMap<AgentId, Presence>,
    missed_in_row: HashMap<AgentId, u32>,
    seen_events: usize,
    arrived: usize,
}

impl Tracker {
    fn absorb(&mut self, h: &Harness, cfg: &RoutingConfig, ring_all: bool) {
        for e in &h.events[self.seen_events..] {
            let now = e.at.0 - T0;
            match &e.kind {
                EventKind::Queued {
                    call,
                    queue,
                    priority,
                    channel,
                } => {
                    self.arrived += 1;
                    let t = self.calls.entry(*call).or_default();
                    assert!(t.first_queued.is_none(), "call {call} queued twice");
                    t.first_queued = Some(now);
                    t.queue = Some(*queue);
                    t.priority = *priority;
                    t.channel = *channel;
                }
                EventKind::Offered {
                    offer, call, agent, ..
                } => {
                    let (call, agent, offer) = (*call, *agent, *offer);
                    let t = self.calls.entry(call).or_default();
                    let channel = t.channel;
                    assert!(
                        !t.connected && !t.finished,
                        "call {call} offered after it was answered"
                    );
                    if !ring_all {
                        assert!(
                            t.offers.is_empty(),
                            "call {call} offered to two agents without ring-all"
                        );
                    }
                    t.offers.insert(offer);
                    let held = self.holding.entry(agent).or_default();
                    let cap = if channel == Channel::Voice {
                        1
                    } else {
                        cfg_agent(cfg, agent).max_chats as usize
                    };
                    assert!(
                        held.iter().all(|&(_, ch)| ch == channel),
                        "agent {agent} offered {channel:?} while holding {held:?}"
                    );
                    assert!(
                        held.len() < cap,
                        "agent {agent} offered {call} beyond capacity {cap}: {held:?}"
                    );
                    held.push((call, channel));
                    self.offers.insert(offer, (call, agent));
                }
                EventKind::Overflowed { call, to, .. } => {
                    if let Some(t) = self.calls.get_mut(call) {
                        t.queue = Some(*to);
                    }
                }
                EventKind::Rejected { call, .. } => {
                    let t = self.calls.entry(*call).or_default();
                    assert!(t.offers.is_empty() && !t.finished);
                    t.finished = true;
                }
                EventKind::OfferEnded {
                    offer,
                    call,
                    agent,
                    how,
                } => {
                    self.offers.remove(offer);
                    if *how == OfferEnd::TimedOut {
                        let missed = self.missed_in_row.entry(*agent).or_default();
                        *missed += 1;
                        let presence = self.presence.entry(*agent).or_default();
                        if *missed >= cfg_agent(cfg, *agent).max_missed_offers
                            && *presence == Presence::Ready
                        {
                            *presence = Presence::NotReady;
                        }
                    }
                    self.release(*agent, *call);
                    if let Some(t) = self.calls.get_mut(call) {
                        t.offers.remove(offer);
                        if *how != OfferEnd::Cancelled {
                            let q = t.queue.and_then(|q| cfg.queues.iter().find(|c| c.id == q));
                            let retry = q.map_or(0, |q| q.retry_same_agent_after_ms);
                            self.declined.insert((*call, *agent), now + retry);
                        }
                    }
                }
                EventKind::Answered {
                    offer,
                    call,
                    agent,
                    waited_ms,
                    ..
                } => {
                    self.offers.remove(offer);
                    *self.answered_by.entry(*agent).or_default() += 1;
                    self.missed_in_row.insert(*agent, 0);
                    let t = self.calls.entry(*call).or_default();
                    t.offers.remove(offer);
                    t.answered += 1;
                    t.connected = true;
                    assert_eq!(t.answered, 1, "call {call} answered twice");
                    assert_eq!(
                        Some(now - waited_ms),
                        t.first_queued,
                        "call {call}: age lost"
                    );
                }
                EventKind::Ended { call, .. } => {
                    if let Some(t) = self.calls.get_mut(call) {
                        t.ended = true;
                    }
                }
                EventKind::Completed { call, agent, .. } => {
                    self.release(*agent, *call);
                    let t = self.calls.entry(*call).or_default();
                    assert!(
                        t.connected && t.ended && !t.finished,
                        "call {call} completed out of order"
                    );
                    t.finished = true;
                }
                EventKind::Abandoned { call, .. } => {
                    let t = self.calls.entry(*call).or_default();
                    assert!(
                        !t.connected && !t.finished,
                        "call {call} abandoned after answer/finish"
                    );
                    t.finished = true;
                }
                _ => {}
            }
        }
        self.seen_events = h.events.len();
        // After an answer, no other offer of that call may still ring.
        for (id, t) in &self.calls {
            if t.connected {
                assert!(
                    t.offers.is_empty(),
                    "call {id} answered but still ringing elsewhere: {:?}",
                    t.offers
                );
            }
        }
    }

    fn release(&mut self, agent: AgentId, call: CallId) {
        if let Some(held) = self.holding.get_mut(&agent) {
            held.retain(|&(c, _)| c != call);
        }
    }

    fn check_router(&self, h: &Harness, cfg: &RoutingConfig) {
        let now = h.now;
        let live = self
            .calls
            .values()
            .filter(|t| t.first_queued.is_some() && !t.finished)
            .count();
        assert_eq!(h.router.call_count(), live, "calls lost or duplicated");
        let mut seen = HashSet::new();
        for q in &cfg.queues {
            let waiting = h.router.waiting(q.id);
            // Each waiting call is in exactly one queue, in key order (place kept).
            let keys: Vec<(i64, u64)> = waiting
                .iter()
                .map(|c| {
                    assert!(seen.insert(*c), "call {c} waits twice");
                    let t = &self.calls[c];
                    assert!(
                        t.offers.is_empty() && !t.connected && !t.finished,
                        "call {c} waits while {t:?}"
                    );
                    assert_eq!(t.queue, Some(q.id), "call {c} waits in the wrong queue");
                    let arrival = t.first_queued.unwrap_or_default();
                    let rank = match q.aging_ms_per_level {
                        Some(x) => arrival as i64 - i64::from(t.priority) * x as i64,
                        None => -i64::from(t.priority),
                    };
                    (rank, arrival)
                })
                .collect();
            assert!(
                keys.windows(2).all(|w| w[0] <= w[1]),
                "queue {} out of order: {waiting:?} {keys:?}",
                q.id
            );
            // Liveness: no waiting call has a ready, eligible agent.
            for c in &waiting {
                let t = &self.calls[c];
                let age = now - t.first_queued.unwrap_or_default();
                for ring in q.targets.iter().filter(|r| r.after_ms <= age) {
                    let Some(g) = cfg.groups.iter().find(|g| g.id == ring.group) else {
                        continue;
                    };
                    let in_shift = |m: &&Membership| {
                        m.windows.is_empty()
                            || m.windows.iter().any(|w| w.contains(Timestamp(T0 + now), 0))
                    };
                    for m in g
                        .members
                        .iter()
                        .filter(|m| m.proficiency >= ring.min_proficiency)
                        .filter(in_shift)
                    {
                        let declined = self
                            .declined
                            .get(&(*c, m.agent))
                            .is_some_and(|&until| until > now);
                        assert!(
                            declined || !self.free_for(m.agent, t.channel, cfg),
                            "call {c} waits in queue {} while agent {} is ready and eligible",
                            q.id,
                            m.agent
                        );
                    }
                }
            }
        }
    }

    /// Whether the agent is ready and has room for one more `channel` interaction.
    fn free_for(&self, agent: AgentId, channel: Channel, cfg: &RoutingConfig) -> bool {
        let held = self.holding.get(&agent).map_or(&[][..], |h| h.as_slice());
        let cap = match channel {
            Channel::Voice => 1,
            Channel::Chat => usize::from(cfg_agent(cfg, agent).max_chats),
        };
        self.presence.get(&agent) == Some(&Presence::Ready)
            && held.iter().all(|&(_, ch)| ch == channel)
            && held.len() < cap
    }

    /// Applies an accepted presence input.
    fn presence_input(&mut self, input: &Input) {
        match input {
            Input::AgentLogin { agent } => {
                let p = self.presence.entry(*agent).or_default();
                if *p == Presence::LoggedOut {
                    *p = Presence::NotReady;
                }
            }
            Input::AgentReady { agent } => {
                let before = self.presence.insert(*agent, Presence::Ready);
                // A repeated "ready" (a retry) does not wipe the missed-offer count.
                if before != Some(Presence::Ready) {
                    self.missed_in_row.insert(*agent, 0);
                }
            }
            Input::AgentNotReady { agent, .. } => {
                self.presence.insert(*agent, Presence::NotReady);
            }
            Input::AgentLogout { agent } => {
                self.presence.insert(*agent, Presence::LoggedOut);
            }
            _ => {}
        }
    }

    /// Statistics survive every input, configuration changes included.
    fn check_stats(&self, h: &Harness, cfg: &RoutingConfig) {
        for a in &cfg.agents {
            let answered = self.answered_by.get(&a.id).copied().unwrap_or(0);
            assert_eq!(
                h.router.agent_stats(a.id).map(|s| s.answered),
                Some(answered),
                "agent {} statistics lost",
                a.id
            );
        }
    }

    fn pick<T: Copy>(items: &[T], i: u8) -> Option<T> {
        (!items.is_empty()).then(|| items[usize::from(i) % items.len()])
    }

    fn ringing(&self) -> Vec<OfferId> {
        let mut v: Vec<OfferId> = self.offers.keys().copied().collect();
        v.sort();
        v
    }

    fn calls_where(&self, f: impl Fn(&CallTrack) -> bool) -> Vec<CallId> {
        self.calls
            .iter()
            .filter(|(_, t)| f(t))
            .map(|(c, _)| *c)
            .collect()
    }
}

fn cfg_agent(cfg: &RoutingConfig, agent: AgentId) -> &AgentConfig {
    match cfg.agents.iter().find(|a| a.id == agent) {
        Some(a) => a,
        None => panic!("offer to unknown agent {agent}"),
    }
}

fn run(p: Params, ops: Vec<Op>) {
    let mut cfg = build(&p, 0);
    let mut h = Harness::new(cfg.clone());
    let mut tr = Tracker::default();
    let mut next_call = 1u64;
    let agent = |i: u8| AgentId(u32::from(i) % p.agents as u32 + 1);
    for op in ops {
        let input = match op {
            Op::Advance(ms) => {
                let t = h.now + ms;
                h.at(t);
                None
            }
            Op::Arrive {
                queue,
                caller,
                priority,
                chat,
            } => {
                next_call += 1;
                Some(Input::CallArrived {
                    call: CallId(next_call),
                    queue: QueueId(u32::from(queue) % cfg.queues.len() as u32 + 1),
                    caller: Some(format!("{}", 100 + u32::from(caller))),
                    priority,
                    channel: if chat { Channel::Chat } else { Channel::Voice },
                })
            }
            Op::Login(a) => Some(Input::AgentLogin { agent: agent(a) }),
            Op::Ready(a) => Some(Input::AgentReady { agent: agent(a) }),
            Op::NotReady(a) => Some(Input::AgentNotReady {
                agent: agent(a),
                reason: "break".into(),
            }),
            Op::Logout(a) => Some(Input::AgentLogout { agent: agent(a) }),
            Op::Accept(i) => {
                Tracker::pick(&tr.ringing(), i).map(|offer| Input::OfferAccepted { offer })
            }
            Op::Reject(i) => {
                Tracker::pick(&tr.ringing(), i).map(|offer| Input::OfferRejected { offer })
            }
            Op::End(i) => Tracker::pick(&tr.calls_where(|t| t.connected && !t.ended), i)
                .map(|call| Input::CallEnded { call }),
            Op::Abandon(i) => Tracker::pick(
                &tr.calls_where(|t| !t.connected && !t.finished && t.first_queued.is_some()),
                i,
            )
            .map(|call| Input::CallAbandoned { call }),
            Op::WrapDone(i) => {
                let wrapping: Vec<(AgentId, CallId)> = tr
                    .holding
                    .iter()
                    .flat_map(|(a, held)| held.iter().map(move |&(c, _)| (*a, c)))
                    .filter(|(_, c)| tr.calls.get(c).is_some_and(|t| t.ended))
                    .collect();
                let mut wrapping = wrapping;
                wrapping.sort();
                Tracker::pick(&wrapping, i).map(|(agent, call)| Input::WrapUpDone { agent, call })
            }
            Op::Callback(i) => Tracker::pick(
                &tr.calls_where(|t| !t.connected && !t.finished && t.first_queued.is_some()),
                i,
            )
            .map(|call| Input::CallbackRequested { call }),
            Op::Hold(i, hold) => Tracker::pick(&tr.calls_where(|t| t.connected && !t.ended), i)
                .map(|call| {
                    if hold {
                        Input::CallHeld { call }
                    } else {
                        Input::CallResumed { call }
                    }
                }),
            Op::Raw(kind, id) => {
                let (call, agent, offer) = (
                    CallId(u64::from(id)),
                    AgentId(u32::from(id) % 8),
                    OfferId(u64::from(id)),
                );
                Some(match kind {
                    0 => Input::OfferAccepted { offer },
                    1 => Input::OfferRejected { offer },
                    2 => Input::CallEnded { call },
                    3 => Input::CallAbandoned { call },
                    4 => Input::WrapUpDone { agent, call },
                    5 => Input::CallbackRequested { call },
                    6 => Input::CallHeld { call },
                    7 => Input::AgentLogout { agent },
                    8 => Input::AgentReady { agent },
                    _ => Input::CallArrived {
                        // Call ids are unique by contract: never reuse one.
                        call: {
                            next_call += 1;
                            CallId(next_call)
                        },
                        queue: QueueId(u32::from(id) % 5),
                        caller: None,
                        priority: id % 12,
                        channel: Channel::Voice,
                    },
                })
            }
            Op::Replace(tweak) => {
                let next = build(&p, tweak);
                let ok = h
                    .try_input(Input::ConfigReplaced(Box::new(next.clone())))
                    .is_ok();
                if ok {
                    cfg = next;
                }
                None
            }
        };
        if let Some(input) = input {
            // Inputs may legitimately be refused (e.g. mandatory wrap-up); refused ones change nothing.
            let before = (h.router.call_count(), h.actions.len(), h.events.len());
            let presence = input.clone();
            if h.try_input(input).is_ok() {
                tr.presence_input(&presence);
            } else {
                assert_eq!(
                    before,
                    (h.router.call_count(), h.actions.len(), h.events.len()),
                    "a refused input had effects"
                );
            }
        }
        tr.absorb(&h, &cfg, p.ring_all);
        tr.check_router(&h, &cfg);
        tr.check_stats(&h, &cfg);
    }
    // Every action must survive a postcard round trip (sent to the executing node).
    for a in &h.actions {
        let bytes = match postcard::to_allocvec(a) {
            Ok(b) => b,
            Err(err) => panic!("action {a:?} does not serialize: {err}"),
        };
        assert_eq!(
            postcard::from_bytes::<Action>(&bytes).ok().as_ref(),
            Some(a)
        );
    }
    // Every event must survive a postcard round trip (CDR upload).
    for e in &h.events {
        let bytes = match postcard::to_allocvec(e) {
            Ok(b) => b,
            Err(err) => panic!("event {e:?} does not serialize: {err}"),
        };
        assert_eq!(postcard::from_bytes::<Event>(&bytes).ok().as_ref(), Some(e));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn engine_guarantees_hold_under_random_sequences(p in params(), ops in prop::collection::vec(op(), 1..200)) {
        run(p, ops);
    }

    #[test]
    fn config_validation_never_panics_and_names_a_field(p in params(), agent in 0..9u32, group in 0..5u32, queue in 0..5u32, prof in 0..8u8, offset in any::<i16>()) {
        let mut cfg = build(&p, 0);
        cfg.utc_offset_minutes = offset;
        if let Some(m) = cfg.groups.first_mut().and_then(|g| g.members.first_mut()) {
            m.agent = AgentId(agent);
            m.proficiency = prof;
        }
        if let Some(t) = cfg.queues.first_mut().and_then(|q| q.targets.first_mut()) {
            t.group = GroupId(group);
        }
        cfg.blacklist.push(BlacklistRule { pattern: NumberPattern::Prefix("+86".into()), action: BlacklistAction::RouteTo(QueueId(queue)) });
        match Router::new(cfg.clone(), Timestamp(T0)) {
            Ok(_) => prop_assert!(cfg.validate().is_ok()),
            Err(e) => {
                let msg = e.to_string();
                prop_assert!(msg.contains(':'), "error without a field: {msg}");
                prop_assert_eq!(cfg.validate(), Err(e));
            }
        }
    }
}
