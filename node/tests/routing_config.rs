//! Configuration as administrators write it: TOML in, typed errors naming the field out.

mod routing_support;

use routing_support::*;
use tandem_node::routing::*;

const TOML: &str = r#"
utc_offset_minutes = 480
random_seed = 7

[[queues]]
id = 1
name = "sales"
priority = 5
strategy = "Circular"
max_waiting = 50
business_hours = "weekdays"
service_level = { percent = 80, threshold_ms = 20000 }
targets = [
  { group = 1 },
  { group = 9, after_ms = 30000, min_proficiency = 4 },
]
overflow = [ { when = { WaitExceedsMs = 120000 }, target = 2 } ]
wrap_up = { mode = "Optional", duration_ms = 15000 }
callback_when_ewt_over_ms = 180000
announce_every_ms = 45000

[[queues]]
id = 2
name = "support"
targets = [ { group = 9 } ]

[[groups]]
id = 1
name = "sales team Shenzhen"
members = [
  { agent = 10, priority = 0, proficiency = 4 },
  { agent = 11, windows = [ { days = 31, start_minute = 540, end_minute = 1080 } ] },
]

[[groups]]
id = 9
name = "experts"
kind = "ExpertPool"
strategy = "LongestIdle"
members = [ { agent = 11, proficiency = 5 }, { agent = 12, proficiency = 5 } ]

[[agents]]
id = 10
name = "Li"
site = { Branch = "shenzhen-1" }

[[agents]]
id = 11
name = "Wang (part time)"
max_chats = 3

[[agents]]
id = 12
name = "Expert Zhao"
wrap_up = { mode = "Manual", duration_ms = 0 }

[[blacklist]]
pattern = { Prefix = "+86170" }
action = "Reject"

[[vips]]
pattern = { Exact = "+8613800000000" }
priority = 9
agents = [12]
"#;

#[test]
fn a_toml_config_loads_and_routes() {
    let cfg: RoutingConfig = match toml::from_str(TOML) {
        Ok(c) => c,
        Err(e) => panic!("TOML rejected: {e}"),
    };
    assert_eq!(cfg.validate(), Ok(()));
    assert_eq!(
        cfg.queues[1].offer_timeout_ms, 15_000,
        "defaults fill omitted fields"
    );
    assert_eq!(cfg.groups[0].members[1].proficiency, 3);
    let mut h = Harness::new(cfg);
    h.ready(12);
    h.arrive_from(1, 1, Some("+8617012345678"), 0);
    assert!(h.actions.iter().any(|a| a.kind
        == ActionKind::Reject {
            call: CallId(1),
            reason: RejectReason::Blacklisted
        }));
    h.arrive_from(2, 2, Some("+8613800000000"), 0);
    assert_eq!(h.one_offer().agent, AgentId(12));
}

#[test]
fn config_and_inputs_survive_postcard() {
    let cfg: RoutingConfig = match toml::from_str(TOML) {
        Ok(c) => c,
        Err(e) => panic!("TOML rejected: {e}"),
    };
    let input = Input::ConfigReplaced(Box::new(cfg));
    let bytes = match postcard::to_allocvec(&input) {
        Ok(b) => b,
        Err(e) => panic!("does not serialize: {e}"),
    };
    assert_eq!(postcard::from_bytes::<Input>(&bytes).ok(), Some(input));
}

fn err(cfg: &RoutingConfig) -> String {
    match cfg.validate() {
        Ok(()) => panic!("accepted an invalid config"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn every_error_names_the_field_at_fault() {
    let base = simple(2, Strategy::Linear);
    let mut c = base.clone();
    c.queues.push(queue(1, &[1]));
    assert_eq!(err(&c), "queues: duplicate queue id 1");
    let mut c = base.clone();
    c.groups[0].members.push(member(7));
    assert_eq!(err(&c), "groups[1].members: unknown agent 7");
    let mut c = base.clone();
    c.groups[0].members.push(member(2));
    assert_eq!(err(&c), "groups[1].members: agent 2 listed twice");
    let mut c = base.clone();
    c.groups[0].members[0].proficiency = 6;
    assert_eq!(
        err(&c),
        "groups[1].members[1].proficiency: 6 is out of range 1..=5"
    );
    let mut c = base.clone();
    c.queues[0].targets[0].group = GroupId(4);
    assert_eq!(err(&c), "queues[1].targets: unknown group 4");
    let mut c = base.clone();
    c.queues[0].targets.clear();
    assert_eq!(
        err(&c),
        "queues[1].targets: a queue needs at least one target group"
    );
    let mut c = base.clone();
    c.queues[0].overflow = vec![OverflowRule {
        when: OverflowWhen::Full,
        target: QueueId(1),
    }];
    assert_eq!(
        err(&c),
        "queues[1].overflow: a queue cannot overflow into itself"
    );
    let mut c = base.clone();
    c.queues[0].overflow = vec![OverflowRule {
        when: OverflowWhen::Full,
        target: QueueId(3),
    }];
    assert_eq!(err(&c), "queues[1].overflow: unknown queue 3");
    let mut c = base.clone();
    c.queues[0].offer_timeout_ms = 10;
    assert_eq!(
        err(&c),
        "queues[1].offer_timeout_ms: 10 is out of range 1000..=600000"
    );
    let mut c = base.clone();
    c.queues[0].wrap_up = WrapUpPolicy {
        mode: WrapUpMode::Mandatory,
        duration_ms: 0,
    };
    assert_eq!(
        err(&c),
        "queues[1].wrap_up.duration_ms: 0 is out of range 1..=3600000"
    );
    let mut c = base.clone();
    c.agents[1].max_chats = 0;
    assert_eq!(err(&c), "agents[2].max_chats: 0 is out of range 1..=32");
    let mut c = base.clone();
    c.blacklist.push(BlacklistRule {
        pattern: NumberPattern::Prefix("+86-10".into()),
        action: BlacklistAction::Reject,
    });
    assert_eq!(
        err(&c),
        "blacklist[0].pattern: \"+86-10\" is not a number (digits and an optional leading +)"
    );
    let mut c = base.clone();
    c.vips.push(VipRule {
        pattern: NumberPattern::Exact("1".into()),
        priority: 3,
        agents: vec![AgentId(9)],
    });
    assert_eq!(err(&c), "vips[0].agents: unknown agent 9");
    let mut c = base.clone();
    c.fairness.age_per_sec = f64::NAN;
    assert_eq!(
        err(&c),
        "fairness.age_per_sec: weight must be a finite number >= 0"
    );
    let mut c = base.clone();
    c.utc_offset_minutes = 900;
    assert_eq!(err(&c), "utc_offset_minutes: 900 is outside -840..=840");
    let mut c = base;
    c.groups[0].members[0].windows.push(TimeWindow {
        days: 0,
        start_minute: 0,
        end_minute: 60,
    });
    assert_eq!(
        err(&c),
        "groups[1].members[1].windows.days: 0 is out of range 1..=127"
    );
}

#[test]
fn toml_with_a_wrong_type_is_an_error_not_a_panic() {
    let bad = TOML.replace("priority = 5", "priority = \"high\"");
    let e = toml::from_str::<RoutingConfig>(&bad)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("priority"), "{e}");
}
