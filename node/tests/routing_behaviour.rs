//! Engine behaviour with a simulated clock: offers that fail, wrap-up, capacity,
//! widening, overflow, fairness, callbacks, EWT, blacklist, shifts, config changes.

mod routing_support;

use routing_support::*;
use tandem_node::routing::*;

const S: u64 = 1_000;

fn answered_wait(h: &Harness, call: u64) -> Option<u64> {
    h.events.iter().find_map(|e| match e.kind {
        EventKind::Answered {
            call: c, waited_ms, ..
        } if c == CallId(call) => Some(waited_ms),
        _ => None,
    })
}

#[test]
fn offer_timeout_returns_the_call_to_its_place_keeping_its_age() {
    let mut h = Harness::new(simple(1, Strategy::LongestIdle));
    h.ready(1);
    h.arrive(1, 1);
    let first = h.one_offer();
    h.at(2 * S).arrive(2, 1);
    h.at(3 * S).arrive(3, 1);
    assert_eq!(h.waiting(1), vec![2, 3]);
    assert_eq!(h.state(1), Some(AgentState::Reserved));
    // Nobody answers: at 10 s the offer is withdrawn, call 1 goes back to the head.
    h.at(10 * S);
    assert!(h.actions.iter().any(|a| a.kind
        == ActionKind::CancelOffer {
            offer: first.offer,
            call: CallId(1),
            agent: AgentId(1)
        }));
    // Agent 1 is skipped for call 1 for 5 s, so it is offered call 2 meanwhile.
    let second = h.one_offer();
    assert_eq!(second.call, CallId(2));
    assert_eq!(h.waiting(1), vec![1, 3], "call 1 is back ahead of call 3");
    assert_eq!(h.router.position_and_ewt(CallId(1)).map(|p| p.0), Some(1));
    h.serve(second, 20 * S);
    let third = h.one_offer();
    assert_eq!(third.call, CallId(1));
    h.accept(third);
    assert_eq!(
        answered_wait(&h, 1),
        Some(30 * S),
        "age counted from first entry"
    );
}

#[test]
fn a_reject_returns_the_call_and_another_agent_gets_it() {
    let mut h = Harness::new(simple(2, Strategy::Linear));
    h.ready(1);
    h.ready(2);
    h.arrive(1, 1);
    h.arrive(2, 1);
    let offers = h.new_offers();
    assert_eq!(offers.len(), 2);
    h.ok(Input::OfferRejected {
        offer: offers[0].offer,
    });
    // Agent 1 is skipped for call 1, and no other call waits: it stays ready.
    h.no_offer();
    assert_eq!(h.waiting(1), vec![1]);
    assert_eq!(h.state(1), Some(AgentState::Ready));
    // After the retry delay agent 1 is offered call 1 again.
    h.at(5 * S);
    assert_eq!(
        h.one_offer(),
        Offered {
            offer: OfferId(3),
            call: CallId(1),
            agent: AgentId(1)
        }
    );
    // A reject does not count as a missed offer.
    assert_eq!(
        h.count_events(|e| matches!(
            e,
            EventKind::OfferEnded {
                how: OfferEnd::TimedOut,
                ..
            }
        )),
        0
    );
}

#[test]
fn agent_goes_not_ready_after_n_consecutive_missed_offers() {
    let mut cfg = simple(1, Strategy::LongestIdle);
    cfg.agents[0].max_missed_offers = 2;
    let mut h = Harness::new(cfg);
    h.ready(1);
    h.arrive(1, 1);
    h.arrive(2, 1);
    h.one_offer();
    h.at(10 * S);
    assert_eq!(h.one_offer().call, CallId(2));
    h.at(20 * S);
    assert_eq!(
        h.state(1),
        Some(AgentState::NotReady(REASON_MISSED_OFFERS.into()))
    );
    h.at(60 * S).no_offer();
    assert_eq!(h.waiting(1), vec![1, 2]);
    // Back to ready: the counter restarts and work resumes.
    h.ok(Input::AgentReady { agent: AgentId(1) });
    assert_eq!(h.one_offer().call, CallId(1));
}

fn wrap_cfg(mode: WrapUpMode) -> RoutingConfig {
    let mut cfg = simple(1, Strategy::LongestIdle);
    cfg.queues[0].wrap_up = WrapUpPolicy {
        mode,
        duration_ms: 30 * S,
    };
    cfg
}

#[test]
fn mandatory_wrap_up_holds_the_agent_for_the_full_time() {
    let mut h = Harness::new(wrap_cfg(WrapUpMode::Mandatory));
    h.ready(1);
    h.arrive(1, 1);
    let o = h.one_offer();
    h.serve(o, 60 * S);
    h.arrive(2, 1);
    h.no_offer();
    assert_eq!(h.state(1), Some(AgentState::WrapUp));
    let early = h.at(70 * S).try_input(Input::WrapUpDone {
        agent: AgentId(1),
        call: CallId(1),
    });
    assert!(
        matches!(early, Err(RouteError::WrapUpMandatory { .. })),
        "{early:?}"
    );
    h.at(90 * S);
    assert_eq!(h.one_offer().call, CallId(2));
    assert!(h.events.iter().any(|e| matches!(e.kind,
        EventKind::Completed { call: CallId(1), talk_ms, wrap_ms, .. } if talk_ms == 60 * S && wrap_ms == 30 * S)));
}

#[test]
fn optional_wrap_up_may_end_early() {
    let mut h = Harness::new(wrap_cfg(WrapUpMode::Optional));
    h.ready(1);
    h.arrive(1, 1);
    let o = h.one_offer();
    h.serve(o, 60 * S);
    h.at(65 * S).ok(Input::WrapUpDone {
        agent: AgentId(1),
        call: CallId(1),
    });
    assert_eq!(h.state(1), Some(AgentState::Ready));
    assert!(
        h.events
            .iter()
            .any(|e| matches!(e.kind, EventKind::Completed { wrap_ms, .. } if wrap_ms == 5 * S))
    );
}

#[test]
fn manual_wrap_up_lasts_until_the_agent_ends_it_and_agent_policy_wins() {
    let mut cfg = wrap_cfg(WrapUpMode::Optional);
    cfg.agents[0].wrap_up = Some(WrapUpPolicy {
        mode: WrapUpMode::Manual,
        duration_ms: 0,
    });
    let mut h = Harness::new(cfg);
    h.ready(1);
    h.arrive(1, 1);
    let o = h.one_offer();
    h.serve(o, 10 * S);
    h.at(3_600 * S);
    assert_eq!(
        h.state(1),
        Some(AgentState::WrapUp),
        "the agent's manual policy overrides the queue"
    );
    h.ok(Input::WrapUpDone {
        agent: AgentId(1),
        call: CallId(1),
    });
    assert_eq!(h.state(1), Some(AgentState::Ready));
}

#[test]
fn a_break_requested_during_a_call_survives_the_call() {
    let mut h = Harness::new(simple(1, Strategy::LongestIdle));
    h.ready(1);
    h.arrive(1, 1);
    let o = h.one_offer();
    h.accept(o);
    h.ok(Input::AgentNotReady {
        agent: AgentId(1),
        reason: "lunch".into(),
    });
    assert_eq!(h.state(1), Some(AgentState::OnCall));
    assert_eq!(
        h.try_input(Input::AgentLogout { agent: AgentId(1) }),
        Err(RouteError::AgentBusy(AgentId(1)))
    );
    h.arrive(2, 1);
    h.at(30 * S).ok(Input::CallEnded { call: CallId(1) });
    assert_eq!(h.state(1), Some(AgentState::NotReady("lunch".into())));
    h.no_offer();
}

#[test]
fn concurrency_is_limited_per_channel_and_channels_do_not_mix() {
    let mut cfg = simple(2, Strategy::Linear);
    cfg.agents[0].max_chats = 2;
    let mut h = Harness::new(cfg);
    h.ready(1);
    let chat = |call| Input::CallArrived {
        call: CallId(call),
        queue: QueueId(1),
        caller: None,
        priority: 0,
        channel: Channel::Chat,
    };
    h.ok(chat(1));
    h.ok(chat(2));
    h.ok(chat(3));
    let offers = h.new_offers();
    assert_eq!(
        offers.iter().map(|o| o.call.0).collect::<Vec<_>>(),
        vec![1, 2],
        "two chats at once"
    );
    h.arrive(4, 1);
    h.no_offer();
    // Agent 2 takes the voice call but only one.
    h.ready(2);
    assert_eq!(
        h.one_offer().call,
        CallId(3),
        "chat 3 waited longest; agent 2 may chat once"
    );
    h.arrive(5, 1);
    h.no_offer();
    assert_eq!(h.waiting(1), vec![4, 5]);
}

#[test]
fn widening_opens_outer_rings_with_age_and_inner_rings_are_preferred() {
    let mut cfg = simple(1, Strategy::LongestIdle);
    cfg.agents.extend([agent(2), agent(3), agent(4)]);
    cfg.groups.push(group(2, &[2]));
    cfg.groups.push(GroupConfig {
        members: vec![Membership {
            proficiency: 2,
            ..member(3)
        }],
        ..group(3, &[])
    });
    cfg.groups.push(group(4, &[4]));
    cfg.queues[0].targets = vec![
        TargetStep {
            group: GroupId(1),
            after_ms: 0,
            min_proficiency: 1,
        },
        TargetStep {
            group: GroupId(2),
            after_ms: 30 * S,
            min_proficiency: 1,
        },
        TargetStep {
            group: GroupId(3),
            after_ms: 30 * S,
            min_proficiency: 3,
        },
        TargetStep {
            group: GroupId(4),
            after_ms: 60 * S,
            min_proficiency: 1,
        },
    ];
    let mut h = Harness::new(cfg);
    h.ready(1);
    h.arrive(1, 1);
    let busy = h.one_offer();
    h.accept(busy);
    h.ready(2);
    h.ready(3);
    h.ready(4);
    h.at(5 * S).arrive(2, 1);
    h.no_offer();
    h.at(34 * S);
    h.no_offer();
    h.at(35 * S);
    let o = h.one_offer();
    assert_eq!(
        o,
        Offered {
            offer: OfferId(2),
            call: CallId(2),
            agent: AgentId(2)
        }
    );
    h.accept(o);
    assert!(h.events.iter().any(|e| e.kind
        == EventKind::Widened {
            call: CallId(2),
            queue: QueueId(1),
            rings_open: 3
        }));
    // Call 3: rings 1–3 open at 30 s; agent 3 lacks proficiency, so only at 60 s agent 4.
    h.at(40 * S).arrive(3, 1);
    h.at(99 * S).no_offer();
    h.at(100 * S);
    assert_eq!(h.one_offer().agent, AgentId(4));
    assert_eq!(
        h.state(3),
        Some(AgentState::Ready),
        "proficiency 2 never admitted"
    );
}

#[test]
fn overflow_when_full_when_nobody_is_ready_and_after_a_wait_keeps_age() {
    let mut cfg = simple(2, Strategy::LongestIdle);
    cfg.groups = vec![group(1, &[1]), group(2, &[2])];
    cfg.queues[0].max_waiting = Some(1);
    cfg.queues[0].overflow = vec![
        OverflowRule {
            when: OverflowWhen::Full,
            target: QueueId(2),
        },
        OverflowRule {
            when: OverflowWhen::WaitExceedsMs(20 * S),
            target: QueueId(2),
        },
    ];
    cfg.queues.push(queue(2, &[2]));
    let mut h = Harness::new(cfg);
    h.arrive(1, 1);
    h.at(S).arrive(2, 1);
    assert!(h.events.iter().any(|e| e.kind
        == EventKind::Overflowed {
            call: CallId(2),
            from: QueueId(1),
            to: QueueId(2),
            reason: OverflowReason::QueueFull
        }));
    assert!(h.actions.iter().any(|a| a.kind
        == ActionKind::Overflow {
            call: CallId(2),
            from: QueueId(1),
            to: QueueId(2)
        }));
    h.at(5 * S).arrive(3, 2);
    assert_eq!(h.waiting(2), vec![2, 3]);
    // Call 1 overflows after 20 s and lands by age: ahead of calls 2 and 3.
    h.at(20 * S);
    assert_eq!(h.waiting(1), Vec::<u64>::new());
    assert_eq!(h.waiting(2), vec![1, 2, 3]);
    h.ready(2);
    let o = h.one_offer();
    assert_eq!(o.call, CallId(1));
    h.accept(o);
    assert_eq!(answered_wait(&h, 1), Some(20 * S));
}

#[test]
fn overflow_when_no_agent_is_ready_and_reject_when_nowhere_has_room() {
    let mut cfg = simple(2, Strategy::LongestIdle);
    cfg.groups = vec![group(1, &[1]), group(2, &[2])];
    cfg.queues[0].max_waiting = Some(1);
    cfg.queues[0].overflow = vec![OverflowRule {
        when: OverflowWhen::NoReadyAgents,
        target: QueueId(2),
    }];
    let mut q2 = queue(2, &[2]);
    q2.max_waiting = Some(1);
    cfg.queues.push(q2);
    let mut h = Harness::new(cfg);
    h.ready(2);
    h.arrive(1, 1);
    assert_eq!(
        h.one_offer().agent,
        AgentId(2),
        "moved to queue 2 where agent 2 is ready"
    );
    h.arrive(2, 1);
    assert_eq!(h.waiting(2), vec![2]);
    // Queue 2 is full: call 3 stays in queue 1 rather than bouncing.
    h.arrive(3, 1);
    assert_eq!(h.waiting(1), vec![3]);
    // Queue 1 is full too and has no overflow for that: call 4 is refused.
    h.arrive(4, 1);
    assert!(h.actions.iter().any(|a| a.kind
        == ActionKind::Reject {
            call: CallId(4),
            reason: RejectReason::QueueFull
        }));
    assert_eq!(h.router.call_count(), 3);
}

#[test]
fn an_agent_serving_several_queues_takes_the_best_claim_not_config_order() {
    let mut cfg = simple(1, Strategy::LongestIdle);
    cfg.groups = vec![
        group(1, &[1]),
        GroupConfig {
            members: vec![Membership {
                proficiency: 5,
                ..member(1)
            }],
            ..group(2, &[])
        },
    ];
    let mut high = queue(2, &[1]);
    high.priority = 5;
    let expert = queue(3, &[2]);
    cfg.queues.push(high);
    cfg.queues.push(expert);
    let mut h = Harness::new(cfg);
    h.arrive(1, 1); // t=0, queue 1 priority 0, proficiency 3
    h.at(30 * S).arrive(2, 2); // queue 2 priority 5, proficiency 3
    h.at(40 * S).arrive(3, 3); // queue 3 priority 0, proficiency 5
    h.at(45 * S).ready(1);
    // Scores at 45 s: q1 = 45 + 15 = 60; q2 = 50 + 15 + 15 = 80; q3 = 5 + 25 = 30.
    let o = h.one_offer();
    assert_eq!(o.call, CallId(2));
    h.serve(o, S);
    // At 46 s: q1 = 46 + 15 = 61; q3 = 6 + 25 = 31.
    let o = h.one_offer();
    assert_eq!(o.call, CallId(1));
    h.serve(o, S);
    assert_eq!(h.one_offer().call, CallId(3));
}

#[test]
fn caller_priority_orders_the_queue_and_aging_prevents_starvation() {
    let mut cfg = simple(1, Strategy::LongestIdle);
    cfg.queues[0].aging_ms_per_level = Some(10 * S);
    let mut h = Harness::new(cfg);
    h.arrive_from(1, 1, None, 0);
    h.at(5 * S).arrive_from(2, 1, None, 0);
    h.at(30 * S).arrive_from(3, 1, None, 2); // call 1 has aged to 3, call 2 to 2.5
    h.at(31 * S).arrive_from(4, 1, None, 3);
    assert_eq!(h.waiting(1), vec![1, 4, 2, 3]);
}

#[test]
fn callback_keeps_the_callers_place() {
    let mut cfg = simple(1, Strategy::LongestIdle);
    cfg.queues[0].announce_every_ms = Some(30 * S);
    cfg.queues[0].callback_when_ewt_over_ms = Some(100 * S);
    cfg.queues[0].initial_aht_ms = 120 * S;
    let mut h = Harness::new(cfg);
    h.ready(1);
    h.arrive(1, 1);
    let busy = h.one_offer();
    h.accept(busy);
    h.at(S).arrive(2, 1);
    // Position 1, EWT = 1 · 120 s / 1 agent = 120 s > 100 s: a callback is proposed.
    let announced: Vec<ActionKind> = h
        .actions
        .iter()
        .filter(|a| {
            matches!(
                a.kind,
                ActionKind::Announce { .. } | ActionKind::OfferCallback { .. }
            )
        })
        .map(|a| a.kind.clone())
        .collect();
    assert_eq!(
        announced,
        vec![
            ActionKind::Announce {
                call: CallId(2),
                position: 1,
                ewt_ms: Some(120 * S)
            },
            ActionKind::OfferCallback {
                call: CallId(2),
                ewt_ms: 120 * S
            },
        ]
    );
    h.at(2 * S).ok(Input::CallbackRequested { call: CallId(2) });
    h.at(3 * S).arrive(3, 1);
    assert_eq!(h.waiting(1), vec![2, 3]);
    h.at(100 * S);
    let callback_announcements = h
        .actions
        .iter()
        .filter(|a| {
            a.at.0 > T0 + 2 * S
                && matches!(
                    a.kind,
                    ActionKind::Announce {
                        call: CallId(2),
                        ..
                    }
                )
        })
        .count();
    assert_eq!(
        callback_announcements, 0,
        "a caller who hung up hears nothing"
    );
    h.ok(Input::CallEnded { call: CallId(1) });
    let o = h.actions.iter().rev().find_map(|a| match a.kind {
        ActionKind::Offer { call, callback, .. } => Some((call, callback)),
        _ => None,
    });
    assert_eq!(o, Some((CallId(2), true)));
}

#[test]
fn position_and_ewt_follow_queue_state() {
    let mut cfg = simple(2, Strategy::LongestIdle);
    cfg.queues[0].initial_aht_ms = 100 * S;
    let mut h = Harness::new(cfg);
    h.ready(1);
    h.ready(2);
    for call in 1..=6 {
        h.arrive(call, 1);
    }
    for o in h.new_offers() {
        h.accept(o);
    }
    // 4 waiting, 2 staffed agents, AHT 100 s: EWT = p · 50 s.
    for (p, call) in (3..=6).enumerate() {
        let p = p as u32 + 1;
        assert_eq!(
            h.router.position_and_ewt(CallId(call)),
            Some((p, Some(u64::from(p) * 50 * S)))
        );
    }
    h.ok(Input::AgentNotReady {
        agent: AgentId(2),
        reason: "break".into(),
    });
    assert_eq!(
        h.router.position_and_ewt(CallId(3)),
        Some((1, Some(100 * S))),
        "only one agent left staffed"
    );
    h.ok(Input::CallAbandoned { call: CallId(3) });
    assert_eq!(
        h.router.position_and_ewt(CallId(4)),
        Some((1, Some(100 * S)))
    );
}

#[test]
fn blacklist_rejects_or_routes_by_exact_number_or_prefix() {
    let mut cfg = simple(1, Strategy::LongestIdle);
    cfg.queues.push(queue(2, &[1]));
    cfg.blacklist = vec![
        BlacklistRule {
            pattern: NumberPattern::Prefix("+1900".into()),
            action: BlacklistAction::Reject,
        },
        BlacklistRule {
            pattern: NumberPattern::Exact("+19005550100".into()),
            action: BlacklistAction::RouteTo(QueueId(2)),
        },
    ];
    let mut h = Harness::new(cfg);
    h.arrive_from(1, 1, Some("+19001234567"), 0);
    assert!(h.actions.iter().any(|a| a.kind
        == ActionKind::Reject {
            call: CallId(1),
            reason: RejectReason::Blacklisted
        }));
    assert_eq!(h.count_events(|e| matches!(e, EventKind::Queued { .. })), 0);
    h.arrive_from(2, 1, Some("+19005550100"), 0);
    assert_eq!(h.waiting(2), vec![2], "the exact rule beats the prefix");
    h.arrive_from(3, 1, Some("+8610"), 0);
    assert_eq!(h.waiting(1), vec![3]);
}

#[test]
fn shift_windows_decide_membership_over_time() {
    let mut cfg = simple(1, Strategy::LongestIdle);
    cfg.groups[0].members[0].windows = vec![TimeWindow {
        days: 0b1,
        start_minute: 9 * 60,
        end_minute: 17 * 60,
    }];
    let hour = 3_600 * S;
    let mut h = Harness::new(cfg);
    h.at(8 * hour).ready(1);
    h.arrive(1, 1);
    h.no_offer();
    assert_eq!(
        h.router.position_and_ewt(CallId(1)),
        Some((1, None)),
        "nobody staffed before the shift"
    );
    assert_eq!(h.router.next_deadline(), Some(Timestamp(T0 + 9 * hour)));
    h.at(9 * hour);
    let o = h.one_offer();
    h.serve(o, 60 * S);
    h.at(17 * hour).arrive(2, 1);
    h.no_offer();
}

#[test]
fn config_change_keeps_positions_and_agent_statistics() {
    let mut cfg = simple(2, Strategy::FewestAnswered);
    let mut h = Harness::new(cfg.clone());
    h.ready(1);
    h.ready(2);
    for call in 1..=3 {
        h.arrive(call, 1);
        let o = h.one_offer();
        h.serve(o, S);
    }
    // Agent 1 answered 2, agent 2 answered 1. Both busy; calls 10–12 wait.
    h.arrive(4, 1);
    h.arrive(5, 1);
    for o in h.new_offers() {
        h.accept(o);
    }
    for call in 10..=12 {
        h.at(h.now + S).arrive(call, 1);
    }
    // New config: a second queue and a third agent; agent 2 gets proficiency 5.
    cfg.agents.push(agent(3));
    cfg.groups[0].members[1].proficiency = 5;
    cfg.queues.push(queue(2, &[1]));
    let stats_before = [
        h.router.agent_stats(AgentId(1)),
        h.router.agent_stats(AgentId(2)),
    ];
    assert_eq!(
        stats_before.map(|s| s.map(|s| s.answered)),
        [Some(3), Some(2)]
    );
    h.ok(Input::ConfigReplaced(Box::new(cfg.clone())));
    assert_eq!(h.waiting(1), vec![10, 11, 12], "positions kept");
    assert_eq!(
        [
            h.router.agent_stats(AgentId(1)),
            h.router.agent_stats(AgentId(2))
        ],
        stats_before,
        "statistics kept"
    );
    assert_eq!(h.state(1), Some(AgentState::OnCall));
    h.ok(Input::CallEnded { call: CallId(4) });
    h.ok(Input::CallEnded { call: CallId(5) });
    let calls: Vec<u64> = h.new_offers().iter().map(|o| o.call.0).collect();
    assert_eq!(calls, vec![10, 11], "served in their kept order");
    assert_eq!(h.waiting(1), vec![12]);
    // Removing a queue with calls or a logged-in agent is refused, naming it.
    let mut bad = cfg.clone();
    bad.queues.remove(0);
    assert_eq!(
        h.try_input(Input::ConfigReplaced(Box::new(bad))),
        Err(RouteError::Config(ConfigError::QueueInUse {
            queue: QueueId(1),
            calls: 3
        }))
    );
    let mut bad = cfg.clone();
    bad.agents.remove(0);
    bad.groups[0].members.remove(0);
    assert_eq!(
        h.try_input(Input::ConfigReplaced(Box::new(bad))),
        Err(RouteError::Config(ConfigError::AgentInUse(AgentId(1))))
    );
}

#[test]
fn config_change_statistics_drive_fewest_answered_afterwards() {
    let cfg = simple(2, Strategy::FewestAnswered);
    let mut h = Harness::new(cfg.clone());
    h.ready(1);
    for call in 1..=3 {
        h.arrive(call, 1);
        let o = h.one_offer();
        h.serve(o, S);
    }
    h.ready(2);
    h.ok(Input::ConfigReplaced(Box::new(cfg)));
    h.arrive(4, 1);
    assert_eq!(
        h.one_offer().agent,
        AgentId(2),
        "agent 1's 3 answered calls were kept"
    );
}

#[test]
fn inputs_that_do_not_apply_are_refused_without_change() {
    let mut h = Harness::new(simple(1, Strategy::LongestIdle));
    assert_eq!(
        h.try_input(Input::AgentReady { agent: AgentId(1) }),
        Err(RouteError::NotLoggedIn(AgentId(1)))
    );
    assert_eq!(
        h.try_input(Input::AgentLogin { agent: AgentId(9) }),
        Err(RouteError::UnknownAgent(AgentId(9)))
    );
    h.arrive(1, 1);
    let dup = Input::CallArrived {
        call: CallId(1),
        queue: QueueId(1),
        caller: None,
        priority: 0,
        channel: Channel::Voice,
    };
    assert_eq!(h.try_input(dup), Err(RouteError::DuplicateCall(CallId(1))));
    let bad = Input::CallArrived {
        call: CallId(2),
        queue: QueueId(7),
        caller: None,
        priority: 0,
        channel: Channel::Voice,
    };
    assert_eq!(h.try_input(bad), Err(RouteError::UnknownQueue(QueueId(7))));
    let bad = Input::CallArrived {
        call: CallId(2),
        queue: QueueId(1),
        caller: None,
        priority: 10,
        channel: Channel::Voice,
    };
    assert_eq!(h.try_input(bad), Err(RouteError::BadPriority(10)));
    assert!(matches!(
        h.try_input(Input::CallEnded { call: CallId(1) }),
        Err(RouteError::WrongCallState { .. })
    ));
    assert_eq!(
        h.try_input(Input::OfferAccepted { offer: OfferId(99) }),
        Err(RouteError::OfferNotActive(OfferId(99)))
    );
    assert_eq!(
        h.try_input(Input::CallHeld { call: CallId(5) }),
        Err(RouteError::UnknownCall(CallId(5)))
    );
    assert_eq!(h.waiting(1), vec![1]);
    let long = Input::CallArrived {
        call: CallId(3),
        queue: QueueId(1),
        caller: Some("9".repeat(MAX_CALLER_LEN + 1)),
        priority: 0,
        channel: Channel::Voice,
    };
    assert!(matches!(
        h.try_input(long),
        Err(RouteError::TooLong {
            field: "caller",
            ..
        })
    ));
    h.ready(1);
    let o = h.one_offer();
    let long = Input::AgentNotReady {
        agent: AgentId(1),
        reason: "x".repeat(MAX_REASON_LEN + 1),
    };
    assert!(matches!(
        h.try_input(long),
        Err(RouteError::TooLong {
            field: "reason",
            ..
        })
    ));
    assert_eq!(
        h.state(1),
        Some(AgentState::Reserved),
        "offer {o:?} still ringing"
    );
}

#[test]
fn hold_time_is_tracked_apart_from_talk_time() {
    let mut h = Harness::new(simple(1, Strategy::LongestIdle));
    h.ready(1);
    h.arrive(1, 1);
    let o = h.one_offer();
    h.accept(o);
    h.at(10 * S).ok(Input::CallHeld { call: CallId(1) });
    h.at(25 * S).ok(Input::CallResumed { call: CallId(1) });
    h.at(40 * S).ok(Input::CallEnded { call: CallId(1) });
    assert!(h.events.iter().any(|e| e.kind
        == EventKind::Completed {
            call: CallId(1),
            agent: AgentId(1),
            queue: QueueId(1),
            talk_ms: 25 * S,
            hold_ms: 15 * S,
            wrap_ms: 0
        }));
}

#[test]
fn a_wait_overflow_into_a_full_queue_keeps_the_call_where_it_is() {
    let mut cfg = simple(2, Strategy::LongestIdle);
    cfg.groups = vec![group(1, &[1]), group(2, &[2])];
    cfg.queues[0].overflow = vec![OverflowRule {
        when: OverflowWhen::WaitExceedsMs(20 * S),
        target: QueueId(2),
    }];
    let mut q2 = queue(2, &[2]);
    q2.max_waiting = Some(1);
    cfg.queues.push(q2);
    let mut h = Harness::new(cfg);
    h.arrive(1, 1);
    h.arrive(2, 1);
    h.arrive(3, 2);
    h.at(60 * S);
    assert_eq!(
        h.waiting(1),
        vec![1, 2],
        "no room in queue 2: both stay, in order"
    );
    assert_eq!(h.waiting(2), vec![3]);
    assert_eq!(
        h.count_events(|e| matches!(e, EventKind::Overflowed { .. })),
        0
    );
    assert_eq!(
        h.count_events(|e| matches!(e, EventKind::Rejected { .. })),
        0
    );
}

#[test]
fn auto_not_ready_returns_every_ringing_chat_to_the_queue_and_rematches_it() {
    let mut cfg = simple(2, Strategy::Linear);
    cfg.agents[0].max_chats = 2;
    cfg.agents[0].max_missed_offers = 1;
    cfg.agents[1].max_chats = 2;
    let mut h = Harness::new(cfg);
    h.ready(1);
    for call in 1..=2 {
        h.ok(Input::CallArrived {
            call: CallId(call),
            queue: QueueId(1),
            caller: None,
            priority: 0,
            channel: Channel::Chat,
        });
    }
    let offers = h.new_offers();
    assert!(offers.len() == 2 && offers.iter().all(|o| o.agent == AgentId(1)));
    h.at(S).ready(2);
    h.no_offer();
    // Both offers expire together; the first expiry sets agent 1 not ready and
    // withdraws the other, and both chats go to agent 2.
    h.at(10 * S);
    assert_eq!(
        h.state(1),
        Some(AgentState::NotReady(REASON_MISSED_OFFERS.into()))
    );
    let mut calls: Vec<u64> = h
        .new_offers()
        .iter()
        .filter(|o| o.agent == AgentId(2))
        .map(|o| o.call.0)
        .collect();
    calls.sort();
    assert_eq!(calls, vec![1, 2]);
}

#[test]
fn the_clock_never_runs_backwards_and_timers_fire_at_their_deadline() {
    let mut h = Harness::new(simple(1, Strategy::LongestIdle));
    h.ready(1);
    h.at(50 * S).arrive(1, 1);
    let o = h.one_offer();
    assert_eq!(h.router.next_deadline(), Some(Timestamp(T0 + 60 * S)));
    // An input stamped in the past is applied at the engine's current time.
    h.now = 10 * S;
    h.ok(Input::AgentNotReady {
        agent: AgentId(1),
        reason: "break".into(),
    });
    assert_eq!(h.router.now(), Timestamp(T0 + 50 * S));
    assert!(h.events.iter().all(|e| e.at >= Timestamp(T0)));
    assert_eq!(h.events.last().map(|e| e.at), Some(Timestamp(T0 + 50 * S)));
    // A late tick fires the timer at its own deadline, not at the tick's time.
    h.ok(Input::AgentReady { agent: AgentId(1) });
    let o2 = h.one_offer();
    assert_ne!(o.offer, o2.offer);
    h.at(500 * S);
    let timed_out = h.events.iter().find_map(|e| match e.kind {
        EventKind::OfferEnded {
            offer,
            how: OfferEnd::TimedOut,
            ..
        } if offer == o2.offer => Some(e.at),
        _ => None,
    });
    assert_eq!(timed_out, Some(Timestamp(T0 + 60 * S)));
}

#[test]
fn an_expert_pool_spanning_sites_serves_every_region_after_widening() {
    // Regional queues 1 (Beijing team: agent 1) and 2 (Shanghai team: agent 2);
    // experts 3 (at headquarters) and 4 (at home) in one pool serving both after 30 s.
    let mut cfg = simple(4, Strategy::LongestIdle);
    cfg.agents[0].site = Site::Branch("beijing".into());
    cfg.agents[1].site = Site::Branch("shanghai".into());
    cfg.agents[2].site = Site::Branch("hq".into());
    cfg.groups = vec![
        group(1, &[1]),
        group(2, &[2]),
        GroupConfig {
            kind: GroupKind::ExpertPool,
            ..group(3, &[3, 4])
        },
    ];
    let expert_ring = TargetStep {
        group: GroupId(3),
        after_ms: 30 * S,
        min_proficiency: 1,
    };
    cfg.queues = vec![queue(1, &[1]), queue(2, &[2])];
    for q in &mut cfg.queues {
        q.targets.push(expert_ring);
    }
    let mut h = Harness::new(cfg);
    h.ready(3);
    h.at(S).ready(4);
    h.arrive(1, 1);
    h.arrive(2, 2);
    h.no_offer();
    h.at(30 * S).no_offer();
    h.at(31 * S);
    let mut got: Vec<(u64, u32)> = h
        .new_offers()
        .iter()
        .map(|o| (o.call.0, o.agent.0))
        .collect();
    got.sort();
    assert_eq!(got, vec![(1, 3), (2, 4)], "both regions reach the pool");
}

#[test]
fn the_longest_wait_is_the_oldest_waiting_call_wherever_priority_puts_it() {
    let mut h = Harness::new(simple(1, Strategy::LongestIdle));
    assert_eq!(h.router.oldest_waiting(QueueId(1)), None);
    h.arrive_from(1, 1, None, 0);
    h.at(5 * S).arrive_from(2, 1, None, 5);
    assert_eq!(h.waiting(1), vec![2, 1], "the urgent call is served first");
    assert_eq!(h.router.oldest_waiting(QueueId(1)), Some(Timestamp(T0)));
    // Call 1 rings (offered calls are not waiting), then comes back keeping its age.
    h.at(6 * S).ready(1);
    let first = h.one_offer();
    assert_eq!(first.call, CallId(2));
    h.serve(first, S);
    let second = h.one_offer();
    assert_eq!(second.call, CallId(1));
    assert_eq!(h.router.oldest_waiting(QueueId(1)), None);
    h.ok(Input::OfferRejected {
        offer: second.offer,
    });
    assert_eq!(h.router.oldest_waiting(QueueId(1)), Some(Timestamp(T0)));
}

#[test]
fn state_since_restarts_at_every_visible_state_change_only() {
    let mut h = Harness::new(wrap_cfg(WrapUpMode::Mandatory));
    let since = |h: &Harness| {
        h.router
            .agent_stats(AgentId(1))
            .map(|s| s.state_since.0 - T0)
    };
    assert_eq!(since(&h), Some(0), "logged out since the engine started");
    h.at(2 * S).ready(1);
    assert_eq!(since(&h), Some(2 * S));
    h.at(3 * S).ready(1);
    assert_eq!(since(&h), Some(2 * S), "a repeated ready changes nothing");
    h.at(4 * S).arrive(1, 1);
    let o = h.one_offer();
    assert_eq!(
        (h.state(1), since(&h)),
        (Some(AgentState::Reserved), Some(4 * S))
    );
    h.at(5 * S).accept(o);
    assert_eq!(
        (h.state(1), since(&h)),
        (Some(AgentState::OnCall), Some(5 * S))
    );
    h.at(9 * S).ok(Input::CallEnded { call: CallId(1) });
    assert_eq!(
        (h.state(1), since(&h)),
        (Some(AgentState::WrapUp), Some(9 * S))
    );
    h.at(39 * S);
    assert_eq!(
        (h.state(1), since(&h)),
        (Some(AgentState::Ready), Some(39 * S))
    );
}

fn restored(call: u64, age_ms: u64, agent: Option<u32>) -> Input {
    Input::CallRestored {
        call: CallId(call),
        queue: QueueId(1),
        caller: None,
        priority: 0,
        channel: Channel::Voice,
        age_ms,
        agent: agent.map(AgentId),
    }
}

#[test]
fn a_restored_connected_call_keeps_its_agent_busy_until_it_ends() {
    let mut h = Harness::new(simple(2, Strategy::LongestIdle));
    h.ready(1);
    h.ready(2);
    h.at(60 * S).ok(restored(1, 30 * S, Some(1)));
    assert_eq!(h.state(1), Some(AgentState::OnCall));
    // The next call goes to the other agent, then waits: agent 1 is busy.
    h.arrive(2, 1);
    assert_eq!(h.one_offer().agent, AgentId(2));
    h.arrive(3, 1);
    h.no_offer();
    // The restored call ends like any other; no answer was counted twice.
    h.ok(Input::CallEnded { call: CallId(1) });
    assert!(answered_wait(&h, 1).is_none());
    let next = h.one_offer();
    assert_eq!((next.call, next.agent), (CallId(3), AgentId(1)));
    // An agent cannot be restored onto a second call, nor a logged-out one.
    h.accept(next);
    assert!(matches!(
        h.try_input(restored(4, 0, Some(1))),
        Err(RouteError::AgentBusy(_))
    ));
    assert!(matches!(
        h.try_input(restored(5, 0, Some(9))),
        Err(RouteError::UnknownAgent(_))
    ));
}

#[test]
fn a_restored_waiting_call_takes_the_place_its_age_gives_it() {
    let mut h = Harness::new(simple(1, Strategy::LongestIdle));
    h.at(100 * S).arrive(1, 1);
    h.ok(restored(2, 90 * S, None));
    assert_eq!(h.waiting(1), vec![2, 1], "the older call is ahead");
    h.ready(1);
    let offer = h.one_offer();
    assert_eq!(offer.call, CallId(2));
    h.accept(offer);
    assert_eq!(answered_wait(&h, 2), Some(90 * S));
}
