//! Property tests: random valid flows driven by random inputs never panic, only visit
//! nodes that exist, and always end (queue, closed message or hang-up) within a
//! bounded number of deadlines once the caller goes silent; random text and bytes
//! never panic the loaders.

mod ivr_support;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use ivr_support::*;
use proptest::prelude::*;
use tandem_node::ivr::*;
use tandem_node::routing::QueueId;

const TERMINALS: [&str; 3] = ["to_queue", "closed", "bye"];
const KEYS: &[char] = &['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#'];

#[derive(Debug, Clone)]
struct RawNode {
    kind: u8,
    picks: Vec<u32>,
    retries: u8,
    barge: bool,
    flag: bool,
    timeout: u32,
    lens: (u8, u8),
}

fn raw_node() -> impl Strategy<Value = RawNode> {
    (
        0u8..5,
        prop::collection::vec(any::<u32>(), 8),
        0u8..4,
        any::<bool>(),
        any::<bool>(),
        1u32..20_000,
        (0u8..6, 1u8..8),
    )
        .prop_map(
            |(kind, picks, retries, barge, flag, timeout, lens)| RawNode {
                kind,
                picks,
                retries,
                barge,
                flag,
                timeout,
                lens,
            },
        )
}

fn tone(hz: u16) -> Prompt {
    Prompt::Tone(ToneSpec {
        frequencies_hz: vec![hz],
        duration_ms: 300,
    })
}

/// Builds a flow whose edges that need no digit only point forward (so they cannot
/// loop) while digit edges point anywhere, then drops what the start cannot reach.
fn build(
    raw: &[RawNode],
    offset: i16,
    day_ranges: &[(u16, u16)],
    holiday: bool,
    start_ms: u64,
) -> IvrConfig {
    let n = raw.len();
    let name = |i: usize| format!("n{i}");
    let all: Vec<String> = (0..n)
        .map(name)
        .chain(TERMINALS.iter().map(|t| t.to_string()))
        .collect();
    let mut nodes = BTreeMap::new();
    for (i, r) in raw.iter().enumerate() {
        let forward = |p: u32| all[i + 1 + p as usize % (all.len() - i - 1)].clone();
        let any = |p: u32| all[p as usize % all.len()].clone();
        let primary = all[i + 1].clone();
        let node = match r.kind {
            0 => Node::Play(PlayNode {
                prompts: (0..=r.picks[0] % 3).map(|k| tone(300 + k as u16)).collect(),
                barge_in: r.barge,
                next: primary,
            }),
            1 => Node::Menu(MenuNode {
                prompt: tone(400),
                options: r.picks[1..=1 + r.picks[0] as usize % 4]
                    .iter()
                    .map(|p| (KEYS[*p as usize % KEYS.len()].to_string(), any(p / 16)))
                    .collect(),
                timeout_ms: r.timeout,
                max_retries: r.retries,
                invalid_prompt: r.flag.then(|| tone(500)),
                timeout_prompt: (!r.flag).then(|| tone(600)),
                barge_in: r.barge,
                on_exhausted: primary,
            }),
            2 => {
                let (a, b) = r.lens;
                Node::Collect(CollectNode {
                    prompt: tone(700),
                    min_len: a.min(b),
                    max_len: b,
                    terminator: r.flag,
                    first_digit_timeout_ms: r.timeout,
                    inter_digit_timeout_ms: 1 + r.timeout / 3,
                    max_retries: r.retries,
                    invalid_prompt: r.flag.then(|| tone(800)),
                    barge_in: r.barge,
                    variable: format!("v{i}"),
                    next: any(r.picks[0]),
                    on_exhausted: primary,
                })
            }
            3 => Node::Hours(HoursNode {
                calendar: "cal".into(),
                open: primary,
                closed: forward(r.picks[0]),
            }),
            _ => Node::CallbackOffer(CallbackNode {
                prompt: tone(900),
                queue: QueueId(r.picks[0] % 5),
                accept_digit: KEYS[r.picks[1] as usize % KEYS.len()],
                timeout_ms: r.timeout,
                accepted: any(r.picks[2]),
                declined: primary,
            }),
        };
        nodes.insert(name(i), node);
    }
    nodes.insert(
        "to_queue".into(),
        Node::Queue(QueueNode {
            queue: QueueId(1),
            priority: 3,
        }),
    );
    nodes.insert(
        "closed".into(),
        Node::ClosedMessage(ClosedNode { prompt: tone(425) }),
    );
    nodes.insert("bye".into(), Node::Hangup);
    // Keep what the start reaches.
    let mut seen = BTreeSet::from(["n0".to_string()]);
    let mut todo = VecDeque::from(["n0".to_string()]);
    while let Some(cur) = todo.pop_front() {
        for t in targets(&nodes[&cur]) {
            if seen.insert(t.clone()) {
                todo.push_back(t);
            }
        }
    }
    nodes.retain(|k, _| seen.contains(k));
    let day: Vec<HoursRange> = day_ranges
        .iter()
        .filter_map(|(s, len)| HoursRange::new(*s, s + len))
        .collect();
    let mut calendar = Calendar {
        utc_offset_minutes: offset,
        weekly: WeeklyHours {
            mon: day.clone(),
            tue: day.clone(),
            wed: day.clone(),
            thu: day.clone(),
            fri: day.clone(),
            sat: day,
            ..WeeklyHours::default()
        },
        ..Calendar::default()
    };
    if holiday {
        let days = (start_ms / DAY) as i64;
        let (y, m, d) = (2026, 1 + (days % 12) as u32, 1 + (days % 28) as u32);
        calendar.holidays.extend(CivilDate::new(y, m, d));
    }
    IvrConfig {
        calendars: BTreeMap::from([("cal".to_string(), calendar)]),
        flows: BTreeMap::from([(
            "f".to_string(),
            Flow {
                start: "n0".into(),
                max_prompt_ms: 30_000,
                nodes,
            },
        )]),
    }
}

fn targets(node: &Node) -> Vec<String> {
    match node {
        Node::Play(p) => vec![p.next.clone()],
        Node::Menu(m) => m
            .options
            .values()
            .cloned()
            .chain([m.on_exhausted.clone()])
            .collect(),
        Node::Collect(c) => vec![c.next.clone(), c.on_exhausted.clone()],
        Node::Hours(h) => vec![h.open.clone(), h.closed.clone()],
        Node::CallbackOffer(c) => vec![c.accepted.clone(), c.declined.clone()],
        Node::Queue(_) | Node::ClosedMessage(_) | Node::Hangup => vec![],
    }
}

#[derive(Debug, Clone)]
enum Step {
    Digit(char),
    Finished,
    Tick,
    HungUp,
}

fn step() -> impl Strategy<Value = (u64, Step)> {
    let kind = prop_oneof![
        6 => prop::sample::select(vec!['0', '1', '2', '3', '5', '9', '*', '#', 'x']).prop_map(Step::Digit),
        3 => Just(Step::Finished),
        3 => Just(Step::Tick),
        1 => Just(Step::HungUp),
    ];
    (0u64..25_000, kind)
}

fn flow_case() -> impl Strategy<Value = (Vec<RawNode>, i16, Vec<(u16, u16)>, bool, u64)> {
    (
        prop::collection::vec(raw_node(), 1..9),
        -840i16..=840,
        prop::collection::vec((0u16..1380, 1u16..60), 0..3),
        any::<bool>(),
        1_577_836_800_000u64..1_893_456_000_000,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn random_flows_and_inputs_always_end(
        (raw, offset, ranges, holiday, start) in flow_case(),
        steps in prop::collection::vec(step(), 0..60),
    ) {
        let config = build(&raw, offset, &ranges, holiday, start);
        let config = match validate(config) {
            Ok(c) => c,
            Err(e) => return Err(TestCaseError::fail(format!("generated flow refused: {e}"))),
        };
        // The generated config also survives TOML and postcard round trips.
        let text = toml::to_string(config.config()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&ValidIvrConfig::from_toml(&text).map_err(|e| TestCaseError::fail(e.to_string()))?, &config);
        let bytes = config.to_postcard().map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&ValidIvrConfig::from_postcard(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?, &config);

        let (mut session, first) = IvrSession::start("f", &config, start).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut actions = first;
        let mut now = start;
        for (delay, s) in steps {
            now += delay;
            let input = match s {
                Step::Digit(d) => IvrInput::Digit(d),
                Step::Finished => IvrInput::PromptFinished,
                Step::Tick => IvrInput::Tick,
                Step::HungUp => IvrInput::CallerHungUp,
            };
            let ended_before = session.outcome().is_some();
            let out = session.handle(now, input);
            prop_assert!(!ended_before || out.is_empty(), "actions after the end: {:?}", out);
            actions.extend(out);
        }
        // The caller goes silent and prompts never report finishing: deadlines alone end it.
        let nodes = config.config().flows["f"].nodes.len() as u64;
        let bound = 20 * nodes + 20;
        let mut ticks = 0;
        while let Some(deadline) = session.next_deadline() {
            prop_assert!(ticks < bound, "no end after {} ticks; path {:?}", ticks, session.path());
            now = now.max(deadline);
            actions.extend(session.handle(now, IvrInput::Tick));
            if let Some(next) = session.next_deadline() {
                prop_assert!(next > now, "a tick at the deadline made no progress");
            }
            ticks += 1;
        }
        let outcome = session.outcome();
        prop_assert!(outcome.is_some());
        let flow = &config.config().flows["f"];
        for node in session.path() {
            prop_assert!(flow.nodes.contains_key(node), "unknown node {}", node);
        }
        // The last action matches the outcome.
        match outcome {
            Some(IvrOutcome::Queued { queue }) => {
                let routed = matches!(actions.last(), Some(IvrAction::RouteToQueue { queue: q, .. }) if *q == queue);
                prop_assert!(routed, "last action {:?}", actions.last());
            }
            Some(IvrOutcome::Closed | IvrOutcome::HungUp) => prop_assert_eq!(actions.last(), Some(&IvrAction::Hangup)),
            Some(IvrOutcome::CallerHungUp) | None => {}
        }
        prop_assert_eq!(actions.iter().filter(|a| matches!(a, IvrAction::RouteToQueue { .. } | IvrAction::Hangup)).count() <= 1, true);
    }

    #[test]
    fn random_text_never_panics_the_toml_loader(text in ".{0,400}") {
        let _ = ValidIvrConfig::from_toml(&text);
    }

    #[test]
    fn mangled_example_never_panics_the_loaders(cut in 0usize..4000, edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8)) {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../ivr-configs/example.toml");
        let text = std::fs::read_to_string(path).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut bytes = text.into_bytes();
        bytes.truncate(cut.max(1));
        for (at, b) in &edits {
            let i = at.index(bytes.len());
            bytes[i] = *b;
        }
        let _ = ValidIvrConfig::from_toml(&String::from_utf8_lossy(&bytes));
        let good = example().to_postcard().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut bin = good.clone();
        bin.truncate(cut.min(good.len()));
        for (at, b) in &edits {
            if !bin.is_empty() {
                let i = at.index(bin.len());
                bin[i] = *b;
            }
        }
        let _ = ValidIvrConfig::from_postcard(&bin);
    }

    #[test]
    fn random_bytes_never_panic_the_postcard_loader(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = ValidIvrConfig::from_postcard(&bytes);
    }
}
