//! IVR sessions driven through every node kind with a simulated clock, mostly on the
//! example bank flow in `ivr-configs/example.toml`.

mod ivr_support;

use std::collections::BTreeMap;

use ivr_support::*;
use tandem_node::ivr::*;
use tandem_node::routing::QueueId;

/// Monday 10:00 in Beijing (02:00 UTC): the branch is open.
const OPEN: u64 = MONDAY + 2 * HOUR;

/// Starts the bank flow and lets the welcome prompt finish; the menu is playing.
fn at_menu(now: u64) -> Call {
    let mut call = Call::start(&example(), "bank", now);
    assert_eq!(call.played(), vec![file("zh/welcome.wav")]);
    call.finish_prompt(3 * SECOND);
    assert_eq!(
        call.last(),
        Some(&IvrAction::Play {
            prompt: file("zh/main_menu.wav"),
            barge_in: true
        })
    );
    call
}

fn queued(queue: u32, priority: u8, vars: &[(&str, &str)]) -> IvrAction {
    IvrAction::RouteToQueue {
        queue: QueueId(queue),
        priority,
        vars: vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

#[test]
fn example_accounts_path_collects_the_account_number_and_queues() {
    let mut call = at_menu(OPEN);
    call.finish_prompt(5 * SECOND);
    call.now += 2 * SECOND;
    call.digit('1');
    assert_eq!(
        call.last(),
        Some(&IvrAction::Play {
            prompt: file("zh/enter_account.wav"),
            barge_in: true
        })
    );
    call.finish_prompt(2 * SECOND);
    call.digits("6222021234#");
    assert_eq!(
        call.last(),
        Some(&queued(10, 1, &[("account", "6222021234")]))
    );
    assert_eq!(
        call.session.outcome(),
        Some(IvrOutcome::Queued { queue: QueueId(10) })
    );
    assert_eq!(
        call.session.path(),
        vec![
            "check_hours",
            "welcome",
            "main_menu",
            "account_number",
            "accounts_queue"
        ]
    );
    assert_eq!(call.session.next_deadline(), None);
    // Once ended, the session ignores everything.
    assert!(call.digit('1').is_empty());
    assert!(call.input(IvrInput::Tick).is_empty());
}

#[test]
fn example_out_of_hours_plays_the_closed_message_then_hangs_up() {
    // Monday 20:00 in Beijing.
    let mut call = Call::start(&example(), "bank", MONDAY + 12 * HOUR);
    assert_eq!(
        call.actions,
        vec![IvrAction::PlayClosedMessage {
            prompt: file("zh/closed.wav")
        }]
    );
    // Digits during the closed message do nothing.
    assert!(call.digit('0').is_empty());
    assert_eq!(call.finish_prompt(8 * SECOND), vec![IvrAction::Hangup]);
    assert_eq!(call.session.outcome(), Some(IvrOutcome::Closed));
    assert_eq!(call.session.path(), vec!["check_hours", "closed"]);
}

#[test]
fn example_hours_follow_holidays_special_days_and_lunch() {
    let config = example();
    let outcome_at =
        |utc_ms: u64| Call::start(&config, "bank", utc_ms).session.path()[1].to_string();
    let day = |y, m, d| {
        CivilDate::new(y, m, d)
            .map(|d| d.epoch_day() as u64 * DAY)
            .unwrap_or(0)
    };
    // National Day, 10:00 Beijing: closed though it is a Thursday.
    assert_eq!(outcome_at(day(2026, 10, 1) + 2 * HOUR), "closed");
    // Saturday 2026-10-10 is a make-up working day open until 17:00 (normal Saturdays close at 12:00).
    assert_eq!(outcome_at(day(2026, 10, 10) + 7 * HOUR), "welcome");
    assert_eq!(outcome_at(day(2026, 10, 17) + 7 * HOUR), "closed");
    // Lunch break 12:00-13:00 Beijing.
    assert_eq!(outcome_at(MONDAY + 4 * HOUR + 30 * MINUTE), "closed");
    // Monday 08:30 Beijing is Sunday 00:30 UTC: the offset carries the day across midnight.
    assert_eq!(outcome_at(MONDAY + 30 * MINUTE), "welcome");
    assert_eq!(outcome_at(MONDAY + 30 * MINUTE - 1), "closed");
    // Sunday 23:59 UTC is Monday 07:59 Beijing: closed, and not because of Sunday.
    assert_eq!(outcome_at(MONDAY - MINUTE), "closed");
}

#[test]
fn barge_in_stops_the_welcome_and_the_digit_chooses_in_the_menu() {
    let mut call = Call::start(&example(), "bank", OPEN);
    call.now += SECOND;
    let actions = call.digit('0');
    assert_eq!(actions, vec![IvrAction::StopPrompt, queued(30, 0, &[])]);
    assert_eq!(
        call.session.path(),
        vec!["check_hours", "welcome", "main_menu", "agent"]
    );
    let typed: Vec<_> = call
        .session
        .events()
        .iter()
        .filter(|e| matches!(e.kind, IvrEventKind::Digit { .. }))
        .collect();
    assert_eq!(
        typed.len(),
        2,
        "typed ahead in welcome, accepted in the menu: {typed:?}"
    );
}

#[test]
fn barge_in_during_the_menu_prompt_counts_as_the_choice() {
    let mut call = at_menu(OPEN);
    call.now += SECOND;
    let actions = call.digit('2');
    assert_eq!(
        actions,
        vec![
            IvrAction::StopPrompt,
            IvrAction::Play {
                prompt: file("zh/enter_card.wav"),
                barge_in: true
            }
        ]
    );
}

#[test]
fn invalid_digits_replay_the_menu_then_exhaust_to_an_agent() {
    let mut call = at_menu(OPEN);
    call.finish_prompt(5 * SECOND);
    for attempt in 1..=2u8 {
        call.digit('7');
        assert_eq!(
            call.last(),
            Some(&IvrAction::Play {
                prompt: file("zh/invalid_choice.wav"),
                barge_in: true
            })
        );
        call.finish_prompt(SECOND);
        assert_eq!(
            call.last(),
            Some(&IvrAction::Play {
                prompt: file("zh/main_menu.wav"),
                barge_in: true
            })
        );
        call.finish_prompt(5 * SECOND);
        assert!(call.session.events().iter().any(|e| e.kind
            == IvrEventKind::Retry {
                node: "main_menu".into(),
                attempt
            }));
    }
    call.digit('#');
    assert_eq!(call.last(), Some(&queued(30, 0, &[])));
    assert!(call.session.events().iter().any(|e| e.kind
        == IvrEventKind::Exhausted {
            node: "main_menu".into()
        }));
}

#[test]
fn silence_times_out_the_menu_at_the_configured_timeout() {
    let mut call = at_menu(OPEN);
    call.finish_prompt(5 * SECOND);
    let listening_since = call.now;
    assert_eq!(
        call.session.next_deadline(),
        Some(listening_since + 6 * SECOND)
    );
    // An early tick does nothing.
    call.now += 5 * SECOND;
    assert!(call.input(IvrInput::Tick).is_empty());
    call.tick();
    assert_eq!(call.now, listening_since + 6 * SECOND);
    assert_eq!(
        call.last(),
        Some(&IvrAction::Play {
            prompt: file("zh/no_input.wav"),
            barge_in: true
        })
    );
    assert_eq!(call.run_silent(), IvrOutcome::Queued { queue: QueueId(30) });
    let timeouts = call
        .session
        .events()
        .iter()
        .filter(|e| matches!(e.kind, IvrEventKind::Timeout { .. }))
        .count();
    assert_eq!(timeouts, 3, "first offer plus two retries");
}

#[test]
fn a_digit_after_a_missed_deadline_is_taken_after_the_timeout() {
    let mut call = at_menu(OPEN);
    call.finish_prompt(5 * SECOND);
    // The engine was late with its tick: the timeout fires first, then the digit barges
    // into the "no input" prompt and chooses.
    call.now += 7 * SECOND;
    let actions = call.digit('2');
    assert_eq!(
        actions,
        vec![
            IvrAction::Play {
                prompt: file("zh/no_input.wav"),
                barge_in: true
            },
            IvrAction::StopPrompt,
            IvrAction::Play {
                prompt: file("zh/enter_card.wav"),
                barge_in: true
            },
        ]
    );
}

#[test]
fn collect_handles_short_entries_bad_keys_inter_digit_timeout_and_max_length() {
    let mut call = at_menu(OPEN);
    call.digit('1');
    call.finish_prompt(SECOND);
    // Too short for min_len 8: replayed with the invalid-number prompt.
    call.digits("123#");
    assert_eq!(
        call.last(),
        Some(&IvrAction::Play {
            prompt: file("zh/invalid_number.wav"),
            barge_in: true
        })
    );
    call.finish_prompt(SECOND);
    call.finish_prompt(SECOND);
    // `*` is not a digit of an account number.
    call.digits("12*");
    assert_eq!(
        call.last(),
        Some(&IvrAction::Play {
            prompt: file("zh/invalid_number.wav"),
            barge_in: true
        })
    );
    call.finish_prompt(SECOND);
    call.finish_prompt(SECOND);
    // Nine digits then silence: the inter-digit timeout (4 s) completes the entry.
    call.digits("123456789");
    let last_digit_at = call.now - 200;
    assert_eq!(
        call.session.next_deadline(),
        Some(last_digit_at + 4 * SECOND)
    );
    call.tick();
    assert_eq!(
        call.last(),
        Some(&queued(10, 1, &[("account", "123456789")]))
    );
    assert!(call.session.events().iter().any(|e| e.kind
        == IvrEventKind::Collected {
            node: "account_number".into(),
            variable: "account".into(),
            len: 9
        }));
    // No digit of the number is in the log.
    assert!(!call.session.events().iter().any(
        |e| matches!(e.kind, IvrEventKind::Digit { node: ref n, .. } if n == "account_number")
    ));

    let mut call = at_menu(OPEN);
    call.digit('2');
    call.finish_prompt(SECOND);
    call.digits("6222021234567890123");
    assert_eq!(
        call.last(),
        Some(&queued(20, 1, &[("card", "6222021234567890123")])),
        "19 digits end the entry"
    );
}

#[test]
fn collect_first_digit_timeout_and_exhaustion() {
    let mut call = at_menu(OPEN);
    call.digit('2');
    call.finish_prompt(SECOND);
    let since = call.now;
    assert_eq!(call.session.next_deadline(), Some(since + 8 * SECOND));
    // Card node keeps the default two retries, with no invalid prompt: silence ends at an agent.
    assert_eq!(call.run_silent(), IvrOutcome::Queued { queue: QueueId(30) });
    let cards: Vec<_> = call
        .played()
        .into_iter()
        .filter(|p| *p == file("zh/enter_card.wav"))
        .collect();
    assert_eq!(cards.len(), 3);
}

#[test]
fn callback_offer_accepted_registers_a_callback_and_says_goodbye() {
    let mut call = at_menu(OPEN);
    call.digit('9');
    call.finish_prompt(4 * SECOND);
    let actions = call.digit('1');
    assert_eq!(
        actions,
        vec![
            IvrAction::RegisterCallback {
                queue: QueueId(30),
                vars: BTreeMap::new()
            },
            IvrAction::Play {
                prompt: file("zh/callback_confirmed.wav"),
                barge_in: false
            },
        ]
    );
    // The confirmation has no barge-in.
    assert!(call.digit('5').is_empty());
    assert_eq!(call.finish_prompt(3 * SECOND), vec![IvrAction::Hangup]);
    assert_eq!(call.session.outcome(), Some(IvrOutcome::HungUp));
    assert_eq!(call.session.path().last(), Some(&"goodbye"));
}

#[test]
fn callback_offer_declined_by_digit_or_silence_goes_to_the_agent_queue() {
    let mut call = at_menu(OPEN);
    call.digit('9');
    call.finish_prompt(SECOND);
    assert_eq!(call.digit('2'), vec![queued(30, 0, &[])]);

    let mut call = at_menu(OPEN);
    call.digit('9');
    call.finish_prompt(SECOND);
    assert_eq!(call.tick(), vec![queued(30, 0, &[])]);
}

#[test]
fn caller_hang_up_ends_the_session_without_actions() {
    let mut call = at_menu(OPEN);
    call.now += SECOND;
    assert!(call.input(IvrInput::CallerHungUp).is_empty());
    assert_eq!(call.session.outcome(), Some(IvrOutcome::CallerHungUp));
    assert_eq!(call.session.next_deadline(), None);
    assert!(matches!(
        call.session.events().last(),
        Some(IvrEvent {
            kind: IvrEventKind::Ended {
                outcome: IvrOutcome::CallerHungUp
            },
            ..
        })
    ));
}

#[test]
fn a_prompt_without_a_finished_report_moves_on_at_max_prompt_ms() {
    let mut call = Call::start(&example(), "bank", OPEN);
    assert_eq!(call.session.next_deadline(), Some(OPEN + 60 * SECOND));
    call.tick();
    assert_eq!(
        call.last(),
        Some(&IvrAction::Play {
            prompt: file("zh/main_menu.wav"),
            barge_in: true
        })
    );
    assert!(call.session.events().iter().any(|e| e.kind
        == IvrEventKind::PromptOverran {
            node: "welcome".into()
        }));
}

#[test]
fn non_dtmf_characters_are_ignored() {
    let mut call = at_menu(OPEN);
    assert!(call.digit('x').is_empty());
    assert!(call.session.outcome().is_none());
}

#[test]
fn tone_prompts_play_in_order_and_hangup_node_ends() {
    let config = load(
        r#"
        [flows.t]
        start = "beeps"
        [flows.t.nodes]
        end = "hangup"
        [flows.t.nodes.beeps.play]
        prompts = [
          { tone = { frequencies_hz = [440], duration_ms = 200 } },
          { tone = { frequencies_hz = [697, 1209], duration_ms = 100 } },
        ]
        next = "end"
        "#,
    );
    let mut call = Call::start(&config, "t", 0);
    let tone = |f: Vec<u16>, d| {
        Prompt::Tone(ToneSpec {
            frequencies_hz: f,
            duration_ms: d,
        })
    };
    assert_eq!(
        call.actions,
        vec![IvrAction::Play {
            prompt: tone(vec![440], 200),
            barge_in: false
        }]
    );
    assert_eq!(
        call.finish_prompt(200),
        vec![IvrAction::Play {
            prompt: tone(vec![697, 1209], 100),
            barge_in: false
        }]
    );
    assert_eq!(call.finish_prompt(100), vec![IvrAction::Hangup]);
    assert_eq!(call.session.outcome(), Some(IvrOutcome::HungUp));
}

#[test]
fn unknown_flow_is_an_error() {
    assert_eq!(
        IvrSession::start("nope", &example(), 0).err(),
        Some(IvrError::UnknownFlow("nope".into()))
    );
}

#[test]
fn node_visit_report_and_event_timestamps() {
    let config = example();
    let mut a = Call::start(&config, "bank", OPEN);
    a.digit('0');
    let mut b = Call::start(&config, "bank", MONDAY + 12 * HOUR);
    b.run_silent();
    let visits = node_visits([a.session.events(), b.session.events()]);
    assert_eq!(visits.get("check_hours"), Some(&2));
    assert_eq!(visits.get("closed"), Some(&1));
    assert_eq!(visits.get("agent"), Some(&1));
    let times: Vec<u64> = b.session.events().iter().map(|e| e.at_ms).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(times.first(), Some(&(MONDAY + 12 * HOUR)));
    // Logs travel in CDRs as postcard.
    let bytes = postcard::to_stdvec(b.session.events()).unwrap_or_default();
    let back: Vec<IvrEvent> = postcard::from_bytes(&bytes).unwrap_or_default();
    assert_eq!(back, b.session.events());
}

#[test]
fn a_caller_circling_a_menu_cannot_grow_the_log_without_bound() {
    let config = load(
        r#"
        [flows.loop]
        start = "menu"
        [flows.loop.nodes]
        bye = "hangup"
        [flows.loop.nodes.menu.menu]
        prompt = { file = "menu.wav" }
        options = { "1" = "menu", "0" = "bye" }
        timeout_ms = 5000
        on_exhausted = "bye"
        "#,
    );
    let mut call = Call::start(&config, "loop", 0);
    for _ in 0..MAX_EVENTS {
        call.digit('1');
        call.now += 100;
    }
    assert_eq!(call.session.events().len(), MAX_EVENTS);
    assert!(call.session.events_dropped() > 0);
    assert_eq!(
        call.digit('0'),
        vec![IvrAction::StopPrompt, IvrAction::Hangup]
    );
    assert_eq!(call.session.outcome(), Some(IvrOutcome::HungUp));
}
