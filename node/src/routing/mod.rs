//! The ACD routing engine: which agent gets which call, across every site.
//!
//! Pure logic: no I/O, no clock, no threads. The coordinator runs one [`Router`]
//! for the global queues; a gateway that lost its WAN runs one over its own seats
//! with the last configuration it received. Both feed it [`Input`]s stamped with a
//! [`Timestamp`] and carry out the [`Action`]s it decides; the [`Event`]s it records
//! are the CDR/queue log from which [`KpiReport`] computes the statistics.
//!
//! ```text
//! let mut r = Router::new(config, now)?;
//! r.handle(now, Input::CallArrived { .. })?;   // or AgentReady, OfferAccepted, …
//! for a in r.drain_actions() { /* ring seats, play announcements, … */ }
//! for e in r.drain_events()  { /* commit to the outbox / redb */ }
//! // when r.next_deadline() is reached: r.handle(deadline, Input::Tick)?
//! ```
//!
//! # Guarantees (checked by property tests)
//! - An agent holds at most one voice interaction (offered, connected or in
//!   wrap-up) — capacity is checked at the single place offers are made.
//! - A call is offered to several agents only under ring-all; the first accept
//!   moves it to connected and withdraws the others, so a second accept gets
//!   [`RouteError::OfferNotActive`] (Asterisk's ringall double answer cannot happen).
//! - A call whose offer is rejected, times out or is withdrawn returns to exactly
//!   its old place: its queue key (priority, first-entry time) never changes.
//!   Overflow and widening also keep the first-entry time, so age is never lost.
//! - After every input, no waiting call has a ready, eligible agent (eligible: in
//!   a ring already open for the call, proficient enough, in shift, and not within
//!   the retry delay after declining or missing that very call).
//! - Replacing the configuration keeps waiting calls in place and keeps agent
//!   statistics (answered calls, idle time, missed offers, round-robin memory,
//!   caller→agent memory, per-queue AHT).
//!
//! # Choosing an agent for a call
//! A queue lists bullseye rings (group, opening age, minimum proficiency). A call
//! is eligible for the rings whose opening age it has reached (age counts from its
//! first queue entry). Among ready eligible members of the *first* open ring that
//! has any, the strategy of that group (else of the queue) picks one agent, or all
//! of them for ring-all. See [`Strategy`].
//!
//! # Choosing a call for an agent: the fairness score
//! When an agent frees up, each queue the agent serves (through any ring open for
//! the call, with enough proficiency) puts forward its first eligible call in queue
//! order — effective caller priority, then age. The agent takes the call with the
//! highest score:
//!
//! `score = Wq·Pq + Wc·(Pc + age/aging) + Wa·age_s + Wp·proficiency + Wi·idle_s`
//!
//! - `Pq` queue priority (0–100): business importance of the queue;
//! - `Pc + age/aging` caller priority (0–9, VIP raised) plus one level per
//!   `aging_ms_per_level` waited: urgent callers first, but nobody starves;
//! - `age_s` seconds since first queue entry: the longest-waiting caller gets a
//!   growing claim across queues, whatever the config order;
//! - `proficiency` (1–5) of the agent in the group serving that queue: an expert
//!   takes the calls they are best at;
//! - `idle_s` seconds the agent has been idle: constant for one agent, it decides
//!   between agents when several free up at once (configuration change, shift
//!   start): the pair with the highest score is matched first, so the longest-idle
//!   agent gets the best call.
//!
//! Default weights: `Wq = 10, Wc = 20, Wa = 1, Wp = 5, Wi = 0.1` (one caller
//! priority level is worth 20 s of waiting). Ties go to the earlier arrival.
//!
//! # Simulation
//! [`Scenario`] drives the real engine with simulated callers and agents (Poisson
//! arrivals, exponential or lognormal handle times, exponential or lognormal
//! patience, one seed) and [`SimRun::summary`] reports service level, ASA,
//! abandonment, occupancy and announced EWT with batch-means confidence intervals;
//! the tests and `tandem-sim erlang` check it against [`ErlangC`] and [`erlang_a`].
//!
//! # Cost
//! Each group keeps its ready members in a set, and each group knows the queue
//! rings it serves. A call arriving inspects the ready members of its open rings;
//! an agent freeing up inspects the heads of the queues its groups serve; an agent
//! state change updates only its own groups' sets. No decision scans all queues ×
//! all members (Asterisk's device-state bottleneck). [`bench_support`] builds the
//! issue-6 world that the criterion bench and `tandem-sim bench acd` measure.

mod agent;
pub mod bench_support;
mod config;
mod engine;
mod erlang;
mod events;
mod ewt;
mod fairness;
mod kpi;
mod model;
mod numbers;
mod queue;
mod simulate;
mod sticky;
mod strategy;
mod time;
pub mod wide_id;

pub use agent::{AgentStats, REASON_LOGGED_IN, REASON_MISSED_OFFERS};
pub use config::{
    AgentConfig, BlacklistAction, BlacklistRule, ConfigError, DEFAULT_PROFICIENCY, FairnessWeights,
    GroupConfig, Membership, OverflowRule, OverflowWhen, QueueConfig, RoutingConfig,
    ServiceLevelTarget, TargetStep, VipRule, WrapUpMode, WrapUpPolicy,
};
pub use engine::{MAX_CALLER_LEN, MAX_CALLER_PRIORITY, MAX_REASON_LEN, RouteError, Router};
pub use erlang::{ErlangC, erlang_a};
pub use events::{Action, ActionKind, Event, EventKind, Input};
pub use ewt::{HandleTimeEstimate, estimated_wait_ms};
pub use kpi::{AgentKpis, KpiReport, QueueKpis};
pub use model::{
    AgentId, AgentState, CallId, Channel, GroupId, GroupKind, OfferEnd, OfferId, OverflowReason,
    QueueId, RejectReason, Site, Strategy,
};
pub use numbers::{NumberPattern, NumberTable};
pub use simulate::{Distribution, Estimate, Scenario, SimError, SimRun, SimSummary};
pub use time::{TimeWindow, Timestamp};
