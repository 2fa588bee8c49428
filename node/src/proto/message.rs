//! The control messages.
//!
//! Compatibility rule: variants of [`Message`] are only appended, never reordered or
//! removed, and the first two ([`Message::VersionUnsupported`], [`Message::Reject`])
//! never change shape, because a peer of any version must be able to decode them.

use super::MsgId;
use crate::inventory::Inventory;
use crate::names::{NodeId, Site};
use serde::{Deserialize, Serialize};

/// Number of [`Message`] variants this build knows; a kind at or above it comes
/// from a newer peer.
pub const KNOWN_KINDS: u32 = 17;

/// Every control message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Message {
    /// Answer to a frame whose protocol version we do not speak. Frozen.
    VersionUnsupported { min: u16, max: u16 },
    /// Typed refusal of one request; the session continues. Frozen.
    Reject {
        request: MsgId,
        reason: RejectReason,
    },
    /// Gateway → coordinator on a connection without a client certificate.
    EnrollRequest(EnrollRequest),
    /// Coordinator → gateway: the answer to [`Message::EnrollRequest`].
    EnrollResult(EnrollResult),
    /// Gateway → coordinator: first message of every authenticated session.
    Hello(Hello),
    /// Coordinator → gateway: the session is accepted.
    Welcome(Welcome),
    /// Either direction: liveness plus an RTT and clock-offset sample.
    Heartbeat(Heartbeat),
    /// Answer to [`Message::Heartbeat`].
    HeartbeatAck(HeartbeatAck),
    /// The sender is closing the session and says why.
    Goodbye(GoodbyeReason),
    /// Coordinator → node: media for `leg` now flows on this connection's
    /// datagrams; attach it to the local line or seat `endpoint`.
    LegOpen(LegOpen),
    /// Coordinator → node: the leg is torn down; stop sending on it.
    LegClose { leg: u32 },
    /// Gateway → coordinator: outbox records to store. Retried until
    /// acknowledged; the coordinator stores each `(node, seq)` once.
    Upload { records: Vec<UploadRecord> },
    /// Coordinator → gateway: these sequence numbers are stored durably and may
    /// leave the outbox.
    UploadAck { seqs: Vec<u64> },
    /// Coordinator → gateway: the deployment configuration, sent after `Welcome`
    /// and after every change.
    Config(crate::calls::ConfigPush),
    /// Gateway → coordinator: call and seat events, agent commands.
    CallUp(crate::calls::CallUp),
    /// Coordinator → gateway: call-control commands.
    CallDown(crate::calls::CallDown),
    /// Gateway → coordinator: jitter-buffer totals of every leg it received since
    /// it started, sent every few seconds while they change, so operators see
    /// media loss per node on the coordinator's `/metrics`. Soft state: the
    /// latest report replaces the previous one; nothing is acknowledged.
    MediaStats(crate::media::MediaTotals),
}

/// What an outbox record holds, so the coordinator can file it without decoding
/// the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RecordKind {
    /// A call detail record.
    Cdr,
    /// A queue or routing event.
    QueueEvent,
    /// An IVR node visit or outcome.
    IvrEvent,
    /// A recording's index entry (file name, call, duration).
    RecordingIndex,
}

/// One record from a gateway's outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRecord {
    /// Per-gateway sequence number: the record's identity for idempotent storage.
    pub seq: u64,
    pub kind: RecordKind,
    /// Gateway clock when the record was written, microseconds since the epoch.
    pub created_at_us: u64,
    /// The record itself (postcard of its type), opaque to transport and storage.
    pub body: Vec<u8>,
}

/// A media leg assigned to a node by call control.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegOpen {
    /// The id carried in every media datagram of the leg.
    pub leg: u32,
    /// The call the leg belongs to (for logs and records).
    pub call: String,
    /// The local line or seat id the leg attaches to ("fxo1", "headset").
    pub endpoint: String,
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum RejectReason {
    #[error("message kind {kind} is unknown to the receiver")]
    UnknownMessage { kind: u32 },
    #[error("message not allowed in this session state: {0}")]
    NotAllowed(String),
}

/// Capabilities are strings so a newer gateway can announce one an older coordinator
/// does not know without breaking the hello.
pub type Capability = String;

/// Well-known capability names.
pub mod capability {
    /// The node sends and receives media as QUIC datagrams.
    pub const MEDIA_DATAGRAMS: &str = "media-datagrams";
    /// The node can anchor calls on PSTN lines.
    pub const LINES: &str = "lines";
    /// The node has agent seats.
    pub const SEATS: &str = "seats";
}

/// Enrollment request: the one-time token plus a certificate signing request whose
/// private key never leaves the gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollRequest {
    pub token: String,
    pub csr_der: Vec<u8>,
    pub software_version: String,
}

/// Outcome of an enrollment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EnrollResult {
    Enrolled {
        node_id: NodeId,
        site: Site,
        cert_der: Vec<u8>,
        ca_der: Vec<u8>,
    },
    Refused(EnrollRefusal),
}

/// Why an enrollment was refused, worded for the field tech who typed the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum EnrollRefusal {
    #[error("the token is not a Tandem enrollment token (check it was copied whole)")]
    Malformed,
    #[error(
        "the token is not known to this coordinator (forged, or created by another coordinator)"
    )]
    Unknown,
    #[error("the token expired at {expired_at} (unix seconds); ask for a new one")]
    Expired { expired_at: u64 },
    #[error("the token was already used to enroll node {node_id}; tokens work once")]
    AlreadyUsed { node_id: NodeId },
    #[error("the certificate request is invalid: {0}")]
    BadRequest(String),
    #[error("the coordinator could not complete the enrollment: {0}")]
    Internal(String),
}

/// First message of an authenticated session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    pub node_id: NodeId,
    pub site: Site,
    pub software_version: String,
    pub capabilities: Vec<Capability>,
    pub inventory: Inventory,
}

/// Session accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    pub coordinator_version: String,
    /// How often the gateway should send heartbeats.
    pub heartbeat_interval_ms: u32,
    /// Coordinator wall clock at send time, microseconds since the Unix epoch.
    pub server_time_us: u64,
}

/// A heartbeat; `sent_us` is the sender's wall clock in microseconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    pub seq: u64,
    pub sent_us: u64,
}

impl Heartbeat {
    /// The answer to this heartbeat, stamped with our clock now.
    pub fn ack(&self, now_us: u64) -> HeartbeatAck {
        HeartbeatAck {
            seq: self.seq,
            request_sent_us: self.sent_us,
            received_us: now_us,
            sent_us: now_us,
        }
    }
}

/// NTP-style answer: echoes the request's send time and adds the responder's receive
/// and send times, so the requester can split round trip from clock offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatAck {
    pub seq: u64,
    pub request_sent_us: u64,
    pub received_us: u64,
    pub sent_us: u64,
}

/// Why a session ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum GoodbyeReason {
    #[error("this node was revoked by an administrator")]
    Revoked,
    #[error("the coordinator is shutting down")]
    ShuttingDown,
    #[error("a newer session of the same node replaced this one")]
    Replaced,
    #[error("protocol violation: {0}")]
    ProtocolViolation(String),
    #[error("the node is stopping")]
    NodeStopping,
}

/// Short name of a message for logs and errors.
pub fn kind_name(message: &Message) -> &'static str {
    match message {
        Message::VersionUnsupported { .. } => "VersionUnsupported",
        Message::Reject { .. } => "Reject",
        Message::EnrollRequest(_) => "EnrollRequest",
        Message::EnrollResult(_) => "EnrollResult",
        Message::Hello(_) => "Hello",
        Message::Welcome(_) => "Welcome",
        Message::Heartbeat(_) => "Heartbeat",
        Message::HeartbeatAck(_) => "HeartbeatAck",
        Message::Goodbye(_) => "Goodbye",
        Message::LegOpen(_) => "LegOpen",
        Message::LegClose { .. } => "LegClose",
        Message::Upload { .. } => "Upload",
        Message::UploadAck { .. } => "UploadAck",
        Message::Config(_) => "Config",
        Message::CallUp(_) => "CallUp",
        Message::CallDown(_) => "CallDown",
        Message::MediaStats(_) => "MediaStats",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{LineInfo, LineKind, SeatInfo};
    use crate::proto::{
        FrameDecoder, PROTOCOL_VERSION, ProtoError, decode_envelope, encode_envelope, encode_frame,
    };
    use proptest::prelude::*;

    fn name() -> impl Strategy<Value = String> {
        "[a-z0-9]{1,10}(-[a-z0-9]{1,10})?"
    }

    fn inventory() -> impl Strategy<Value = Inventory> {
        let line = (
            name(),
            prop_oneof![
                Just(LineKind::Fxo),
                Just(LineKind::Fxs),
                (1u8..=31).prop_map(|timeslots| LineKind::E1 { timeslots }),
            ],
        )
            .prop_map(|(id, kind)| LineInfo { id, kind });
        let seat = (name(), prop_oneof![Just(8000u32), Just(16000u32)])
            .prop_map(|(id, sample_rate)| SeatInfo { id, sample_rate });
        (
            name(),
            name(),
            prop::collection::vec(line, 0..40),
            prop::collection::vec(seat, 0..8),
        )
            .prop_map(|(board, arch, lines, seats)| Inventory {
                board,
                arch,
                lines,
                seats,
            })
    }

    fn media_totals() -> impl Strategy<Value = crate::media::MediaTotals> {
        prop::array::uniform9(any::<u64>()).prop_map(|c| crate::media::MediaTotals {
            received: c[0],
            expected: c[1],
            lost: c[2],
            late: c[3],
            duplicates: c[4],
            fec_recovered: c[5],
            concealed: c[6],
            dropped: c[7],
            legs_ended: c[8],
        })
    }

    fn message() -> impl Strategy<Value = Message> {
        prop_oneof![
            (any::<u16>(), any::<u16>())
                .prop_map(|(min, max)| Message::VersionUnsupported { min, max }),
            (any::<u64>(), any::<u32>()).prop_map(|(request, kind)| Message::Reject {
                request,
                reason: RejectReason::UnknownMessage { kind }
            }),
            (
                ".{0,80}",
                prop::collection::vec(any::<u8>(), 0..300),
                ".{0,20}"
            )
                .prop_map(|(token, csr_der, software_version)| Message::EnrollRequest(
                    EnrollRequest {
                        token,
                        csr_der,
                        software_version
                    }
                )),
            (name(), name(), prop::collection::vec(any::<u8>(), 0..300)).prop_map(|(n, s, der)| {
                Message::EnrollResult(EnrollResult::Enrolled {
                    node_id: NodeId::new(n).unwrap(),
                    site: Site::new(s).unwrap(),
                    cert_der: der.clone(),
                    ca_der: der,
                })
            }),
            any::<u64>().prop_map(|expired_at| Message::EnrollResult(EnrollResult::Refused(
                EnrollRefusal::Expired { expired_at }
            ))),
            (
                name(),
                name(),
                ".{0,20}",
                prop::collection::vec(name(), 0..4),
                inventory()
            )
                .prop_map(|(n, s, software_version, capabilities, inventory)| {
                    Message::Hello(Hello {
                        node_id: NodeId::new(n).unwrap(),
                        site: Site::new(s).unwrap(),
                        software_version,
                        capabilities,
                        inventory,
                    })
                }),
            (".{0,20}", any::<u32>(), any::<u64>()).prop_map(|(v, hb, t)| Message::Welcome(
                Welcome {
                    coordinator_version: v,
                    heartbeat_interval_ms: hb,
                    server_time_us: t
                }
            )),
            (any::<u64>(), any::<u64>())
                .prop_map(|(seq, sent_us)| Message::Heartbeat(Heartbeat { seq, sent_us })),
            (any::<u64>(), any::<u64>(), any::<u64>(), any::<u64>()).prop_map(|(seq, a, b, c)| {
                Message::HeartbeatAck(HeartbeatAck {
                    seq,
                    request_sent_us: a,
                    received_us: b,
                    sent_us: c,
                })
            }),
            Just(Message::Goodbye(GoodbyeReason::Revoked)),
            Just(Message::Goodbye(GoodbyeReason::NodeStopping)),
            (any::<u32>(), ".{0,20}", ".{0,20}").prop_map(
                |(leg, call, endpoint)| Message::LegOpen(LegOpen {
                    leg,
                    call,
                    endpoint
                })
            ),
            any::<u32>().prop_map(|leg| Message::LegClose { leg }),
            prop::collection::vec(
                (
                    any::<u64>(),
                    any::<u64>(),
                    prop::collection::vec(any::<u8>(), 0..64)
                ),
                0..8
            )
            .prop_map(|v| Message::Upload {
                records: v
                    .into_iter()
                    .map(|(seq, created_at_us, body)| UploadRecord {
                        seq,
                        kind: RecordKind::Cdr,
                        created_at_us,
                        body
                    })
                    .collect()
            }),
            prop::collection::vec(any::<u64>(), 0..16).prop_map(|seqs| Message::UploadAck { seqs }),
            media_totals().prop_map(Message::MediaStats),
        ]
    }

    proptest! {
        #[test]
        fn envelope_round_trip(id in any::<u64>(), msg in message()) {
            let payload = encode_envelope(id, &msg).unwrap();
            let frame = encode_frame(&payload).unwrap();
            let mut d = FrameDecoder::new();
            d.extend(&frame);
            let back = decode_envelope(&d.next_frame().unwrap().unwrap()).unwrap();
            prop_assert_eq!(back.id, id);
            prop_assert_eq!(back.version, PROTOCOL_VERSION);
            prop_assert_eq!(back.message, msg);
        }

        #[test]
        fn garbage_payloads_give_typed_errors(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            // Any outcome is fine as long as it is a value, not a panic.
            let _ = decode_envelope(&bytes);
        }
    }

    #[test]
    fn the_last_variant_has_the_last_known_kind() {
        let last = Message::MediaStats(crate::media::MediaTotals::default());
        let bytes = postcard::to_stdvec(&last).unwrap();
        assert_eq!(u32::from(bytes[0]), KNOWN_KINDS - 1);
    }

    #[test]
    fn a_media_report_round_trips_and_keeps_its_kind() {
        let report = Message::MediaStats(crate::media::MediaTotals {
            received: 1_480,
            expected: 1_500,
            lost: 17,
            late: 3,
            duplicates: 1,
            fec_recovered: 9,
            concealed: 8,
            dropped: 2,
            legs_ended: 4,
        });
        let payload = encode_envelope(9, &report).unwrap();
        let back = decode_envelope(&payload).unwrap();
        assert_eq!((back.id, back.message), (9, report));
        // Kind 16, right after CallDown: an older peer answers UnknownKind.
        assert_eq!(payload[2..4], [9, 16]);
    }

    #[test]
    fn other_versions_get_a_typed_answer() {
        for peer in [0u16, PROTOCOL_VERSION + 1, u16::MAX] {
            let mut payload =
                encode_envelope(7, &Message::Goodbye(GoodbyeReason::Revoked)).unwrap();
            payload[..2].copy_from_slice(&peer.to_be_bytes());
            assert!(matches!(
                decode_envelope(&payload),
                Err(ProtoError::UnsupportedVersion { peer: p, .. }) if p == peer
            ));
        }
    }

    #[test]
    fn newer_message_kinds_are_unknown_not_malformed() {
        let mut payload = PROTOCOL_VERSION.to_be_bytes().to_vec();
        payload.extend(postcard::to_stdvec(&(42u64, KNOWN_KINDS + 3, "future body")).unwrap());
        let err = decode_envelope(&payload).unwrap_err();
        assert_eq!(
            err,
            ProtoError::UnknownKind {
                id: 42,
                kind: KNOWN_KINDS + 3
            }
        );
        assert!(err.is_recoverable());
        let mut bad = PROTOCOL_VERSION.to_be_bytes().to_vec();
        bad.extend(postcard::to_stdvec(&(42u64, 4u32)).unwrap());
        assert!(matches!(
            decode_envelope(&bad),
            Err(ProtoError::Malformed(_))
        ));
    }
}
