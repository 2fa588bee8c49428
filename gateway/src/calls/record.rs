//! The call detail record as it grows during a call: every fact goes into the
//! timeline and the summary fields (answer time, agents, first queue, IVR path)
//! follow from the facts, so a CDR can never contradict its own events.

use tandem_node::calls::{Cdr, CdrEvent, CdrEventKind, EndCause, Hangup};
use tandem_node::limits::MAX_CDR_EVENTS;
use tandem_node::names::Site;
use tandem_node::routing::CallId;

/// A CDR being written.
#[derive(Debug, Clone)]
pub struct CdrBuilder {
    cdr: Cdr,
}

impl CdrBuilder {
    /// An inbound call that started ringing at `started_us`.
    pub fn inbound(call: CallId, site: Site, line: &str, started_us: u64) -> Self {
        CdrBuilder {
            cdr: Cdr {
                call,
                site,
                line: line.to_owned(),
                outbound: false,
                number: None,
                started_us,
                answered_us: None,
                ended_us: started_us,
                hangup: Hangup::System,
                cause: EndCause::Completed,
                ivr_path: Vec::new(),
                queue: None,
                agents: Vec::new(),
                recording: None,
                events: Vec::new(),
            },
        }
    }

    /// Marks the call outbound, to `number`.
    pub fn set_outbound(&mut self, number: String) {
        self.cdr.outbound = true;
        self.cdr.number = Some(number);
    }

    /// The caller's number, once caller ID decoded.
    pub fn set_number(&mut self, number: String) {
        self.cdr.number = Some(number);
    }

    /// The call's id.
    pub fn call(&self) -> CallId {
        self.cdr.call
    }

    /// Whether an agent has answered.
    pub fn answered(&self) -> bool {
        self.cdr.answered_us.is_some()
    }

    /// The first queue the call entered.
    pub fn queue(&self) -> Option<tandem_node::routing::QueueId> {
        self.cdr.queue
    }

    /// Adds a fact at `at_us`; summary fields follow. The timeline and the IVR
    /// path keep their first [`MAX_CDR_EVENTS`] entries (summary fields follow
    /// every fact), so a CDR always fits one upload frame.
    pub fn event(&mut self, at_us: u64, kind: CdrEventKind) {
        match &kind {
            CdrEventKind::Ivr { node } if self.cdr.ivr_path.len() < MAX_CDR_EVENTS => {
                self.cdr.ivr_path.push(node.clone())
            }
            CdrEventKind::Queued { queue, .. } => {
                self.cdr.queue.get_or_insert(*queue);
            }
            CdrEventKind::Answered { agent } => {
                // The coordinator may report the answer it decided and the join
                // it ordered; one fact per answer is enough.
                if self.cdr.agents.last() == Some(agent)
                    && matches!(
                        self.cdr.events.last(),
                        Some(CdrEvent {
                            kind: CdrEventKind::Answered { .. },
                            ..
                        })
                    )
                {
                    return;
                }
                self.cdr.answered_us.get_or_insert(at_us);
                if !self.cdr.agents.contains(agent) {
                    self.cdr.agents.push(*agent);
                }
            }
            CdrEventKind::RecordingStarted { file } => {
                self.cdr.recording.get_or_insert_with(|| file.clone());
            }
            _ => {}
        }
        if self.cdr.events.len() < MAX_CDR_EVENTS {
            self.cdr.events.push(CdrEvent { at_us, kind });
        }
    }

    /// The record so far (kept durably while the call is up, so a crash-cut
    /// call still gets its CDR: see [`close_cut`]).
    pub fn snapshot(&self) -> Cdr {
        self.cdr.clone()
    }

    /// Closes the record.
    pub fn finish(mut self, ended_us: u64, hangup: Hangup, cause: EndCause) -> Cdr {
        self.cdr.ended_us = ended_us.max(self.cdr.started_us);
        self.cdr.hangup = hangup;
        self.cdr.cause = cause;
        self.cdr
    }
}

/// The CDR of a call the gateway was carrying when it stopped (crash, power
/// loss), from the record kept when the call started: it ends at its last
/// recorded fact, by the system, with [`EndCause::GatewayRestart`]. `None` for
/// a body this build cannot read.
pub fn close_cut(body: &[u8]) -> Option<Cdr> {
    let mut cdr = Cdr::from_record(body).ok()?;
    let last_fact = cdr.events.iter().map(|e| e.at_us).max().unwrap_or(0);
    cdr.ended_us = last_fact
        .max(cdr.started_us)
        .max(cdr.answered_us.unwrap_or(0));
    cdr.hangup = Hangup::System;
    cdr.cause = EndCause::GatewayRestart;
    Some(cdr)
}

/// The outbox body of a CDR (see [`Cdr::to_record`]).
pub fn encode_cdr(cdr: &Cdr) -> Vec<u8> {
    cdr.to_record()
}

/// Reads an outbox CDR body back (tests, tools).
pub fn decode_cdr(body: &[u8]) -> Result<Cdr, tandem_node::record::RecordError> {
    Cdr::from_record(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandem_node::routing::{AgentId, QueueId};

    #[test]
    fn a_call_looping_in_its_ivr_keeps_its_first_facts_and_every_summary() {
        let site = Site::new("bj-01").unwrap();
        let mut cdr = CdrBuilder::inbound(CallId(1), site, "fxo1", 0);
        for i in 0..3 * MAX_CDR_EVENTS as u64 {
            cdr.event(
                i,
                CdrEventKind::Ivr {
                    node: "menu".into(),
                },
            );
        }
        let last = 3 * MAX_CDR_EVENTS as u64;
        cdr.event(last, CdrEventKind::Answered { agent: AgentId(7) });
        let cdr = cdr.finish(last + 1, Hangup::Caller, EndCause::Completed);
        assert_eq!(cdr.events.len(), MAX_CDR_EVENTS);
        assert_eq!(cdr.ivr_path.len(), MAX_CDR_EVENTS);
        // The answer came after the cap: the summary still has it.
        assert_eq!(cdr.answered_us, Some(last));
        assert_eq!(cdr.agents, [AgentId(7)]);
    }

    #[test]
    fn a_cut_call_ends_at_its_last_fact_by_the_system_with_the_restart_cause() {
        let site = Site::new("bj-01").unwrap();
        let mut cdr = CdrBuilder::inbound(CallId(9), site, "fxo-1", 1_000);
        cdr.event(1_000, CdrEventKind::LineSeized);
        cdr.event(2_000, CdrEventKind::LineAnswered);
        cdr.event(
            5_000,
            CdrEventKind::Queued {
                queue: QueueId(1),
                local: false,
            },
        );
        cdr.event(9_000, CdrEventKind::Answered { agent: AgentId(3) });
        let cut = close_cut(&encode_cdr(&cdr.snapshot())).unwrap();
        assert_eq!(cut.cause, EndCause::GatewayRestart);
        assert_eq!(cut.hangup, Hangup::System);
        assert_eq!(cut.ended_us, 9_000);
        assert_eq!(cut.answered_us, Some(9_000));
        assert_eq!(cut.agents, vec![AgentId(3)]);
        assert!(close_cut(b"not a cdr").is_none());
    }
}
