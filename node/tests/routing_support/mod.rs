//! Shared test harness for the routing engine: config builders and a driver with a
//! simulated clock that keeps every action and event.
#![allow(dead_code)] // each test binary uses a different subset of the helpers

use tandem_node::routing::*;

/// Monday 2024-01-01 00:00 UTC: tests start here so shift windows are easy to read.
pub const T0: u64 = 1_704_067_200_000;

pub fn agent(id: u32) -> AgentConfig {
    AgentConfig {
        id: AgentId(id),
        name: format!("agent {id}"),
        site: Site::Home,
        max_chats: 1,
        max_missed_offers: 3,
        wrap_up: None,
    }
}

pub fn member(id: u32) -> Membership {
    Membership {
        agent: AgentId(id),
        priority: 0,
        proficiency: 3,
        windows: Vec::new(),
    }
}

pub fn group(id: u32, agents: &[u32]) -> GroupConfig {
    GroupConfig {
        id: GroupId(id),
        name: format!("group {id}"),
        kind: GroupKind::Skill,
        strategy: None,
        members: agents.iter().map(|&a| member(a)).collect(),
    }
}

pub fn queue(id: u32, groups: &[u32]) -> QueueConfig {
    QueueConfig {
        id: QueueId(id),
        name: format!("queue {id}"),
        priority: 0,
        service_level: ServiceLevelTarget::default(),
        max_waiting: None,
        business_hours: None,
        strategy: Strategy::LongestIdle,
        targets: groups
            .iter()
            .map(|&g| TargetStep {
                group: GroupId(g),
                after_ms: 0,
                min_proficiency: 1,
            })
            .collect(),
        overflow: Vec::new(),
        wrap_up: WrapUpPolicy::default(),
        offer_timeout_ms: 10_000,
        retry_same_agent_after_ms: 5_000,
        aging_ms_per_level: None,
        announce_every_ms: None,
        callback_when_ewt_over_ms: None,
        initial_aht_ms: 60_000,
    }
}

/// One queue (1) served by one group (1) of agents `1..=n`.
pub fn simple(n: u32, strategy: Strategy) -> RoutingConfig {
    let agents: Vec<u32> = (1..=n).collect();
    let mut q = queue(1, &[1]);
    q.strategy = strategy;
    RoutingConfig {
        queues: vec![q],
        groups: vec![group(1, &agents)],
        agents: agents.iter().map(|&a| agent(a)).collect(),
        ..RoutingConfig::default()
    }
}

/// An offer as seen in the action stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offered {
    pub offer: OfferId,
    pub call: CallId,
    pub agent: AgentId,
}

/// The engine plus a simulated clock (ms since `T0`) and everything it emitted.
pub struct Harness {
    pub router: Router,
    pub now: u64,
    pub actions: Vec<Action>,
    pub events: Vec<Event>,
    seen_actions: usize,
}

impl Harness {
    pub fn new(config: RoutingConfig) -> Harness {
        let router = match Router::new(config, Timestamp(T0)) {
            Ok(r) => r,
            Err(e) => panic!("test config invalid: {e}"),
        };
        Harness {
            router,
            now: 0,
            actions: Vec::new(),
            events: Vec::new(),
            seen_actions: 0,
        }
    }

    /// Moves the clock to `ms` after `T0` (firing due timers).
    pub fn at(&mut self, ms: u64) -> &mut Self {
        self.now = ms;
        self.ok(Input::Tick);
        self
    }

    pub fn try_input(&mut self, input: Input) -> Result<(), RouteError> {
        let r = self.router.handle(Timestamp(T0 + self.now), input);
        self.actions.extend(self.router.drain_actions());
        self.events.extend(self.router.drain_events());
        r
    }

    pub fn ok(&mut self, input: Input) {
        let desc = format!("{input:?}");
        if let Err(e) = self.try_input(input) {
            panic!("{desc} refused: {e}");
        }
    }

    pub fn arrive(&mut self, call: u64, queue: u32) {
        self.arrive_from(call, queue, None, 0);
    }

    pub fn arrive_from(&mut self, call: u64, queue: u32, caller: Option<&str>, priority: u8) {
        self.ok(Input::CallArrived {
            call: CallId(call),
            queue: QueueId(queue),
            caller: caller.map(str::to_string),
            priority,
            channel: Channel::Voice,
        });
    }

    pub fn ready(&mut self, agent: u32) {
        self.ok(Input::AgentLogin {
            agent: AgentId(agent),
        });
        self.ok(Input::AgentReady {
            agent: AgentId(agent),
        });
    }

    pub fn accept(&mut self, o: Offered) {
        self.ok(Input::OfferAccepted { offer: o.offer });
    }

    /// Answers, talks for `talk_ms`, hangs up (wrap-up depends on config).
    pub fn serve(&mut self, o: Offered, talk_ms: u64) {
        self.accept(o);
        let end = self.now + talk_ms;
        self.at(end);
        self.ok(Input::CallEnded { call: o.call });
    }

    /// Offers made since the last call of `new_offers`.
    pub fn new_offers(&mut self) -> Vec<Offered> {
        let fresh = &self.actions[self.seen_actions..];
        self.seen_actions = self.actions.len();
        fresh
            .iter()
            .filter_map(|a| match a.kind {
                ActionKind::Offer {
                    offer, call, agent, ..
                } => Some(Offered { offer, call, agent }),
                _ => None,
            })
            .collect()
    }

    /// The single new offer; fails the test if there is not exactly one.
    pub fn one_offer(&mut self) -> Offered {
        let offers = self.new_offers();
        assert_eq!(
            offers.len(),
            1,
            "expected exactly one new offer, got {offers:?}"
        );
        offers[0]
    }

    pub fn no_offer(&mut self) {
        let offers = self.new_offers();
        assert!(offers.is_empty(), "expected no new offer, got {offers:?}");
    }

    pub fn state(&self, agent: u32) -> Option<AgentState> {
        self.router.agent_state(AgentId(agent))
    }

    pub fn waiting(&self, queue: u32) -> Vec<u64> {
        self.router
            .waiting(QueueId(queue))
            .iter()
            .map(|c| c.0)
            .collect()
    }

    pub fn count_events(&self, pred: impl Fn(&EventKind) -> bool) -> usize {
        self.events.iter().filter(|e| pred(&e.kind)).count()
    }
}
