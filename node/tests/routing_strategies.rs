//! Every distribution strategy driven through the real engine with a simulated clock.

mod routing_support;

use routing_support::*;
use tandem_node::routing::*;

/// Readies agents `ids` one second apart, in the order given.
fn ready_in_order(h: &mut Harness, ids: &[u32]) {
    for &id in ids {
        let next = h.now + 1_000;
        h.at(next).ready(id);
    }
}

/// Arrives a call, serves it for 1 s (no wrap-up) and returns who took it.
fn route_one(h: &mut Harness, call: u64) -> u32 {
    h.arrive(call, 1);
    let o = h.one_offer();
    h.serve(o, 1_000);
    o.agent.0
}

#[test]
fn linear_always_starts_from_the_first_member() {
    let mut h = Harness::new(simple(3, Strategy::Linear));
    ready_in_order(&mut h, &[3, 2, 1]);
    assert_eq!(route_one(&mut h, 1), 1);
    assert_eq!(
        route_one(&mut h, 2),
        1,
        "agent 1 is free again and first in order"
    );
    h.arrive(3, 1);
    let first = h.one_offer();
    h.accept(first);
    h.arrive(4, 1);
    assert_eq!(
        h.one_offer().agent,
        AgentId(2),
        "agent 1 busy: next in order"
    );
}

#[test]
fn circular_remembers_where_it_stopped() {
    let mut h = Harness::new(simple(3, Strategy::Circular));
    ready_in_order(&mut h, &[1, 2, 3]);
    let order: Vec<u32> = (1..=5).map(|c| route_one(&mut h, c)).collect();
    assert_eq!(order, vec![1, 2, 3, 1, 2]);
}

#[test]
fn fewest_answered_balances_counts() {
    let mut h = Harness::new(simple(3, Strategy::FewestAnswered));
    ready_in_order(&mut h, &[1, 2, 3]);
    let order: Vec<u32> = (1..=6).map(|c| route_one(&mut h, c)).collect();
    let count = |a| order.iter().filter(|&&x| x == a).count();
    assert_eq!((count(1), count(2), count(3)), (2, 2, 2), "{order:?}");
    // Agent 1 goes on a break and misses calls; back, it is preferred until level.
    h.ok(Input::AgentNotReady {
        agent: AgentId(1),
        reason: "break".into(),
    });
    assert_eq!(route_one(&mut h, 7), 2);
    assert_eq!(route_one(&mut h, 8), 3);
    h.ok(Input::AgentReady { agent: AgentId(1) });
    assert_eq!(route_one(&mut h, 9), 1);
}

#[test]
fn longest_idle_picks_the_agent_idle_longest() {
    let mut h = Harness::new(simple(3, Strategy::LongestIdle));
    ready_in_order(&mut h, &[3, 1, 2]);
    assert_eq!(route_one(&mut h, 1), 3);
    assert_eq!(route_one(&mut h, 2), 1);
    assert_eq!(route_one(&mut h, 3), 2);
    assert_eq!(
        route_one(&mut h, 4),
        3,
        "3 finished first, so it has been idle longest"
    );
}

#[test]
fn agent_priority_uses_the_priority_in_this_group() {
    let mut cfg = simple(3, Strategy::AgentPriority);
    for (m, p) in cfg.groups[0].members.iter_mut().zip([2, 0, 1]) {
        m.priority = p;
    }
    // Agent 1 has top priority in another group: irrelevant here.
    cfg.groups.push(GroupConfig {
        members: vec![Membership {
            priority: 0,
            ..member(1)
        }],
        ..group(2, &[])
    });
    let mut h = Harness::new(cfg);
    ready_in_order(&mut h, &[1, 2, 3]);
    assert_eq!(route_one(&mut h, 1), 2);
    h.arrive(2, 1);
    let o = h.one_offer();
    assert_eq!(o.agent, AgentId(2));
    h.accept(o);
    h.arrive(3, 1);
    assert_eq!(
        h.one_offer().agent,
        AgentId(3),
        "priority 1 before priority 2"
    );
}

#[test]
fn caller_number_returns_to_the_same_agent_and_honours_vips() {
    let mut cfg = simple(3, Strategy::CallerNumber);
    cfg.vips.push(VipRule {
        pattern: NumberPattern::Prefix("+8613".into()),
        priority: 5,
        agents: vec![AgentId(3)],
    });
    let mut h = Harness::new(cfg);
    ready_in_order(&mut h, &[1, 2, 3]);
    // First call from 555 goes to the longest idle: agent 1.
    h.arrive_from(1, 1, Some("555"), 0);
    let o = h.one_offer();
    assert_eq!(o.agent, AgentId(1));
    h.serve(o, 1_000);
    // Agent 1 is now the most recently idle, yet 555 comes back to agent 1.
    h.arrive_from(2, 1, Some("555"), 0);
    let o = h.one_offer();
    assert_eq!(o.agent, AgentId(1));
    h.serve(o, 1_000);
    // A VIP goes to its listed agent with its raised priority.
    h.arrive_from(3, 1, Some("+8613912345678"), 1);
    assert_eq!(h.one_offer().agent, AgentId(3));
    assert!(h.events.iter().any(|e| matches!(
        e.kind,
        EventKind::Queued {
            call: CallId(3),
            priority: 5,
            ..
        }
    )));
    // A stranger falls back to longest idle (agent 2).
    h.arrive_from(4, 1, Some("777"), 0);
    assert_eq!(h.one_offer().agent, AgentId(2));
}

#[test]
fn ring_all_rings_everyone_and_exactly_one_wins() {
    let mut h = Harness::new(simple(3, Strategy::RingAll));
    ready_in_order(&mut h, &[1, 2, 3]);
    h.arrive(1, 1);
    let offers = h.new_offers();
    assert_eq!(offers.len(), 3);
    assert!(offers.iter().all(|o| o.call == CallId(1)));
    h.accept(offers[1]);
    // The simultaneous second answer (Asterisk #176) is refused.
    assert_eq!(
        h.try_input(Input::OfferAccepted {
            offer: offers[2].offer
        }),
        Err(RouteError::OfferNotActive(offers[2].offer))
    );
    let cancelled: Vec<AgentId> = h
        .actions
        .iter()
        .filter_map(|a| match a.kind {
            ActionKind::CancelOffer { agent, .. } => Some(agent),
            _ => None,
        })
        .collect();
    assert_eq!(cancelled, vec![AgentId(1), AgentId(3)]);
    assert_eq!(
        h.count_events(|e| matches!(e, EventKind::Answered { .. })),
        1
    );
    assert_eq!(h.state(1), Some(AgentState::Ready));
    assert_eq!(h.state(2), Some(AgentState::OnCall));
    assert_eq!(h.state(3), Some(AgentState::Ready));
}

fn random_sequence(seed: u64, strategy: Strategy) -> Vec<u32> {
    let mut cfg = simple(4, strategy);
    cfg.random_seed = seed;
    for (m, p) in cfg.groups[0].members.iter_mut().zip([1, 1, 1, 5]) {
        m.proficiency = p;
    }
    let mut h = Harness::new(cfg);
    ready_in_order(&mut h, &[1, 2, 3, 4]);
    (1..=400).map(|c| route_one(&mut h, c)).collect()
}

#[test]
fn random_is_reproducible_from_its_seed_and_covers_everyone() {
    let a = random_sequence(11, Strategy::Random);
    assert_eq!(a, random_sequence(11, Strategy::Random));
    assert_ne!(a, random_sequence(12, Strategy::Random));
    for agent in 1..=4 {
        let n = a.iter().filter(|&&x| x == agent).count();
        assert!((60..=140).contains(&n), "agent {agent} got {n} of 400");
    }
}

#[test]
fn proficiency_weighted_favours_the_expert() {
    let seq = random_sequence(5, Strategy::ProficiencyWeighted);
    assert_eq!(seq, random_sequence(5, Strategy::ProficiencyWeighted));
    // Weights 1:1:1:5 → the expert expects 250 of 400 (sd ≈ 9.7).
    let expert = seq.iter().filter(|&&x| x == 4).count();
    assert!((210..=290).contains(&expert), "expert got {expert} of 400");
}

#[test]
fn a_group_strategy_overrides_the_queue_strategy() {
    let mut cfg = simple(3, Strategy::LongestIdle);
    cfg.groups[0].strategy = Some(Strategy::Linear);
    let mut h = Harness::new(cfg);
    ready_in_order(&mut h, &[3, 2, 1]);
    assert_eq!(route_one(&mut h, 1), 1, "linear, not longest idle (3)");
}
