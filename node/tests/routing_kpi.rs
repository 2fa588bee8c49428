//! KPIs computed from the engine's events, checked against a scenario computed by hand.

mod routing_support;

use routing_support::*;
use tandem_node::routing::*;

const S: u64 = 1_000;

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-9)
}

/// Two agents, one queue (SL 80/20, optional wrap-up of 30 s).
///
/// | call | arrives | what happens                                         | wait | handle            |
/// |------|---------|------------------------------------------------------|------|-------------------|
/// | 1    | 0       | agent 1 answers at 5, talks to 65, wrap-up done 75    | 5    | 60 + 10 = 70      |
/// | 2    | 10      | agent 2 rejects at 12, re-offered 17, answers 20;     | 10   | 20 + 10 + 5 = 35  |
/// |      |         | hold 30–40, ends 50, wrap-up done 55                  |      |                   |
/// | 3    | 30      | abandons at 40                                        | —    | —                 |
/// | 4    | 56      | agent 1 (free at 75) answers at 80, ends 100, done 100| 24   | 20                |
/// | 5    | 85      | callback at 90; agent 1 answers 101, ends 131         | cb   | 30                |
///
/// Agent 2 goes not ready at 55. The window closes at 140.
#[test]
fn kpis_match_a_hand_computed_scenario() {
    let mut cfg = simple(2, Strategy::Linear);
    cfg.queues[0].wrap_up = WrapUpPolicy {
        mode: WrapUpMode::Optional,
        duration_ms: 30 * S,
    };
    let mut h = Harness::new(cfg.clone());
    h.ready(1);
    h.ready(2);
    h.arrive(1, 1);
    let c1 = h.one_offer();
    h.at(5 * S).accept(c1);
    h.at(10 * S).arrive(2, 1);
    let c2 = h.one_offer();
    assert_eq!(c2.agent, AgentId(2));
    h.at(12 * S).ok(Input::OfferRejected { offer: c2.offer });
    h.at(17 * S);
    let c2 = h.one_offer();
    h.at(20 * S).accept(c2);
    h.at(30 * S).arrive(3, 1);
    h.ok(Input::CallHeld { call: CallId(2) });
    h.at(40 * S).ok(Input::CallResumed { call: CallId(2) });
    h.ok(Input::CallAbandoned { call: CallId(3) });
    h.at(50 * S).ok(Input::CallEnded { call: CallId(2) });
    h.at(55 * S).ok(Input::WrapUpDone {
        agent: AgentId(2),
        call: CallId(2),
    });
    h.ok(Input::AgentNotReady {
        agent: AgentId(2),
        reason: "meeting".into(),
    });
    h.at(56 * S).arrive(4, 1);
    h.at(65 * S).ok(Input::CallEnded { call: CallId(1) });
    h.at(75 * S).ok(Input::WrapUpDone {
        agent: AgentId(1),
        call: CallId(1),
    });
    let c4 = h.one_offer();
    assert_eq!(c4.call, CallId(4));
    h.at(80 * S).accept(c4);
    h.at(85 * S).arrive(5, 1);
    h.at(90 * S)
        .ok(Input::CallbackRequested { call: CallId(5) });
    h.at(100 * S).ok(Input::CallEnded { call: CallId(4) });
    h.ok(Input::WrapUpDone {
        agent: AgentId(1),
        call: CallId(4),
    });
    let c5 = h.one_offer();
    assert_eq!(c5.call, CallId(5));
    h.at(101 * S).accept(c5);
    h.at(131 * S).ok(Input::CallEnded { call: CallId(5) });
    h.ok(Input::WrapUpDone {
        agent: AgentId(1),
        call: CallId(5),
    });

    let report = KpiReport::from_events(&h.events, &cfg, Timestamp(T0 + 140 * S));
    let q = &report.queues[&QueueId(1)];
    assert_eq!(
        (q.answered, q.abandoned, q.callbacks, q.completed),
        (3, 1, 1, 4)
    );
    assert!(
        close(q.service_level(), 2.0 / 4.0),
        "SL: calls 1 and 2 within 20 s of 4 queued"
    );
    assert!(close(q.asa_ms(), (5.0 + 10.0 + 24.0) * 1000.0 / 3.0));
    assert!(
        close(q.abandonment_rate(), 1.0 / 4.0),
        "the callback is not an abandon"
    );
    assert!(close(
        q.aht_ms(),
        (70.0 + 35.0 + 20.0 + 30.0) * 1000.0 / 4.0
    ));
    assert!(
        close(q.answer_rate(), 3.0 / 4.0),
        "three of four offered contacts answered (agent 2's reject is not a lost contact)"
    );
    // Agent 1: handle 60+10+20+30 = 120 s; available: ringing 5+5+1 and ready 9 = 20 s.
    assert!(close(report.agents[&AgentId(1)].occupancy(), 120.0 / 140.0));
    // Agent 2: handle 30+5 = 35 s; available 10+2+5+3 = 20 s; not ready after 55 s.
    assert!(close(report.agents[&AgentId(2)].occupancy(), 35.0 / 55.0));
    assert!(close(report.occupancy(), 155.0 / 195.0));
    assert_eq!(report.total(), *q);
}

#[test]
fn kpis_of_an_empty_window_are_undefined_not_zero() {
    let cfg = simple(1, Strategy::Linear);
    let report = KpiReport::from_events(&[], &cfg, Timestamp(T0));
    let t = report.total();
    assert_eq!(
        (
            t.service_level(),
            t.asa_ms(),
            t.aht_ms(),
            t.abandonment_rate(),
            t.answer_rate()
        ),
        (None, None, None, None, None)
    );
    assert_eq!(report.occupancy(), None);
}
