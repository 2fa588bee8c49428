//! The core driven with a fake clock and the demo center configuration.

use std::collections::BTreeMap;

use tandem_node::calls::{
    AgentCommand, AnchoredCall, AnchoredParty, AnchoredState, CallDown, CallUp, CdrEventKind,
    EndCause, Endpoint, PartyId, PartyRole, ReleaseReason, TransferTarget, ValidCenterConfig,
};
use tandem_node::names::Site;
use tandem_node::routing::{AgentId, AgentState, CallId, EventKind, OfferEnd, QueueId, Timestamp};

use super::{CallControl, CallError, LegSide, Output};

const DEMO: &str = include_str!("../../../center-configs/demo.toml");
const T0: Timestamp = Timestamp(1_800_000_000_000);

fn site(s: &str) -> Site {
    Site::new(s).unwrap()
}

struct World {
    cc: CallControl,
    now: Timestamp,
}

impl World {
    fn new() -> Self {
        Self::with(DEMO)
    }

    fn with(toml: &str) -> Self {
        let config = ValidCenterConfig::from_toml(toml).unwrap();
        let mut cc = CallControl::new(config, 1, T0).unwrap();
        for s in ["bj-01", "sh-01", "gz-01", "home-li", "home-wang"] {
            cc.node_online(T0, &site(s));
        }
        World { cc, now: T0 }
    }

    fn drain(&mut self) -> Vec<Output> {
        self.cc.drain()
    }

    /// Commands sent, with their destination.
    fn sent(&mut self) -> Vec<(String, CallDown)> {
        self.drain()
            .into_iter()
            .filter_map(|o| match o {
                Output::Send { site, command } => Some((site.as_str().to_owned(), command)),
                _ => None,
            })
            .collect()
    }

    fn pass(&mut self, ms: u64) {
        self.now = self.now.plus(ms);
        self.cc.tick(self.now);
    }

    fn cmd(&mut self, agent: u32, command: AgentCommand) -> Result<super::AgentView, CallError> {
        self.cc.agent_command(self.now, AgentId(agent), command)
    }

    fn ok(&mut self, agent: u32, command: AgentCommand) {
        if let Err(e) = self.cmd(agent, command.clone()) {
            panic!("agent {agent} {command:?}: {e}");
        }
    }

    fn transfer(&mut self, agent: u32, to: TransferTarget, consult: bool) {
        self.ok(agent, AgentCommand::Transfer { to, consult });
    }

    fn ready(&mut self, agent: u32) {
        self.ok(agent, AgentCommand::Login);
        self.ok(agent, AgentCommand::Ready);
    }

    fn arrive(&mut self, at: &str, call: u64, caller: &str, queue: u32) -> Result<(), CallError> {
        self.cc.call_up(
            self.now,
            &site(at),
            CallUp::Arrived {
                call: CallId(call),
                line: "fxo1".into(),
                caller: Some(caller.into()),
                queue: QueueId(queue),
                priority: 0,
                vars: BTreeMap::new(),
                ivr_path: vec!["menu".into()],
            },
        )
    }

    /// Call 1 waits in queue 1, then its caller takes a callback.
    fn callback_requested(&mut self) {
        self.arrive("bj-01", 1, "+8613800000001", 1).unwrap();
        self.cc
            .call_up(
                self.now,
                &site("bj-01"),
                CallUp::CallbackRequested {
                    call: CallId(1),
                    caller: Some("+8613800000001".into()),
                    queue: QueueId(1),
                    vars: BTreeMap::new(),
                },
            )
            .unwrap();
    }

    fn state(&self, agent: u32) -> Option<AgentState> {
        self.cc.view(AgentId(agent)).state
    }

    /// Where the real call waits (1 = next), through its current routing id.
    fn position(&self, call: u64) -> Option<u32> {
        let routing = self.cc.calls.get(&CallId(call))?.waiting?;
        self.cc.router.position_and_ewt(routing).map(|(p, _)| p)
    }
}

fn ring(call: u64, agent: u32, endpoint: &str) -> CallDown {
    CallDown::Ring {
        call: CallId(call),
        agent: AgentId(agent),
        endpoint: endpoint.into(),
        caller: Some("+8613800000001".into()),
    }
}

fn hold(call: u64, on: bool) -> CallDown {
    CallDown::Hold {
        call: CallId(call),
        on,
    }
}

fn leave(call: u64, party: u32) -> CallDown {
    CallDown::Leave {
        call: CallId(call),
        party: PartyId(party),
    }
}

fn release(call: u64, reason: ReleaseReason) -> CallDown {
    CallDown::Release {
        call: CallId(call),
        reason,
    }
}

fn stop_ring(call: u64, agent: u32, endpoint: &str) -> CallDown {
    CallDown::StopRing {
        call: CallId(call),
        agent: AgentId(agent),
        endpoint: endpoint.into(),
    }
}

fn log(call: u64, event: CdrEventKind) -> CallDown {
    CallDown::Log {
        call: CallId(call),
        event,
    }
}

/// The commands among `out`, with their destination.
fn sends(out: &[Output]) -> Vec<(String, CallDown)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Send { site, command } => Some((site.as_str().to_owned(), command.clone())),
            _ => None,
        })
        .collect()
}

/// Whether a leg to a seat at `seat_site` was opened and then joined to the
/// call as `party` with `role`.
fn joined_over_leg(out: &[Output], seat_site: &str, party: u32, role: PartyRole) -> bool {
    let Some((at, leg)) = out.iter().enumerate().find_map(|(i, o)| match o {
        Output::OpenLeg { leg, seat, .. } if seat.site.as_str() == seat_site => Some((i, *leg)),
        _ => None,
    }) else {
        return false;
    };
    out[at..].iter().any(|o| {
        matches!(o, Output::Send { command: CallDown::Join { party: p, endpoint: Endpoint::Leg(l), role: r, .. }, .. }
            if *p == PartyId(party) && *l == leg && *r == role)
    })
}

fn local_join(call: u64, party: u32, endpoint: &str, role: PartyRole, agent: u32) -> CallDown {
    CallDown::Join {
        call: CallId(call),
        party: PartyId(party),
        endpoint: Endpoint::Local(endpoint.into()),
        role,
        agent: Some(AgentId(agent)),
    }
}

fn set_role(call: u64, party: u32, role: PartyRole) -> CallDown {
    CallDown::SetRole {
        call: CallId(call),
        party: PartyId(party),
        role,
    }
}

/// Agent 1's transfer of call 1 to the expert pool (queue 3), as logged.
fn pool_transfer_logged(consult: bool) -> CallDown {
    log(
        1,
        CdrEventKind::Transferred {
            from: AgentId(1),
            to: TransferTarget::Queue(QueueId(3)),
            consult,
        },
    )
}

fn has(sent: &[(String, CallDown)], to: &str, command: &CallDown) -> bool {
    sent.iter().any(|(s, c)| s == to && c == command)
}

/// Answers agent `agent`'s offer of call 1 and returns what was sent.
fn answered_call(w: &mut World, agent: u32) -> Vec<Output> {
    w.arrive("bj-01", 1, "+8613800000001", 1).unwrap();
    w.drain();
    w.ok(agent, AgentCommand::Answer);
    w.drain()
}

#[test]
fn local_answer_joins_on_the_anchor_then_hangup_releases_and_wrap_up_is_stored() {
    let mut w = World::new();
    w.ready(1);
    w.drain();
    w.arrive("bj-01", 1, "+8613800000001", 1).unwrap();
    let sent = w.sent();
    assert!(has(&sent, "bj-01", &ring(1, 1, "seat1")), "{sent:#?}");
    assert!(has(
        &sent,
        "bj-01",
        &log(1, CdrEventKind::Offered { agent: AgentId(1) })
    ));
    assert_eq!(w.state(1), Some(AgentState::Reserved));

    w.ok(1, AgentCommand::Answer);
    let out = w.drain();
    assert!(!out.iter().any(|o| matches!(o, Output::OpenLeg { .. })));
    let sent = sends(&out);
    assert!(has(
        &sent,
        "bj-01",
        &local_join(1, 1, "seat1", PartyRole::Party, 1)
    ));
    assert!(has(&sent, "bj-01", &stop_ring(1, 1, "seat1")));
    let view = w.cc.agent_view(AgentId(1)).unwrap();
    assert_eq!(view.state, Some(AgentState::OnCall));
    assert_eq!(view.call, Some(CallId(1)));

    w.ok(1, AgentCommand::Hangup);
    let sent = w.sent();
    assert!(has(
        &sent,
        "bj-01",
        &release(1, ReleaseReason::AgentHungUp(AgentId(1)))
    ));
    assert_eq!(w.state(1), Some(AgentState::WrapUp));
    // The anchor's own report of the end finds nothing left to do.
    w.cc.call_up(
        w.now,
        &site("bj-01"),
        CallUp::Ended {
            call: CallId(1),
            cause: EndCause::Completed,
        },
    )
    .unwrap();

    w.ok(
        1,
        AgentCommand::WrapUp {
            disposition: "resolved".into(),
            note: "card unblocked".into(),
        },
    );
    let out = w.drain();
    let d = out
        .iter()
        .find_map(|o| match o {
            Output::Disposition(d) => Some(d.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        (d.call, d.agent, d.code.as_str()),
        (CallId(1), AgentId(1), "resolved")
    );
    assert_eq!(w.state(1), Some(AgentState::Ready));
    assert!(out.iter().any(|o| matches!(o, Output::QueueEvent(_))));
}

#[test]
fn a_seat_on_another_node_joins_over_a_relay_leg() {
    let mut w = World::new();
    w.ready(4); // Chen Jing, sh-01
    let out = answered_call(&mut w, 4);
    let (leg, anchor, seat) = out
        .iter()
        .find_map(|o| match o {
            Output::OpenLeg {
                leg, anchor, seat, ..
            } => Some((*leg, anchor.clone(), seat.clone())),
            _ => None,
        })
        .expect("a leg-open request");
    assert_eq!(
        anchor,
        LegSide {
            site: site("bj-01"),
            endpoint: "call-1".into()
        }
    );
    assert_eq!(
        seat,
        LegSide {
            site: site("sh-01"),
            endpoint: "seat1".into()
        }
    );
    let open_at = out
        .iter()
        .position(|o| matches!(o, Output::OpenLeg { .. }))
        .unwrap();
    let join_at = out
        .iter()
        .position(|o| {
            matches!(o, Output::Send { command: CallDown::Join { endpoint: Endpoint::Leg(l), .. }, .. } if *l == leg)
        })
        .expect("join over the leg");
    assert!(open_at < join_at, "the leg opens before the join names it");
    w.ok(4, AgentCommand::Hangup);
    assert!(w.drain().contains(&Output::CloseLeg { leg }));
}

#[test]
fn rejected_and_timed_out_offers_return_the_call_to_its_place_and_misses_set_not_ready() {
    let mut w = World::new();
    w.arrive("bj-01", 1, "+8613800000001", 1).unwrap();
    w.pass(1000);
    w.arrive("bj-01", 2, "+8613800000002", 1).unwrap();
    assert_eq!((w.position(1), w.position(2)), (Some(1), Some(2)));
    w.ready(1);
    let sent = w.sent();
    assert!(has(&sent, "bj-01", &ring(1, 1, "seat1")));

    // Rejected: call 1 goes back to the head of the queue; agent 1 is skipped
    // for it for a while and gets call 2 meanwhile.
    w.ok(1, AgentCommand::Reject);
    let sent = w.sent();
    assert!(has(&sent, "bj-01", &stop_ring(1, 1, "seat1")));
    assert!(has(
        &sent,
        "bj-01",
        &log(
            1,
            CdrEventKind::OfferEnded {
                agent: AgentId(1),
                how: OfferEnd::Rejected
            }
        )
    ));
    assert_eq!(w.position(1), Some(1));
    let stop = sent
        .iter()
        .position(|(_, c)| matches!(c, CallDown::StopRing { .. }))
        .unwrap();
    let next = sent
        .iter()
        .position(|(_, c)| matches!(c, CallDown::Ring { call, .. } if *call == CallId(2)))
        .expect("the next call rings");
    assert!(stop < next, "the old ring stops before the next one starts");

    // Three offers in a row time out: not ready, calls back in place.
    for _ in 0..3 {
        w.pass(12_000);
        let state = w.state(1);
        if state == Some(AgentState::NotReady("missed-offers".into())) {
            break;
        }
    }
    assert_eq!(
        w.state(1),
        Some(AgentState::NotReady("missed-offers".into()))
    );
    assert_eq!((w.position(1), w.position(2)), (Some(1), Some(2)));
    let sent = w.sent();
    assert!(sent.iter().any(|(_, c)| matches!(
        c,
        CallDown::Log {
            event: CdrEventKind::OfferEnded {
                how: OfferEnd::TimedOut,
                ..
            },
            ..
        }
    )));
}

#[test]
fn blind_transfer_to_the_expert_pool_requeues_and_joins_the_expert() {
    let mut w = World::new();
    w.ready(1);
    w.ready(6); // expert at gz-01
    answered_call(&mut w, 1);
    w.transfer(1, TransferTarget::Queue(QueueId(3)), false);
    let out = w.drain();
    let sent = sends(&out);
    assert!(has(&sent, "bj-01", &pool_transfer_logged(false)));
    assert!(has(&sent, "bj-01", &leave(1, 1)));
    assert!(has(&sent, "gz-01", &ring(1, 6, "seat1")));
    assert_eq!(w.state(1), Some(AgentState::WrapUp));

    w.ok(6, AgentCommand::Answer);
    let out = w.drain();
    assert!(joined_over_leg(&out, "gz-01", 2, PartyRole::Party));
    assert!(out.contains(&Output::Send {
        site: site("bj-01"),
        command: CallDown::Hold {
            call: CallId(1),
            on: false
        }
    }));
    assert_eq!(
        w.cc.summary(w.now, &BTreeMap::new()).queues[0].transferred,
        1
    );
}

#[test]
fn blind_transfer_to_a_named_agent_rings_them_directly() {
    let mut w = World::new();
    w.ready(1);
    w.ready(2);
    answered_call(&mut w, 1);
    w.transfer(1, TransferTarget::Agent(AgentId(2)), false);
    let sent = w.sent();
    assert!(has(&sent, "bj-01", &ring(1, 2, "seat2")));
    assert_eq!(w.state(2), Some(AgentState::NotReady("transfer".into())));
    w.ok(
        1,
        AgentCommand::NotReady {
            reason: "break".into(),
        },
    );
    // Not answered in time: agent 2 is ready again and the caller queues again
    // (ahead of fresh arrivals), so the Router offers it to the one ready agent.
    w.pass(12_000);
    let sent = w.sent();
    assert!(has(
        &sent,
        "bj-01",
        &log(
            1,
            CdrEventKind::OfferEnded {
                agent: AgentId(2),
                how: OfferEnd::TimedOut
            }
        )
    ));
    assert_eq!(w.state(2), Some(AgentState::Reserved), "{sent:#?}");
    w.ok(2, AgentCommand::Answer);
    let sent = w.sent();
    assert!(has(
        &sent,
        "bj-01",
        &local_join(1, 2, "seat2", PartyRole::Party, 2)
    ));
    assert!(has(&sent, "bj-01", &hold(1, false)));
}

#[test]
fn a_direct_transfer_answered_in_time_joins_and_frees_the_agent_after() {
    let mut w = World::new();
    w.ready(1);
    w.ready(2);
    answered_call(&mut w, 1);
    w.transfer(1, TransferTarget::Agent(AgentId(2)), false);
    w.ok(2, AgentCommand::Answer);
    assert!(w.sent().iter().any(|(_, c)| matches!(
        c,
        CallDown::Join {
            agent: Some(AgentId(2)),
            ..
        }
    )));
    w.ok(2, AgentCommand::Hangup);
    assert!(w.sent().iter().any(|(_, c)| matches!(
        c,
        CallDown::Release {
            reason: ReleaseReason::AgentHungUp(AgentId(2)),
            ..
        }
    )));
    assert_eq!(w.state(2), Some(AgentState::Ready));
}

fn consult_answered(w: &mut World) {
    w.ready(1);
    w.ready(6);
    answered_call(w, 1);
    w.transfer(1, TransferTarget::Queue(QueueId(3)), true);
    let sent = w.sent();
    assert!(has(&sent, "bj-01", &hold(1, true)));
    assert!(has(&sent, "gz-01", &ring(1, 6, "seat1")));
    w.ok(6, AgentCommand::Answer);
    let sent = w.sent();
    assert!(sent.iter().any(|(s, c)| s == "bj-01"
        && matches!(
            c,
            CallDown::Join {
                party: PartyId(2),
                role: PartyRole::Party,
                agent: Some(AgentId(6)),
                ..
            }
        )));
    assert!(
        !sent
            .iter()
            .any(|(_, c)| matches!(c, CallDown::Hold { on: false, .. }))
    );
    assert_eq!(w.cc.view(AgentId(1)).consulting, Some(AgentId(6)));
    assert_eq!(w.cc.view(AgentId(6)).consulting, Some(AgentId(1)));
    assert!(w.cc.view(AgentId(1)).held);
}

#[test]
fn consult_transfer_to_the_expert_pool_completes() {
    let mut w = World::new();
    consult_answered(&mut w);
    w.ok(1, AgentCommand::CompleteTransfer);
    let sent = w.sent();
    assert!(has(&sent, "bj-01", &leave(1, 1)));
    assert!(has(&sent, "bj-01", &hold(1, false)));
    assert!(has(&sent, "bj-01", &pool_transfer_logged(true)));
    assert_eq!(w.state(1), Some(AgentState::WrapUp));
    assert_eq!(w.state(6), Some(AgentState::OnCall));
    w.ok(6, AgentCommand::Hangup);
    assert!(has(
        &w.sent(),
        "bj-01",
        &release(1, ReleaseReason::AgentHungUp(AgentId(6)))
    ));
}

#[test]
fn conference_of_three_then_each_agent_leaves() {
    let mut w = World::new();
    consult_answered(&mut w);
    w.ok(1, AgentCommand::Conference);
    let sent = w.sent();
    assert!(has(&sent, "bj-01", &hold(1, false)));
    assert!(
        !sent
            .iter()
            .any(|(_, c)| matches!(c, CallDown::Leave { .. }))
    );
    assert_eq!(w.cc.calls[&CallId(1)].parties.len(), 2);
    assert_eq!(w.cc.view(AgentId(1)).consulting, None);
    w.ok(1, AgentCommand::Hangup);
    let sent = w.sent();
    assert!(has(&sent, "bj-01", &leave(1, 1)));
    assert!(
        !sent
            .iter()
            .any(|(_, c)| matches!(c, CallDown::Release { .. }))
    );
    w.ok(6, AgentCommand::Hangup);
    assert!(
        w.sent()
            .iter()
            .any(|(_, c)| matches!(c, CallDown::Release { .. }))
    );
}

#[test]
fn cancelling_a_ringing_consult_stops_the_ring_and_resumes_the_caller() {
    let mut w = World::new();
    w.ready(1);
    w.ready(6);
    answered_call(&mut w, 1);
    w.transfer(1, TransferTarget::Queue(QueueId(3)), true);
    w.drain();
    w.ok(1, AgentCommand::CancelConsult);
    let sent = w.sent();
    assert!(has(&sent, "gz-01", &stop_ring(1, 6, "seat1")));
    assert!(has(&sent, "bj-01", &hold(1, false)));
    assert_eq!(w.state(1), Some(AgentState::OnCall));
    assert_eq!(w.state(6), Some(AgentState::Ready));
}

#[test]
fn supervision_follows_the_authority_matrix() {
    let mut w = World::new();
    w.ready(1);
    w.ready(6);
    answered_call(&mut w, 1);
    w.arrive("gz-01", 2, "+8613800000002", 3).unwrap();
    w.ok(6, AgentCommand::Answer);
    w.drain();

    // Team lead 5 (group 1): not over the expert (group 3)…
    let e = w
        .cmd(5, AgentCommand::Monitor { agent: AgentId(6) })
        .unwrap_err();
    assert!(e.to_string().contains("may not supervise"), "{e}");
    let sent = w.sent();
    assert!(sent.iter().any(|(s, c)| s == "sh-01"
        && matches!(c, CallDown::AgentUpdate(u) if u.agent == AgentId(5) && u.refused.is_some())));
    // …nor over the duty manager…
    assert!(
        w.cmd(5, AgentCommand::Monitor { agent: AgentId(10) })
            .is_err()
    );
    // …an agent is nobody's supervisor…
    assert!(
        w.cmd(2, AgentCommand::Monitor { agent: AgentId(1) })
            .is_err()
    );
    // …but over their own group's member.
    w.ok(5, AgentCommand::Monitor { agent: AgentId(1) });
    let out = w.drain();
    assert!(joined_over_leg(&out, "sh-01", 2, PartyRole::Monitor));
    assert_eq!(w.cc.view(AgentId(5)).supervising, Some(AgentId(1)));
    w.ok(5, AgentCommand::StopSupervising);
    assert!(has(&w.sent(), "bj-01", &leave(1, 2)));

    // The duty manager may act on everyone: monitor (local on bj-01), whisper
    // to the agent's party, barge, force-release.
    w.ok(10, AgentCommand::Monitor { agent: AgentId(1) });
    let sent = w.sent();
    assert!(has(
        &sent,
        "bj-01",
        &local_join(1, 3, "fxs2", PartyRole::Monitor, 10)
    ));
    w.ok(10, AgentCommand::Whisper { agent: AgentId(1) });
    assert!(has(
        &w.sent(),
        "bj-01",
        &set_role(1, 3, PartyRole::Whisper { to: PartyId(1) })
    ));
    w.ok(10, AgentCommand::Barge { agent: AgentId(1) });
    assert!(has(&w.sent(), "bj-01", &set_role(1, 3, PartyRole::Party)));
    // Moving to the expert's call leaves this one.
    w.ok(10, AgentCommand::Monitor { agent: AgentId(6) });
    let sent = w.sent();
    assert!(has(&sent, "bj-01", &leave(1, 3)));
    w.ok(10, AgentCommand::ForceRelease { agent: AgentId(6) });
    assert!(has(
        &w.sent(),
        "gz-01",
        &release(2, ReleaseReason::ForceReleased(AgentId(10)))
    ));
    assert_eq!(w.cc.view(AgentId(10)).supervising, None);
    assert_eq!(w.state(6), Some(AgentState::WrapUp));
}

#[test]
fn a_blacklisted_caller_is_released() {
    let mut w = World::new();
    w.ready(1);
    w.drain();
    w.arrive("bj-01", 7, "+8617012345678", 1).unwrap();
    let sent = w.sent();
    assert!(has(&sent, "bj-01", &release(7, ReleaseReason::Blacklisted)));
    assert!(!sent.iter().any(|(_, c)| matches!(c, CallDown::Ring { .. })));
    assert!(w.cc.calls.is_empty());
    assert_eq!(w.state(1), Some(AgentState::Ready));
}

#[test]
fn the_caller_hanging_up_while_ringing_stops_the_ring() {
    let mut w = World::new();
    w.ready(4);
    w.arrive("bj-01", 1, "+8613800000001", 1).unwrap();
    w.drain();
    w.cc.call_up(
        w.now,
        &site("bj-01"),
        CallUp::Ended {
            call: CallId(1),
            cause: EndCause::AbandonedInQueue,
        },
    )
    .unwrap();
    let sent = w.sent();
    assert!(has(&sent, "sh-01", &stop_ring(1, 4, "seat1")));
    assert_eq!(w.state(4), Some(AgentState::Ready));
    assert_eq!(w.cc.summary(w.now, &BTreeMap::new()).queues[0].abandoned, 1);
}

#[test]
fn a_call_waiting_when_its_branch_is_cut_off_is_handed_over_not_abandoned() {
    let mut w = World::new();
    // Nobody is ready: the call waits at the coordinator.
    w.arrive("bj-01", 1, "+8613800000001", 1).unwrap();
    let before = w.cc.summary(w.now, &BTreeMap::new()).queues[0].clone();
    // Offered counts it once it is answered or abandoned; now it is waiting.
    assert_eq!((before.offered, before.waiting_now), (0, 1));
    w.cc.node_offline(w.now, &site("bj-01"));
    let events: Vec<EventKind> = w
        .drain()
        .into_iter()
        .filter_map(|o| match o {
            Output::QueueEvent(e) => Some(e.event.kind),
            _ => None,
        })
        .collect();
    assert!(
        events
            .iter()
            .any(|k| matches!(k, EventKind::Withdrawn { queue, .. } if *queue == QueueId(1))),
        "{events:?}"
    );
    assert!(
        !events
            .iter()
            .any(|k| matches!(k, EventKind::Abandoned { .. })),
        "{events:?}"
    );
    // The branch's own router serves and counts it; here it is neither
    // offered nor abandoned, so the uploaded events count it once.
    let after = w.cc.summary(w.now, &BTreeMap::new()).queues[0].clone();
    assert_eq!(
        (after.offered, after.abandoned, after.waiting_now),
        (0, 0, 0)
    );
}

#[test]
fn a_seat_hook_answers_and_hangs_up() {
    let mut w = World::new();
    w.ready(3); // analog phone fxs1 at bj-01
    w.arrive("bj-01", 1, "+8613800000001", 1).unwrap();
    w.drain();
    let hook = |off_hook| CallUp::SeatHook {
        endpoint: "fxs1".into(),
        off_hook,
    };
    w.cc.call_up(w.now, &site("bj-01"), hook(true)).unwrap();
    assert_eq!(w.state(3), Some(AgentState::OnCall));
    w.cc.call_up(w.now, &site("bj-01"), hook(false)).unwrap();
    assert_eq!(w.state(3), Some(AgentState::WrapUp));
    // A command from a node that is not the agent's seat is refused.
    let e = w.cc.call_up(
        w.now,
        &site("sh-01"),
        CallUp::Agent {
            agent: AgentId(3),
            command: AgentCommand::Ready,
        },
    );
    assert!(e.is_err());
}

#[test]
fn a_config_reload_applies_live_and_waiting_calls_keep_their_places() {
    let mut w = World::new();
    w.ready(6); // an expert: not in queue 1's groups yet
    w.arrive("bj-01", 1, "+8613800000001", 1).unwrap();
    w.arrive("bj-01", 2, "+8613800000002", 1).unwrap();
    assert_eq!((w.position(1), w.position(2)), (Some(1), Some(2)));
    w.drain();
    let wider = DEMO.replace(
        "{ agent = 8 }, { agent = 9 },",
        "{ agent = 8 }, { agent = 9 }, { agent = 6 },",
    );
    assert_ne!(wider, DEMO);
    let config = ValidCenterConfig::from_toml(&wider).unwrap();
    w.cc.replace_config(config, 2, w.now).unwrap();
    assert_eq!(w.cc.version(), 2);
    // The expert now serves queue 1: the first caller rings there, the second
    // keeps its place.
    assert!(has(&w.sent(), "gz-01", &ring(1, 6, "seat1")));
    assert_eq!(w.position(2), Some(1));
}

#[test]
fn a_remote_seat_going_offline_sends_its_caller_back_to_the_queue() {
    let mut w = World::new();
    w.ready(4);
    answered_call(&mut w, 4);
    w.cc.node_offline(w.now, &site("sh-01"));
    let sent = w.sent();
    assert!(has(&sent, "bj-01", &leave(1, 1)));
    assert!(
        !sent
            .iter()
            .any(|(_, c)| matches!(c, CallDown::Release { .. }))
    );
    assert_eq!(w.position(1), Some(1));
    assert_eq!(w.state(4), Some(AgentState::WrapUp));
    w.pass(6_000);
    assert_eq!(
        w.state(4),
        Some(AgentState::NotReady(super::REASON_SEAT_OFFLINE.into()))
    );
}

#[test]
fn a_node_going_offline_forgets_its_calls_and_its_agents_stop_taking_calls() {
    let mut w = World::new();
    w.ready(4);
    answered_call(&mut w, 4);
    w.cc.node_offline(w.now, &site("bj-01"));
    assert!(w.cc.calls.is_empty());
    assert_eq!(w.state(4), Some(AgentState::WrapUp));
    assert!(
        w.drain()
            .iter()
            .any(|o| matches!(o, Output::CloseLeg { .. }))
    );
    let e = w.cmd(1, AgentCommand::Ready).unwrap_err();
    assert!(e.to_string().contains("offline"), "{e}");
    w.cc.node_online(w.now, &site("bj-01"));
    w.ready(1);
    w.cc.node_offline(w.now, &site("bj-01"));
    assert_eq!(
        w.state(1),
        Some(AgentState::NotReady(super::REASON_SEAT_OFFLINE.into()))
    );
}

#[test]
fn a_callback_keeps_its_place_and_is_dialled_when_an_agent_accepts() {
    let mut w = World::new();
    w.callback_requested();
    assert!(has(
        &w.sent(),
        "bj-01",
        &release(1, ReleaseReason::CallbackRegistered)
    ));
    // The line is gone; the request is not.
    w.cc.call_up(
        w.now,
        &site("bj-01"),
        CallUp::Ended {
            call: CallId(1),
            cause: EndCause::IvrHangup,
        },
    )
    .unwrap();
    assert_eq!(w.position(1), Some(1));
    w.ready(4);
    assert!(w.sent().iter().any(|(s, c)| s == "sh-01"
        && matches!(
            c,
            CallDown::Ring {
                call: CallId(1),
                ..
            }
        )));
    w.ok(4, AgentCommand::Answer);
    assert!(has(
        &w.sent(),
        "bj-01",
        &CallDown::Dial {
            call: CallId(1),
            line: None,
            number: "+8613800000001".into(),
            agent: AgentId(4),
        }
    ));
    assert_eq!(w.cc.view(AgentId(4)).call, Some(CallId(1)));
    w.cc.call_up(
        w.now,
        &site("bj-01"),
        CallUp::DialAnswered { call: CallId(1) },
    )
    .unwrap();
    assert!(joined_over_leg(&w.drain(), "sh-01", 1, PartyRole::Party));
}

#[test]
fn a_leg_that_cannot_open_sends_the_caller_back_to_the_queue() {
    let mut w = World::new();
    w.ready(4);
    let out = answered_call(&mut w, 4);
    let leg = out
        .iter()
        .find_map(|o| match o {
            Output::OpenLeg { leg, .. } => Some(*leg),
            _ => None,
        })
        .unwrap();
    w.cc.leg_failed(w.now, leg);
    let sent = w.sent();
    assert!(has(&sent, "bj-01", &leave(1, 1)));
    assert!(has(&sent, "bj-01", &hold(1, true)));
    assert_eq!(w.state(4), Some(AgentState::WrapUp));
    assert_eq!(w.position(1), Some(1));
}

#[test]
fn a_callback_the_anchor_cannot_dial_frees_the_agent_with_the_reason() {
    let mut w = World::new();
    w.callback_requested();
    w.ready(1);
    w.ok(1, AgentCommand::Answer);
    w.drain();
    w.cc.call_up(
        w.now,
        &site("bj-01"),
        CallUp::Failed {
            call: CallId(1),
            reason: "outbound calls are not supported".into(),
        },
    )
    .unwrap();
    assert!(w.sent().iter().any(|(s, c)| s == "bj-01"
        && matches!(c, CallDown::AgentUpdate(u) if u.agent == AgentId(1)
            && u.refused.as_deref().is_some_and(|r| r.contains("not supported")))));
    assert_eq!(w.state(1), Some(AgentState::WrapUp));
    assert!(w.cc.calls.is_empty());
}

#[test]
fn a_callback_chosen_in_the_ivr_queues_without_a_release_and_rings_as_a_callback() {
    let mut w = World::new();
    w.ready(1);
    w.drain();
    w.cc.call_up(
        w.now,
        &site("bj-01"),
        CallUp::CallbackRequested {
            call: CallId(5),
            caller: Some("+8613800000005".into()),
            queue: QueueId(1),
            vars: BTreeMap::new(),
        },
    )
    .unwrap();
    let sent = w.sent();
    assert!(
        !sent
            .iter()
            .any(|(_, c)| matches!(c, CallDown::Release { .. }))
    );
    assert!(sent.iter().any(|(_, c)| matches!(
        c,
        CallDown::Ring {
            call: CallId(5),
            ..
        }
    )));
    w.ok(1, AgentCommand::Answer);
    assert!(w.sent().iter().any(|(_, c)| matches!(
        c,
        CallDown::Dial {
            call: CallId(5),
            ..
        }
    )));
}

#[test]
fn an_agent_dials_out_through_a_branch_line_and_is_ready_again_afterwards() {
    let mut w = World::new();
    w.ready(1);
    // Not a number: refused, nothing happens.
    assert!(
        w.cmd(
            1,
            AgentCommand::Dial {
                site: site("bj-01"),
                number: "12a".into()
            }
        )
        .is_err()
    );
    assert_eq!(w.state(1), Some(AgentState::Ready));
    // A site without lines: refused, and the agent stays ready.
    assert!(
        w.cmd(
            1,
            AgentCommand::Dial {
                site: site("home-li"),
                number: "8001".into()
            }
        )
        .is_err()
    );
    assert_eq!(w.state(1), Some(AgentState::Ready));

    w.ok(
        1,
        AgentCommand::Dial {
            site: site("bj-01"),
            number: "+8610800".into(),
        },
    );
    let dial = w
        .sent()
        .into_iter()
        .find_map(|(s, c)| match c {
            CallDown::Dial {
                call,
                number,
                agent,
                ..
            } if s == "bj-01" => Some((call, number, agent)),
            _ => None,
        })
        .expect("the anchor is told to dial");
    let (call, number, agent) = dial;
    assert_eq!((number.as_str(), agent), ("+8610800", AgentId(1)));
    assert_eq!(
        w.state(1),
        Some(AgentState::NotReady(super::REASON_OUTBOUND.into())),
        "no inbound call is offered while dialling"
    );
    assert_eq!(w.cc.view(AgentId(1)).call, Some(call));

    w.cc.call_up(w.now, &site("bj-01"), CallUp::DialAnswered { call })
        .unwrap();
    let sent = w.sent();
    assert!(sent.iter().any(|(s, c)| s == "bj-01"
        && matches!(c, CallDown::Join { call: x, endpoint: Endpoint::Local(e), .. } if *x == call && e == "seat1")));

    w.ok(1, AgentCommand::Hangup);
    assert!(
        w.sent()
            .iter()
            .any(|(s, c)| s == "bj-01"
                && matches!(c, CallDown::Release { call: x, .. } if *x == call))
    );
    assert_eq!(w.state(1), Some(AgentState::Ready));
}

#[test]
fn the_summary_tracks_longest_wait_time_in_state_and_lines_in_use() {
    let mut w = World::new();
    let lines = BTreeMap::from([(site("bj-01"), 4), (site("sh-01"), 0)]);
    let agent = |w: &World, id: u32| {
        let s = w.cc.summary(w.now, &lines);
        let a = s
            .agents
            .into_iter()
            .find(|a| a.agent == AgentId(id))
            .unwrap();
        (a.view.state, a.in_state_ms)
    };
    let queue = |w: &World| {
        let s = w.cc.summary(w.now, &lines);
        (
            s.queues[0].waiting_now,
            s.queues[0].longest_wait_ms,
            s.totals.longest_wait_ms,
        )
    };
    assert_eq!(queue(&w), (0, None, None));
    w.arrive("bj-01", 1, "+8613800000001", 1).unwrap();
    w.pass(1_000);
    w.arrive("bj-01", 2, "+8613800000002", 1).unwrap();
    w.pass(3_000);
    assert_eq!(
        queue(&w),
        (2, Some(4_000), Some(4_000)),
        "from the older call"
    );
    let s = w.cc.summary(w.now, &lines);
    let bj = s.sites.iter().find(|x| x.site == site("bj-01")).unwrap();
    assert_eq!((bj.calls_up, bj.lines, bj.lines_in_use), (2, 4, 2));
    assert_eq!(bj.trunk_occupancy_percent, Some(50.0));
    let sh = s.sites.iter().find(|x| x.site == site("sh-01")).unwrap();
    assert_eq!(
        (sh.lines, sh.lines_in_use, sh.trunk_occupancy_percent),
        (0, 0, None)
    );
    let gz = s.sites.iter().find(|x| x.site == site("gz-01")).unwrap();
    assert_eq!(
        gz.lines, 0,
        "a configured site no gateway reported lines for"
    );

    // Logged out since the core started; each change restarts the clock.
    assert_eq!(agent(&w, 1), (Some(AgentState::LoggedOut), Some(4_000)));
    w.ok(1, AgentCommand::Login);
    w.pass(1_000);
    assert!(matches!(
        agent(&w, 1),
        (Some(AgentState::NotReady(_)), Some(1_000))
    ));
    w.ok(1, AgentCommand::Ready);
    // Ready takes call 1 at once: reserved, and call 2 is now the longest wait.
    assert_eq!(agent(&w, 1), (Some(AgentState::Reserved), Some(0)));
    assert_eq!(queue(&w), (1, Some(4_000), Some(4_000)));
    w.pass(2_000);
    assert_eq!(agent(&w, 1), (Some(AgentState::Reserved), Some(2_000)));
    w.ok(1, AgentCommand::Answer);
    w.pass(3_000);
    assert_eq!(agent(&w, 1), (Some(AgentState::OnCall), Some(3_000)));
    assert_eq!(queue(&w), (1, Some(9_000), Some(9_000)));
    w.ok(1, AgentCommand::Hangup);
    w.pass(1_000);
    assert_eq!(agent(&w, 1), (Some(AgentState::WrapUp), Some(1_000)));
    // Wrap-up ends on its timer; the agent is offered call 2 at that instant.
    w.pass(4_000);
    assert_eq!(agent(&w, 1), (Some(AgentState::Reserved), Some(0)));
    assert_eq!(queue(&w), (0, None, None));
}

#[test]
fn a_callback_request_holds_no_line() {
    let mut w = World::new();
    w.callback_requested();
    let lines = BTreeMap::from([(site("bj-01"), 2)]);
    let s = w.cc.summary(w.now, &lines);
    let bj = s.sites.iter().find(|x| x.site == site("bj-01")).unwrap();
    assert_eq!((bj.calls_up, bj.lines_in_use), (1, 0));
    assert_eq!(bj.trunk_occupancy_percent, Some(0.0));
    assert_eq!(s.queues[0].waiting_now, 1, "the request keeps its place");
}

// ---- calls restored from their anchors' reports --------------------------------

/// A call `bj-01` reports as connected to `agent` at `endpoint` (party 1).
fn anchored_connected(call: u64, agent: u32, endpoint: Endpoint) -> AnchoredCall {
    AnchoredCall {
        call: CallId(call),
        line: format!("fxo{call}"),
        caller: Some("+8613800000001".into()),
        queue: Some(QueueId(1)),
        priority: 0,
        state: AnchoredState::Connected { talk_ms: 30_000 },
        held: false,
        parties: vec![AnchoredParty {
            party: PartyId(1),
            agent: Some(AgentId(agent)),
            role: PartyRole::Party,
            endpoint,
        }],
    }
}

fn report(w: &mut World, at: &str, calls: Vec<AnchoredCall>) {
    w.cc.call_up(w.now, &site(at), CallUp::Anchored(calls))
        .unwrap();
}

fn leg_opened(out: &[Output]) -> Option<(u32, LegSide, LegSide)> {
    out.iter().find_map(|o| match o {
        Output::OpenLeg {
            leg, anchor, seat, ..
        } => Some((*leg, anchor.clone(), seat.clone())),
        _ => None,
    })
}

#[test]
fn a_restarted_coordinator_rebuilds_connected_calls_and_never_offers_their_agents_another() {
    // A fresh core is a restarted coordinator: everybody logged out.
    let mut w = World::new();
    w.ready(2);
    w.drain();
    let old_leg = super::FIRST_LEG + 7;
    report(
        &mut w,
        "bj-01",
        vec![
            anchored_connected(1, 1, Endpoint::Local("seat1".into())),
            anchored_connected(2, 4, Endpoint::Leg(old_leg)),
        ],
    );
    let out = w.drain();
    // The remote party's leg is relayed again under its old id; no join is
    // needed, the anchor still mixes it.
    let (leg, anchor, seat) = leg_opened(&out).expect("the relay leg reopened");
    assert_eq!(leg, old_leg);
    assert_eq!(
        (anchor.site.as_str(), anchor.endpoint.as_str()),
        ("bj-01", "call-2")
    );
    assert_eq!(
        (seat.site.as_str(), seat.endpoint.as_str()),
        ("sh-01", "seat1")
    );
    assert!(
        !sends(&out)
            .iter()
            .any(|(_, c)| matches!(c, CallDown::Join { .. }))
    );
    for (agent, call) in [(1, 1), (4, 2)] {
        let view = w.cc.view(AgentId(agent));
        assert_eq!(view.state, Some(AgentState::OnCall), "agent {agent}");
        assert_eq!(view.call, Some(CallId(call)));
        assert_eq!(view.queue, Some(QueueId(1)));
    }
    // The wallboard counts them, and no arrival or answer twice.
    let summary = w.cc.summary(w.now, &BTreeMap::new());
    let bj = summary
        .sites
        .iter()
        .find(|s| s.site == site("bj-01"))
        .unwrap();
    assert_eq!(bj.calls_up, 2);
    assert_eq!((summary.totals.offered, summary.totals.answered), (0, 0));
    // A new call goes to the free agent, not to the ones still talking.
    w.arrive("bj-01", 3, "+8613800000003", 1).unwrap();
    let sent = w.sent();
    let rung: Vec<AgentId> = sent
        .iter()
        .filter_map(|(_, c)| match c {
            CallDown::Ring { agent, .. } => Some(*agent),
            _ => None,
        })
        .collect();
    assert_eq!(rung, vec![AgentId(2)]);
    // Legs allocated from now on never collide with the ones still in use.
    assert!(w.cc.next_leg > old_leg);

    // The restored call ends like any other: released, agent in wrap-up.
    w.ok(1, AgentCommand::Hangup);
    let sent = w.sent();
    assert!(has(
        &sent,
        "bj-01",
        &release(1, ReleaseReason::AgentHungUp(AgentId(1)))
    ));
    assert_eq!(w.state(1), Some(AgentState::WrapUp));
    w.ok(4, AgentCommand::Hangup);
    assert!(w.drain().contains(&Output::CloseLeg { leg: old_leg }));
    // A repeated report of a call that ended meanwhile rebuilds nothing.
    report(&mut w, "bj-01", Vec::new());
    assert!(!w.cc.calls.contains_key(&CallId(1)));
}

#[test]
fn a_call_still_waiting_at_the_anchor_keeps_its_place_by_age() {
    let mut w = World::new();
    w.arrive("bj-01", 10, "+8613800000010", 1).unwrap();
    w.pass(1_000);
    report(
        &mut w,
        "bj-01",
        vec![AnchoredCall {
            state: AnchoredState::Queued { waited_ms: 60_000 },
            parties: Vec::new(),
            ..anchored_connected(11, 1, Endpoint::Local("seat1".into()))
        }],
    );
    assert_eq!(w.position(11), Some(1), "the older call goes first");
    assert_eq!(w.position(10), Some(2));
    w.drain();
    w.ready(1);
    assert!(has(
        &w.sent(),
        "bj-01",
        &CallDown::Ring {
            call: CallId(11),
            agent: AgentId(1),
            endpoint: "seat1".into(),
            caller: Some("+8613800000001".into()),
        }
    ));
}

#[test]
fn a_restored_leg_to_a_seat_node_not_back_yet_opens_when_it_returns() {
    let mut w = World::new();
    w.cc.node_offline(w.now, &site("sh-01"));
    w.drain();
    let leg = super::FIRST_LEG + 3;
    report(
        &mut w,
        "bj-01",
        vec![anchored_connected(2, 4, Endpoint::Leg(leg))],
    );
    assert_eq!(leg_opened(&w.drain()), None);
    assert_eq!(w.state(4), Some(AgentState::OnCall));
    w.cc.node_online(w.now, &site("sh-01"));
    let out = w.drain();
    let (opened, _, seat) = leg_opened(&out).expect("opened when the seat is back");
    assert_eq!((opened, seat.site.as_str()), (leg, "sh-01"));
    // The view pushed while the seat's node was away is pushed again.
    assert!(sends(&out).iter().any(|(to, c)| to == "sh-01"
        && matches!(c, CallDown::AgentUpdate(u) if u.agent == AgentId(4)
            && u.view.state == Some(AgentState::OnCall)
            && u.view.call == Some(CallId(2)))));
}

#[test]
fn a_call_forgotten_when_its_anchor_dropped_is_restored_when_it_reconnects() {
    let mut w = World::new();
    w.ready(4);
    let out = answered_call(&mut w, 4);
    let (leg, ..) = leg_opened(&out).unwrap();
    // The branch's link drops: the coordinator forgets its calls.
    w.cc.node_offline(w.now, &site("bj-01"));
    assert_eq!(w.state(4), Some(AgentState::WrapUp));
    w.drain();
    // It comes back and reports the call, still up with the remote agent.
    w.cc.node_online(w.now, &site("bj-01"));
    report(
        &mut w,
        "bj-01",
        vec![anchored_connected(1, 4, Endpoint::Leg(leg))],
    );
    assert_eq!(w.state(4), Some(AgentState::OnCall));
    assert_eq!(leg_opened(&w.drain()).map(|l| l.0), Some(leg));
    // Still theirs to end.
    w.ok(4, AgentCommand::Hangup);
    assert!(has(
        &w.sent(),
        "bj-01",
        &release(1, ReleaseReason::AgentHungUp(AgentId(4)))
    ));
}

#[test]
fn a_party_whose_agent_is_busy_elsewhere_leaves_and_the_caller_queues_again() {
    let mut w = World::new();
    w.ready(1);
    answered_call(&mut w, 1);
    // Another branch reports agent 1 on a call there too: the coordinator's
    // own record wins, the stale party leaves and its caller waits again.
    report(
        &mut w,
        "sh-01",
        vec![anchored_connected(
            5,
            1,
            Endpoint::Leg(super::FIRST_LEG + 40),
        )],
    );
    let sent = w.sent();
    assert!(has(&sent, "sh-01", &leave(5, 1)), "{sent:#?}");
    assert_eq!(w.position(5), Some(1));
    assert_eq!(w.cc.view(AgentId(1)).call, Some(CallId(1)));
}

#[test]
fn a_local_agent_whose_branch_dropped_mid_call_is_ready_again_after_the_restored_call() {
    let mut w = World::new();
    w.ready(1);
    answered_call(&mut w, 1);
    // The coordinator forgets the call (wrap-up) and holds the agent out.
    w.cc.node_offline(w.now, &site("bj-01"));
    assert_eq!(w.state(1), Some(AgentState::WrapUp));
    w.cc.node_online(w.now, &site("bj-01"));
    report(
        &mut w,
        "bj-01",
        vec![anchored_connected(1, 1, Endpoint::Local("seat1".into()))],
    );
    assert_eq!(w.state(1), Some(AgentState::OnCall));
    w.ok(1, AgentCommand::Hangup);
    w.ok(
        1,
        AgentCommand::WrapUp {
            disposition: "resolved".into(),
            note: String::new(),
        },
    );
    assert_eq!(w.state(1), Some(AgentState::Ready));
}

#[test]
fn a_restored_call_is_supervised_and_transferred_like_any_other() {
    let mut w = World::new();
    w.ready(6); // expert at gz-01
    let mut call = anchored_connected(1, 1, Endpoint::Local("seat1".into()));
    // The duty manager was listening in on the same box.
    call.parties.push(AnchoredParty {
        party: PartyId(2),
        agent: Some(AgentId(10)),
        role: PartyRole::Monitor,
        endpoint: Endpoint::Local("fxs2".into()),
    });
    report(&mut w, "bj-01", vec![call]);
    w.drain();
    assert_eq!(w.cc.view(AgentId(10)).supervising, Some(AgentId(1)));
    w.ok(10, AgentCommand::StopSupervising);
    assert!(has(&w.sent(), "bj-01", &leave(1, 2)));
    // New parties are numbered after the restored ones.
    w.ok(5, AgentCommand::Monitor { agent: AgentId(1) });
    assert!(joined_over_leg(&w.drain(), "sh-01", 3, PartyRole::Monitor));
    w.ok(5, AgentCommand::StopSupervising);
    w.transfer(1, TransferTarget::Queue(QueueId(3)), false);
    let sent = w.sent();
    assert!(has(&sent, "bj-01", &leave(1, 1)));
    assert!(has(&sent, "gz-01", &ring(1, 6, "seat1")));
    assert_eq!(w.state(1), Some(AgentState::WrapUp));
}

#[test]
fn a_direct_offer_ringing_an_agent_found_on_a_restored_call_is_withdrawn() {
    let mut w = World::new();
    w.ready(1);
    w.ready(4);
    w.arrive("bj-01", 1, "+8613800000001", 1).unwrap();
    let rung = w
        .sent()
        .iter()
        .find_map(|(_, c)| match c {
            CallDown::Ring { agent, .. } => Some(agent.0),
            _ => None,
        })
        .unwrap();
    w.ok(rung, AgentCommand::Answer);
    let other = if rung == 1 { 4 } else { 1 };
    w.transfer(rung, TransferTarget::Agent(AgentId(other)), false);
    assert_eq!(
        w.cc.view(AgentId(other)).call,
        Some(CallId(1)),
        "rung directly"
    );
    w.drain();
    // Another branch's anchor says `other` is on its call: that wins.
    let endpoint = if other == 4 {
        Endpoint::Local("seat1".into())
    } else {
        Endpoint::Leg(super::FIRST_LEG + 50)
    };
    report(
        &mut w,
        "sh-01",
        vec![anchored_connected(7, other, endpoint)],
    );
    let sent = w.sent();
    assert!(
        sent.iter()
            .any(|(_, c)| matches!(c, CallDown::StopRing { call, .. } if *call == CallId(1))),
        "{sent:#?}"
    );
    let view = w.cc.view(AgentId(other));
    assert_eq!(
        (view.state, view.call),
        (Some(AgentState::OnCall), Some(CallId(7)))
    );
}

// ---- site authority -----------------------------------------------------------

#[test]
fn a_site_cannot_report_restore_or_upload_for_another_sites_call() {
    use crate::authority::AuthorityKind;
    let not_ours = |r: Result<(), CallError>, kind: AuthorityKind| match r {
        Err(CallError::NotOurs(refusal)) => assert_eq!(refusal.kind, kind, "{refusal}"),
        other => panic!("expected a {kind:?} refusal, got {other:?}"),
    };
    let mut w = World::new();
    let leg = super::FIRST_LEG + 7;
    // bj-01's call 2, its caller talking to agent 4 (sh-01) over a relay leg.
    report(
        &mut w,
        "bj-01",
        vec![anchored_connected(2, 4, Endpoint::Leg(leg))],
    );
    w.drain();
    let call = CallId(2);
    for up in [
        CallUp::Ended {
            call,
            cause: EndCause::Completed,
        },
        CallUp::DialAnswered { call },
        CallUp::Failed {
            call,
            reason: "no".into(),
        },
    ] {
        not_ours(w.cc.call_up(w.now, &site("gz-01"), up), AuthorityKind::Call);
    }
    // Re-reporting bj-01's call, taking its leg under another call id, or
    // putting bj-01's agent 1 on a gz-01 seat.
    for (call, agent, endpoint) in [
        (2, 6, Endpoint::Local("seat1".into())),
        (3, 6, Endpoint::Leg(leg)),
        (4, 1, Endpoint::Local("seat1".into())),
    ] {
        let claim = CallUp::Anchored(vec![anchored_connected(call, agent, endpoint)]);
        not_ours(
            w.cc.call_up(w.now, &site("gz-01"), claim),
            AuthorityKind::Restore,
        );
    }
    // Nothing changed: the call, its agent and its leg are as they were.
    assert!(w.drain().iter().all(|o| !matches!(
        o,
        Output::OpenLeg { .. } | Output::CloseLeg { .. } | Output::Send { .. }
    )));
    assert_eq!(w.cc.view(AgentId(4)).call, Some(call));
    assert_eq!(w.cc.view(AgentId(4)).state, Some(AgentState::OnCall));
    assert!(!w.cc.calls.contains_key(&CallId(3)) && !w.cc.calls.contains_key(&CallId(4)));
    assert_eq!(w.cc.view(AgentId(1)).call, None);
    // Uploaded events naming bj-01's call or agent are refused, gz-01's own pass.
    let gz = site("gz-01");
    assert!(w.cc.foreign_event(&gz, &EventKind::Held { call }).is_some());
    let changed = |agent| EventKind::AgentStateChanged {
        agent: AgentId(agent),
        state: AgentState::Ready,
    };
    assert!(w.cc.foreign_event(&gz, &changed(1)).is_some());
    assert!(w.cc.foreign_event(&gz, &changed(6)).is_none());
    assert!(
        w.cc.foreign_event(&site("bj-01"), &EventKind::Held { call })
            .is_none()
    );
    // The anchor itself still ends its call.
    w.cc.call_up(
        w.now,
        &site("bj-01"),
        CallUp::Ended {
            call,
            cause: EndCause::Completed,
        },
    )
    .unwrap();
    assert!(!w.cc.calls.contains_key(&call));
}
