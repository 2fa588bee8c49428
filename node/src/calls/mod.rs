//! Call control shared by the coordinator (which decides) and the gateways (which
//! execute): the deployment configuration, the call-control messages and the CDR.
//!
//! # Who does what
//! - The **anchor** is the gateway that terminates the PSTN line (FXO port or E1
//!   timeslot). It answers, runs the IVR from its cached [`CenterConfig`], owns the
//!   call's media (mixer, recorder, prompts) and writes the call's [`Cdr`] to its
//!   outbox. A call never moves to another box.
//! - The **coordinator** runs the global [`crate::routing::Router`]. When the IVR
//!   hands a call to a queue the anchor sends [`CallUp::Arrived`]; from then on the
//!   coordinator tells nodes what to do with [`CallDown`] commands: ring a seat,
//!   join a party to the call (locally on the anchor when the seat is on the same
//!   box, else over a relay leg), hold, play announcements, release.
//! - **Agents** act through the node that hosts their seat (the desk phone or seat
//!   client): [`CallUp::Agent`] carries an [`AgentCommand`] to the coordinator,
//!   which answers with [`CallDown::AgentUpdate`]. The coordinator's own API (web
//!   desktop) feeds the same commands into the same place.
//! - **Alone** (WAN down) a gateway routes new calls with a local router over its
//!   own seats, built from the last configuration it received, and handles its
//!   local agents' commands itself; what happened is uploaded from the outbox when
//!   the link returns.
//! - **Back** (any new session, including one with a restarted coordinator) a
//!   gateway reports the calls the coordinator had routed that are still up
//!   ([`CallUp::Anchored`]), so the coordinator rebuilds them: their agents stay
//!   busy, their relay legs are opened again.
//!
//! # Parties and media
//! Every call has parties numbered by the coordinator ([`PartyId`]); party 0 is
//! always the line (caller). A party is either local to the anchor (a seat or FXS
//! phone on the same box: no network at all) or a relay leg whose other end is the
//! seat's node. [`PartyRole`] decides who hears whom (conference, monitor,
//! whisper, held).

mod cdr;
mod config;
mod messages;

pub use cdr::{Cdr, CdrEvent, CdrEventKind, EndCause, Hangup};
pub use config::{
    CenterConfig, CenterConfigError, SeatRef, SiteConfig, SupervisorConfig, SupervisorRole,
    ValidCenterConfig,
};
pub use messages::{
    AgentCommand, AgentUpdate, AgentView, AnchoredCall, AnchoredParty, AnchoredState, CallDown,
    CallUp, ConfigPush, Endpoint, PartyId, PartyRole, ReleaseReason, TransferTarget,
};
