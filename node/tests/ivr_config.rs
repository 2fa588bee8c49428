//! IVR configuration loading: TOML and postcard, and validation errors that name the
//! flow, node and field at fault.

mod ivr_support;

use ivr_support::*;
use tandem_node::ivr::*;

const BASE: &str = r#"
[calendars.main]
utc_offset_minutes = 480
weekly = { mon = ["09:00-17:00"] }

[flows.f]
start = "hours"
[flows.f.nodes]
bye = "hangup"
[flows.f.nodes.hours.hours]
calendar = "main"
open = "menu"
closed = "bye"
[flows.f.nodes.menu.menu]
prompt = { file = "menu.wav" }
options = { "1" = "q", "2" = "menu" }
timeout_ms = 5000
on_exhausted = "bye"
[flows.f.nodes.q.queue]
queue = 7
"#;

fn err(text: &str) -> IvrConfigError {
    match ValidIvrConfig::from_toml(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e,
    }
}

fn with(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "{from}");
    BASE.replace(from, to)
}

#[test]
fn the_base_and_the_example_load_and_survive_postcard() {
    let base = load(BASE);
    assert_eq!(base.config().flows.len(), 1);
    let example = example();
    let bytes = example.to_postcard().unwrap_or_default();
    let back = ValidIvrConfig::from_postcard(&bytes).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back, example);
}

#[test]
fn a_menu_may_loop_to_itself_through_a_digit() {
    // "2" = "menu" above is a cycle through caller input: allowed.
    assert!(ValidIvrConfig::from_toml(BASE).is_ok());
}

#[test]
fn unknown_next_node_names_flow_node_and_field() {
    let e = err(&with(r#""1" = "q""#, r#""1" = "nowhere""#));
    assert_eq!(
        e,
        IvrConfigError::UnknownNode {
            flow: "f".into(),
            node: "menu".into(),
            field: "options.1".into(),
            target: "nowhere".into()
        }
    );
    assert!(e.to_string().contains("nowhere"));
    let e = err(&with(r#"start = "hours""#, r#"start = "begin""#));
    assert!(matches!(e, IvrConfigError::UnknownNode { ref field, .. } if field == "start"));
}

#[test]
fn unreachable_nodes_are_refused() {
    let e = err(&format!(
        "{BASE}\n[flows.f.nodes.orphan.queue]\nqueue = 1\n"
    ));
    assert_eq!(
        e,
        IvrConfigError::Unreachable {
            flow: "f".into(),
            node: "orphan".into()
        }
    );
}

#[test]
fn loops_without_caller_input_are_refused() {
    // Exhaustion back to the hours check: silence would go round forever.
    let e = err(&with(
        r#"on_exhausted = "bye""#,
        r#"on_exhausted = "hours""#,
    ));
    assert!(
        matches!(e, IvrConfigError::LoopWithoutInput { ref flow, .. } if flow == "f"),
        "{e}"
    );
    // A play node pointing at itself.
    let e = err(&format!(
        "{}\n[flows.f.nodes.again.play]\nprompts = [{{ file = \"a.wav\" }}]\nnext = \"again\"\n",
        with(r#""1" = "q""#, r#""1" = "again""#).replace(
            r#"[flows.f.nodes.q.queue]
queue = 7"#,
            ""
        )
    ));
    assert_eq!(
        e,
        IvrConfigError::LoopWithoutInput {
            flow: "f".into(),
            node: "again".into()
        }
    );
}

#[test]
fn missing_calendar_bad_digits_and_zero_timeouts_are_refused() {
    assert_eq!(
        err(&with(r#"calendar = "main""#, r#"calendar = "other""#)),
        IvrConfigError::MissingCalendar {
            flow: "f".into(),
            node: "hours".into(),
            calendar: "other".into()
        }
    );
    assert!(
        matches!(err(&with(r#""2" = "menu""#, r#""12" = "menu""#)), IvrConfigError::BadDigit { ref key, .. } if key == "12")
    );
    assert!(matches!(
        err(&with(r#""2" = "menu""#, r#""a" = "menu""#)),
        IvrConfigError::BadDigit { .. }
    ));
    assert_eq!(
        err(&with("timeout_ms = 5000", "timeout_ms = 0")),
        IvrConfigError::ZeroTimeout {
            flow: "f".into(),
            node: "menu".into(),
            field: "timeout_ms".into()
        }
    );
    assert!(
        matches!(err(&with("[flows.f]\n", "[flows.f]\nmax_prompt_ms = 0\n")), IvrConfigError::ZeroTimeout { ref field, .. } if field == "max_prompt_ms")
    );
    assert!(
        matches!(err(&with(r#"{ file = "menu.wav" }"#, r#"{ file = "" }"#)), IvrConfigError::BadField { ref field, .. } if field == "prompt")
    );
    assert!(matches!(
        err(&with(
            r#"{ file = "menu.wav" }"#,
            "{ tone = { frequencies_hz = [9000], duration_ms = 10 } }"
        )),
        IvrConfigError::BadField { .. }
    ));
    assert!(matches!(
        err(&with(r#"{ file = "menu.wav" }"#, "{ tone = { frequencies_hz = [440], duration_ms = 0 } }")),
        IvrConfigError::ZeroTimeout { ref field, .. } if field == "prompt.duration_ms"
    ));
    assert!(
        matches!(err(&with(r#"options = { "1" = "q", "2" = "menu" }"#, "options = {}")), IvrConfigError::BadField { ref field, .. } if field == "options")
    );
}

#[test]
fn collect_lengths_and_callback_digit_are_checked() {
    let collect = |min: u8, max: u8| {
        with(r#""2" = "menu""#, r#""2" = "num""#)
            + &format!(
                "[flows.f.nodes.num.collect]\nprompt = {{ file = \"n.wav\" }}\nmin_len = {min}\nmax_len = {max}\n\
                 first_digit_timeout_ms = 1\ninter_digit_timeout_ms = 1\nvariable = \"v\"\nnext = \"q\"\non_exhausted = \"bye\"\n"
            )
    };
    assert!(ValidIvrConfig::from_toml(&collect(1, 32)).is_ok());
    assert!(
        matches!(err(&collect(5, 4)), IvrConfigError::BadField { ref field, .. } if field == "min_len")
    );
    assert!(
        matches!(err(&collect(0, 0)), IvrConfigError::BadField { ref field, .. } if field == "max_len")
    );
    assert!(
        matches!(err(&collect(1, 33)), IvrConfigError::BadField { ref field, .. } if field == "max_len")
    );
    let callback = with(r#""2" = "menu""#, r#""2" = "cb""#)
        + "[flows.f.nodes.cb.callback_offer]\nprompt = { file = \"c.wav\" }\nqueue = 1\naccept_digit = \"x\"\n\
           timeout_ms = 1000\naccepted = \"bye\"\ndeclined = \"q\"\n";
    assert!(
        matches!(err(&callback), IvrConfigError::BadDigit { ref field, .. } if field == "accept_digit")
    );
}

#[test]
fn calendar_mistakes_are_refused_with_the_calendar_named() {
    assert!(
        matches!(err(&with("utc_offset_minutes = 480", "utc_offset_minutes = 900")), IvrConfigError::BadCalendar { ref calendar, .. } if calendar == "main")
    );
    let e = err(&with(r#"["09:00-17:00"]"#, r#"["17:00-09:00"]"#));
    assert!(
        matches!(e, IvrConfigError::Toml(ref m) if m.contains("17:00-09:00")),
        "{e}"
    );
    let e = err(&with("weekly = ", "holidays = [\"2026-02-30\"]\nweekly = "));
    assert!(
        matches!(e, IvrConfigError::Toml(ref m) if m.contains("2026-02-30")),
        "{e}"
    );
    let e = err(&with(
        "weekly = ",
        "holidays = [\"2026-10-01\"]\nspecial_days = [{ date = \"2026-10-01\", hours = [\"09:00-12:00\"] }]\nweekly = ",
    ));
    assert!(
        matches!(e, IvrConfigError::BadCalendar { ref field, .. } if field == "special_days"),
        "{e}"
    );
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    assert!(matches!(err("flows = 3"), IvrConfigError::Toml(_)));
    assert!(matches!(
        err("[flows.f]\nstart = \"a\"\n[flows.f.nodes.a]\nteleport = {}\n"),
        IvrConfigError::Toml(_)
    ));
    assert!(matches!(
        ValidIvrConfig::from_postcard(&[0xff, 0xff, 0xff]),
        Err(IvrConfigError::Postcard(_))
    ));
    assert!(matches!(
        err("[flows.f]\nstart = \"a\"\nnodes = {}\n"),
        IvrConfigError::EmptyFlow { .. }
    ));
}
