//! The documented maximum of every user-controlled value that can reach a control
//! frame, in one place, and the checks that enforce them where values enter (the
//! coordinator's HTTP API and admin socket, configuration files, pushed or cached
//! configurations).
//!
//! Why: a control frame is at most [`MAX_FRAME`] bytes and the receiver drops a
//! peer that sends more. A value with no bound (a 300,000-digit dial number, a
//! blacklist of 20,001 entries) used to reach the encoder and cut a gateway off,
//! again at every reconnect. With these bounds the largest valid value of every
//! message fits a frame (the tests build each one), so refusing at the edge, with
//! an error naming the field, is the only place a too-long value is noticed.

use crate::calls::{AgentCommand, CenterConfig};
use crate::proto::MAX_FRAME;

/// Longest phone number: dialled numbers, caller numbers shown or sent, number
/// patterns. E.164 numbers have at most 15 digits; the rest leaves room for
/// national prefixes, `+`, `*`, `#` and extensions.
pub const MAX_NUMBER: usize = 32;
/// Longest short code an agent types: a not-ready reason, a disposition code.
pub const MAX_CODE: usize = 64;
/// Longest free-text wrap-up note.
pub const MAX_NOTE: usize = 2_000;
/// Longest text anywhere in a center configuration: names, IVR node and variable
/// names, line ids, prompt file names, map keys.
pub const MAX_CONFIG_TEXT: usize = 128;
/// Most entries of any list or map in a center configuration (agents, groups,
/// members, queues, blacklist, VIPs, sites, seats, flows, calendars…).
pub const MAX_CONFIG_LIST: usize = 2_000;
/// Most nodes in one IVR flow. A call's IVR variables (one per collect node, each
/// at most 255 digits) travel in one frame with the call, so flows stay smaller
/// than other lists.
pub const MAX_IVR_NODES: usize = 200;
/// Longest refusal text sent to an agent's seat (`AgentUpdate.refused`); a
/// longer one is cut ([`clip`]), as it is built from other values.
pub const MAX_REFUSAL: usize = 512;
/// Most entries of a CDR's timeline, and of its IVR path: a call that loops in
/// its IVR or is offered for hours keeps its first ones, so one CDR always fits
/// one upload frame.
pub const MAX_CDR_EVENTS: usize = 512;
/// Most records in one upload from a gateway's outbox.
pub const MAX_UPLOAD_BATCH: usize = 256;
/// Most record body bytes in one upload (a single larger record travels alone).
pub const MAX_UPLOAD_BATCH_BYTES: usize = 128 * 1024;
/// Bytes a control frame keeps for the envelope and the message around the
/// largest field it carries (a configuration's body, an upload's records).
pub const FRAME_HEADROOM: usize = 1024;
/// Largest encoded center configuration (postcard): one configuration push is one
/// frame, so a larger one is refused when it is saved, never cut into pieces.
pub const MAX_CONFIG_BYTES: usize = MAX_FRAME - FRAME_HEADROOM;

/// A value over its documented maximum; `field` is the path an editor or API
/// client shows next to the input (`Dial.number`, `routing.blacklist`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct LimitError {
    /// Path of the offending field.
    pub field: String,
    /// What is wrong, with the limit.
    pub problem: String,
}

/// Checks that `value` is at most `max` bytes long.
pub fn check_text(field: &str, value: &str, max: usize) -> Result<(), LimitError> {
    if value.len() > max {
        return Err(LimitError {
            field: field.to_owned(),
            problem: format!("{} bytes long, at most {max} allowed", value.len()),
        });
    }
    Ok(())
}

/// `text` cut to at most `max` bytes at a character boundary, ending in `…`
/// when cut: for texts this node builds from values it does not control.
pub fn clip(mut text: String, max: usize) -> String {
    const MORE: &str = "…";
    if text.len() <= max {
        return text;
    }
    let mut end = max.saturating_sub(MORE.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push_str(MORE);
    text
}

/// A caller number as a line delivered it, or `None` (withheld) when it is
/// longer than [`MAX_NUMBER`]: no real number is, and it travels with the call.
pub fn caller_number(number: String) -> Option<String> {
    if number.len() > MAX_NUMBER {
        tracing::warn!(
            len = number.len(),
            "caller number over {MAX_NUMBER} bytes treated as withheld"
        );
        return None;
    }
    Some(number)
}

/// Checks the free-text fields of an agent's command: from the web desktop (the
/// HTTP API answers 422 naming the field) or from a seat (call control refuses it).
pub fn check_agent_command(command: &AgentCommand) -> Result<(), LimitError> {
    match command {
        AgentCommand::NotReady { reason } => check_text("NotReady.reason", reason, MAX_CODE),
        AgentCommand::WrapUp { disposition, note } => {
            check_text("WrapUp.disposition", disposition, MAX_CODE)?;
            check_text("WrapUp.note", note, MAX_NOTE)
        }
        AgentCommand::Dial { number, .. } => check_text("Dial.number", number, MAX_NUMBER),
        _ => Ok(()),
    }
}

/// Checks every text, list and map of a center configuration against the limits
/// above, then its encoded size against [`MAX_CONFIG_BYTES`]. The walk is generic
/// (over the configuration's serde form), so a field added later is bounded too.
pub fn check_config(config: &CenterConfig) -> Result<(), LimitError> {
    let tree = serde_json::to_value(config).map_err(|e| LimitError {
        field: "body".to_owned(),
        problem: e.to_string(),
    })?;
    walk(&mut String::new(), &tree)?;
    let size = encoded_len(config);
    if size > MAX_CONFIG_BYTES {
        let (part, part_size) = largest_part(config);
        return Err(LimitError {
            field: part.to_owned(),
            problem: format!(
                "the configuration encodes to {size} bytes, at most {MAX_CONFIG_BYTES} allowed \
                 (one push is one control frame); its largest part is {part} ({part_size} bytes)"
            ),
        });
    }
    Ok(())
}

/// The most entries the list or map at `path` may hold.
fn list_limit(path: &str) -> usize {
    let is_flow_nodes = path
        .strip_prefix("ivr.flows.")
        .is_some_and(|rest| rest.ends_with(".nodes") && rest.matches('.').count() == 1);
    if is_flow_nodes {
        MAX_IVR_NODES
    } else {
        MAX_CONFIG_LIST
    }
}

fn too_many(path: &str, len: usize) -> Result<(), LimitError> {
    let max = list_limit(path);
    if len > max {
        return Err(LimitError {
            field: path.to_owned(),
            problem: format!("{len} entries, at most {max} allowed"),
        });
    }
    Ok(())
}

fn walk(path: &mut String, value: &serde_json::Value) -> Result<(), LimitError> {
    use serde_json::Value;
    match value {
        Value::String(text) => check_text(path, text, MAX_CONFIG_TEXT),
        Value::Array(items) => {
            too_many(path, items.len())?;
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                walk(path, item)?;
                path.truncate(len);
            }
            Ok(())
        }
        Value::Object(map) => {
            too_many(path, map.len())?;
            for (key, item) in map {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                check_text(path, key, MAX_CONFIG_TEXT)?;
                walk(path, item)?;
                path.truncate(len);
            }
            Ok(())
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
    }
}

fn encoded_len<T: serde::Serialize + ?Sized>(value: &T) -> usize {
    // Serializing a configuration into memory cannot fail (no I/O, no maps with
    // non-string keys in postcard); a failure counts as too large.
    postcard::experimental::serialized_size(value).unwrap_or(usize::MAX)
}

/// The top-level part of `config` that takes the most bytes, to name in the error.
fn largest_part(config: &CenterConfig) -> (&'static str, usize) {
    let r = &config.routing;
    [
        ("routing.queues", encoded_len(&r.queues)),
        ("routing.groups", encoded_len(&r.groups)),
        ("routing.agents", encoded_len(&r.agents)),
        ("routing.blacklist", encoded_len(&r.blacklist)),
        ("routing.vips", encoded_len(&r.vips)),
        ("ivr.flows", encoded_len(&config.ivr.flows)),
        ("ivr.calendars", encoded_len(&config.ivr.calendars)),
        ("sites", encoded_len(&config.sites)),
        ("seats", encoded_len(&config.seats)),
        ("supervisors", encoded_len(&config.supervisors)),
    ]
    .into_iter()
    .max_by_key(|(_, size)| *size)
    .unwrap_or(("body", 0))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::calls::{
        AgentUpdate, AgentView, CallDown, CallUp, ConfigPush, TransferTarget, ValidCenterConfig,
    };
    use crate::ivr::MAX_EVENTS;
    use crate::names::Site;
    use crate::proto::{
        FrameDecoder, LegOpen, Message, RecordKind, UploadRecord, decode_envelope, encode_envelope,
        encode_frame,
    };
    use crate::routing::{AgentId, BlacklistAction, BlacklistRule, CallId, NumberPattern, QueueId};
    use proptest::prelude::*;

    const DEMO: &str = include_str!("../../center-configs/demo.toml");

    /// Encodes `message` with the largest id into a frame, checks the frame fits
    /// and decodes back to the same message; returns the frame's length.
    fn fits(message: Message) -> usize {
        let payload = encode_envelope(u64::MAX, &message).unwrap();
        let frame = encode_frame(&payload)
            .unwrap_or_else(|e| panic!("{} does not fit: {e}", payload.len()));
        assert!(frame.len() <= MAX_FRAME + crate::proto::frame::HEADER_LEN);
        let mut decoder = FrameDecoder::new();
        decoder.extend(&frame);
        let back = decode_envelope(&decoder.next_frame().unwrap().unwrap()).unwrap();
        assert_eq!(back.message, message);
        frame.len()
    }

    fn text(len: usize) -> String {
        // Three-byte characters where the limit allows, so the byte length, not
        // the character count, is what is bounded.
        let mut s = "中".repeat(len / 3);
        s.push_str(&"x".repeat(len % 3));
        assert_eq!(s.len(), len);
        s
    }

    fn number() -> String {
        "9".repeat(MAX_NUMBER)
    }

    fn site() -> Site {
        Site::new("s".repeat(48)).unwrap()
    }

    fn longest_commands() -> Vec<AgentCommand> {
        let commands = vec![
            AgentCommand::NotReady {
                reason: text(MAX_CODE),
            },
            AgentCommand::WrapUp {
                disposition: text(MAX_CODE),
                note: text(MAX_NOTE),
            },
            AgentCommand::Dial {
                site: site(),
                number: number(),
            },
            AgentCommand::Transfer {
                to: TransferTarget::Queue(QueueId(u32::MAX)),
                consult: true,
            },
        ];
        for c in &commands {
            check_agent_command(c).unwrap();
        }
        commands
    }

    #[test]
    fn the_longest_agent_commands_fit_one_frame_both_ways() {
        for command in longest_commands() {
            fits(Message::CallUp(CallUp::Agent {
                agent: AgentId(u32::MAX),
                command,
            }));
        }
        fits(Message::CallDown(CallDown::Dial {
            call: CallId(u64::MAX),
            line: Some(text(MAX_CONFIG_TEXT)),
            number: number(),
            agent: AgentId(u32::MAX),
        }));
    }

    #[test]
    fn clipped_texts_stay_within_their_limit_on_a_character_boundary() {
        assert_eq!(clip("short".into(), MAX_REFUSAL), "short");
        for len in [MAX_REFUSAL, MAX_REFUSAL + 1, 10 * MAX_REFUSAL] {
            let cut = clip(text(len), MAX_REFUSAL);
            assert!(cut.len() <= MAX_REFUSAL, "{len}: {}", cut.len());
            assert!(len == MAX_REFUSAL || cut.ends_with('…'));
        }
        assert_eq!(
            caller_number("9".repeat(MAX_NUMBER)),
            Some("9".repeat(MAX_NUMBER))
        );
        assert_eq!(caller_number("9".repeat(MAX_NUMBER + 1)), None);
    }

    #[test]
    fn one_byte_more_is_refused_naming_the_field() {
        let too_long = [
            (
                AgentCommand::Dial {
                    site: site(),
                    number: "9".repeat(300_000),
                },
                "Dial.number",
            ),
            (
                AgentCommand::NotReady {
                    reason: "x".repeat(MAX_CODE + 1),
                },
                "NotReady.reason",
            ),
            (
                AgentCommand::WrapUp {
                    disposition: "ok".into(),
                    note: "x".repeat(MAX_NOTE + 1),
                },
                "WrapUp.note",
            ),
            (
                AgentCommand::WrapUp {
                    disposition: "x".repeat(MAX_CODE + 1),
                    note: String::new(),
                },
                "WrapUp.disposition",
            ),
        ];
        for (command, field) in too_long {
            assert_eq!(check_agent_command(&command).unwrap_err().field, field);
        }
    }

    #[test]
    fn seat_and_call_messages_at_their_maxima_fit() {
        // A call leaving the IVR: the longest path the session keeps, one
        // variable per node of the largest flow, each at its longest.
        let vars: BTreeMap<String, String> = (0..MAX_IVR_NODES)
            .map(|i| {
                let key = format!("{i:04}{}", "v".repeat(MAX_CONFIG_TEXT - 4));
                (key, "7".repeat(usize::from(u8::MAX)))
            })
            .collect();
        let size = fits(Message::CallUp(CallUp::Arrived {
            call: CallId(u64::MAX),
            line: text(MAX_CONFIG_TEXT),
            caller: Some(number()),
            queue: QueueId(u32::MAX),
            priority: 9,
            vars: vars.clone(),
            ivr_path: vec![text(MAX_CONFIG_TEXT); MAX_EVENTS],
        }));
        assert!(size > 200_000, "the test builds a large value: {size}");
        fits(Message::CallUp(CallUp::CallbackRequested {
            call: CallId(u64::MAX),
            caller: Some(number()),
            queue: QueueId(u32::MAX),
            vars,
        }));
        fits(Message::CallDown(CallDown::Ring {
            call: CallId(u64::MAX),
            agent: AgentId(u32::MAX),
            endpoint: text(MAX_CONFIG_TEXT),
            caller: Some(number()),
        }));
        fits(Message::CallDown(CallDown::AgentUpdate(AgentUpdate {
            agent: AgentId(u32::MAX),
            view: AgentView {
                caller: Some(number()),
                ..AgentView::default()
            },
            refused: Some(clip("refusé ".repeat(MAX_REFUSAL), MAX_REFUSAL)),
        })));
        fits(Message::LegOpen(LegOpen {
            leg: u32::MAX,
            call: CallId(u64::MAX).to_string(),
            endpoint: text(MAX_CONFIG_TEXT),
        }));
    }

    #[test]
    fn the_largest_upload_batch_and_its_ack_fit() {
        let per_record = MAX_UPLOAD_BATCH_BYTES / MAX_UPLOAD_BATCH;
        let records: Vec<_> = (0..MAX_UPLOAD_BATCH as u64)
            .map(|seq| UploadRecord {
                seq: u64::MAX - seq,
                kind: RecordKind::RecordingIndex,
                created_at_us: u64::MAX,
                body: vec![0xff; per_record],
            })
            .collect();
        fits(Message::Upload { records });
        fits(Message::UploadAck {
            seqs: vec![u64::MAX; MAX_UPLOAD_BATCH],
        });
    }

    #[test]
    fn the_largest_cdr_fits_one_upload_alone() {
        use crate::calls::{Cdr, CdrEvent, CdrEventKind, EndCause, Hangup};
        let cdr = Cdr {
            call: CallId(u64::MAX),
            site: site(),
            line: text(MAX_CONFIG_TEXT),
            outbound: true,
            number: Some(number()),
            started_us: u64::MAX,
            answered_us: Some(u64::MAX),
            ended_us: u64::MAX,
            hangup: Hangup::Agent(AgentId(u32::MAX)),
            cause: EndCause::LineFault(text(MAX_REFUSAL)),
            ivr_path: vec![text(MAX_CONFIG_TEXT); MAX_CDR_EVENTS],
            queue: Some(QueueId(u32::MAX)),
            agents: (0..MAX_CONFIG_LIST as u32)
                .map(|a| AgentId(u32::MAX - a))
                .collect(),
            recording: Some(text(MAX_CONFIG_TEXT)),
            events: vec![
                CdrEvent {
                    at_us: u64::MAX,
                    kind: CdrEventKind::Ivr {
                        node: text(MAX_CONFIG_TEXT),
                    },
                };
                MAX_CDR_EVENTS
            ],
        };
        let body = cdr.to_record();
        assert!(body.len() > MAX_UPLOAD_BATCH_BYTES / 2, "{}", body.len());
        fits(Message::Upload {
            records: vec![UploadRecord {
                seq: u64::MAX,
                kind: RecordKind::Cdr,
                created_at_us: u64::MAX,
                body,
            }],
        });
    }

    #[test]
    fn the_largest_configuration_push_fits() {
        fits(Message::Config(ConfigPush {
            version: u64::MAX,
            body: vec![0xff; MAX_CONFIG_BYTES],
        }));
    }

    fn demo() -> CenterConfig {
        ValidCenterConfig::from_toml(DEMO).unwrap().config().clone()
    }

    fn blacklist(n: usize) -> Vec<BlacklistRule> {
        (0..n)
            .map(|i| BlacklistRule {
                pattern: NumberPattern::Exact(format!("+{:024}", i)),
                action: BlacklistAction::Reject,
            })
            .collect()
    }

    #[test]
    fn a_blacklist_at_its_limit_is_valid_and_pushes_and_one_more_is_refused() {
        let mut config = demo();
        config.routing.blacklist = blacklist(MAX_CONFIG_LIST);
        let valid = ValidCenterConfig::validate(config.clone()).unwrap();
        let body = valid.to_postcard().unwrap();
        assert!(body.len() <= MAX_CONFIG_BYTES);
        fits(Message::Config(ConfigPush { version: 7, body }));

        config.routing.blacklist = blacklist(20_001);
        let err = ValidCenterConfig::validate(config).unwrap_err();
        assert_eq!(err.field(), "routing.blacklist", "{err}");
        assert!(err.to_string().contains("at most 2000"), "{err}");
    }

    #[test]
    fn long_texts_anywhere_in_a_configuration_are_named() {
        let mut config = demo();
        config.routing.queues[0].name = "q".repeat(MAX_CONFIG_TEXT + 1);
        let err = ValidCenterConfig::validate(config).unwrap_err();
        assert_eq!(err.field(), "routing.queues[0].name", "{err}");

        let mut config = demo();
        let flow = config.ivr.flows.values_mut().next().unwrap();
        let node = flow.nodes.values().next().unwrap().clone();
        for i in 0..=MAX_IVR_NODES {
            flow.nodes.insert(format!("extra{i}"), node.clone());
        }
        let err = ValidCenterConfig::validate(config).unwrap_err();
        assert!(err.field().starts_with("ivr.flows."), "{err}");
        assert!(err.field().ends_with(".nodes"), "{err}");
    }

    #[test]
    fn a_configuration_over_one_frame_is_refused_naming_its_largest_part() {
        // Every list and text within its own limit, the whole too large.
        let mut config = demo();
        let template = config.routing.agents[0].clone();
        let first = config.routing.agents.iter().map(|a| a.id.0).max().unwrap() + 1;
        for i in 0..(MAX_CONFIG_LIST as u32 - config.routing.agents.len() as u32) {
            let mut a = template.clone();
            a.id = AgentId(first + i);
            a.name = text(MAX_CONFIG_TEXT);
            config.routing.agents.push(a);
        }
        config.routing.blacklist = blacklist(MAX_CONFIG_LIST);
        let err = ValidCenterConfig::validate(config).unwrap_err();
        assert_eq!(err.field(), "routing.agents", "{err}");
        assert!(err.to_string().contains("one control frame"), "{err}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn any_command_within_its_limits_fits(
            reason in ".{0,16}",
            note in ".{0,500}",
            digits in "[0-9+*#]{1,32}",
        ) {
            let commands = [
                AgentCommand::NotReady { reason },
                AgentCommand::WrapUp { disposition: "ok".into(), note },
                AgentCommand::Dial { site: site(), number: digits },
            ];
            for command in commands {
                prop_assert!(check_agent_command(&command).is_ok());
                fits(Message::CallUp(CallUp::Agent { agent: AgentId(1), command }));
            }
        }
    }
}
