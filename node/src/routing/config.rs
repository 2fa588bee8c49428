//! Routing configuration as the administrator writes it (TOML) and the coordinator
//! ships it (postcard), with validation that names the offending field.
//!
//! A configuration is validated as a whole before the engine sees it, so the engine
//! itself never has to cope with a dangling queue or group reference.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::model::{AgentId, Channel, GroupId, GroupKind, QueueId, Site, Strategy};
use super::numbers::NumberPattern;
use super::time::TimeWindow;

/// Everything the routing engine needs to know that an administrator decides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoutingConfig {
    /// Queues where calls wait.
    pub queues: Vec<QueueConfig>,
    /// Agent groups (teams, skills, expert pools) and who belongs to them.
    pub groups: Vec<GroupConfig>,
    /// Every agent the engine may route to.
    pub agents: Vec<AgentConfig>,
    /// Numbers or prefixes that are rejected or sent to a chosen queue.
    #[serde(default)]
    pub blacklist: Vec<BlacklistRule>,
    /// Numbers or prefixes of VIP callers.
    #[serde(default)]
    pub vips: Vec<VipRule>,
    /// Weights of the cross-queue fairness score (see the module docs for the formula).
    #[serde(default)]
    pub fairness: FairnessWeights,
    /// Offset of local time from UTC, in minutes, used to evaluate shift windows.
    #[serde(default)]
    pub utc_offset_minutes: i16,
    /// Seed of the random and proficiency-weighted strategies, so runs are reproducible.
    #[serde(default)]
    pub random_seed: u64,
    /// How many callers the caller-number strategy remembers (oldest forgotten first).
    #[serde(default = "default_sticky_capacity")]
    pub sticky_capacity: usize,
}

fn default_sticky_capacity() -> usize {
    100_000
}

impl Default for RoutingConfig {
    /// Empty, with the same defaults a TOML file that omits the fields gets.
    fn default() -> Self {
        RoutingConfig {
            queues: Vec::new(),
            groups: Vec::new(),
            agents: Vec::new(),
            blacklist: Vec::new(),
            vips: Vec::new(),
            fairness: FairnessWeights::default(),
            utc_offset_minutes: 0,
            random_seed: 0,
            sticky_capacity: default_sticky_capacity(),
        }
    }
}

/// A queue: calls wait here in order of (effective priority, age).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueConfig {
    /// Unique id.
    pub id: QueueId,
    /// Display name for wallboards and reports.
    pub name: String,
    /// Importance of this queue against others when an agent serves several (0–100).
    #[serde(default)]
    pub priority: u8,
    /// Target service level, e.g. 80 % within 20 s.
    #[serde(default)]
    pub service_level: ServiceLevelTarget,
    /// Maximum number of waiting calls; `None` is unlimited.
    #[serde(default)]
    pub max_waiting: Option<u32>,
    /// Name of the business-hours calendar the IVR consults before queueing.
    #[serde(default)]
    pub business_hours: Option<String>,
    /// How agents are chosen, unless the serving group overrides it.
    #[serde(default)]
    pub strategy: Strategy,
    /// Bullseye rings: which groups may serve the queue, from how old a call on.
    pub targets: Vec<TargetStep>,
    /// Where calls go when this queue cannot serve them.
    #[serde(default)]
    pub overflow: Vec<OverflowRule>,
    /// After-call work applied to agents finishing a call from this queue.
    #[serde(default)]
    pub wrap_up: WrapUpPolicy,
    /// How long an offer rings before it is withdrawn and the call returns to its place.
    #[serde(default = "default_offer_timeout")]
    pub offer_timeout_ms: u64,
    /// How long an agent who rejected or missed a call is skipped for that call.
    #[serde(default = "default_retry")]
    pub retry_same_agent_after_ms: u64,
    /// Caller priority rises by one level for every this many ms of waiting; `None` = no aging.
    #[serde(default)]
    pub aging_ms_per_level: Option<u64>,
    /// Position/EWT announcements; `None` = silent.
    #[serde(default)]
    pub announce_every_ms: Option<u64>,
    /// Offer a callback when the estimated wait exceeds this; `None` = never.
    #[serde(default)]
    pub callback_when_ewt_over_ms: Option<u64>,
    /// Handle time assumed for EWT before any call has been completed in this queue.
    #[serde(default = "default_aht")]
    pub initial_aht_ms: u64,
}

fn default_offer_timeout() -> u64 {
    15_000
}
fn default_retry() -> u64 {
    5_000
}
fn default_aht() -> u64 {
    180_000
}

/// Service-level goal: `percent` % of calls answered within `threshold_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceLevelTarget {
    /// Percentage goal (0–100).
    pub percent: u8,
    /// Answer-time threshold in ms.
    pub threshold_ms: u64,
}

impl Default for ServiceLevelTarget {
    fn default() -> Self {
        ServiceLevelTarget {
            percent: 80,
            threshold_ms: 20_000,
        }
    }
}

/// One bullseye ring: once a call has waited `after_ms` (counted from its first
/// queue entry, so overflow keeps it), members of `group` with at least
/// `min_proficiency` may take it. Rings are ordered by `after_ms` (then by their
/// order in the list); earlier rings are preferred when several have ready agents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetStep {
    /// The group serving this ring.
    pub group: GroupId,
    /// Age at which the ring opens.
    #[serde(default)]
    pub after_ms: u64,
    /// Lowest member proficiency (1–5) admitted by this ring.
    #[serde(default = "default_min_proficiency")]
    pub min_proficiency: u8,
}

fn default_min_proficiency() -> u8 {
    1
}

/// When and where a call leaves a queue for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverflowRule {
    /// The condition.
    pub when: OverflowWhen,
    /// The queue the call moves to (keeping its age).
    pub target: QueueId,
}

/// Overflow conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OverflowWhen {
    /// Checked on entry: the queue already holds `max_waiting` calls.
    Full,
    /// Checked on entry: no eligible agent is ready right now (and the target has room).
    NoReadyAgents,
    /// The call has waited this long *in this queue*. If the target is full at that
    /// moment the call stays where it is, in place, rather than being bounced.
    WaitExceedsMs(u64),
}

/// After-call work after a call ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct WrapUpPolicy {
    /// Whether the agent may end it early.
    pub mode: WrapUpMode,
    /// Length of the wrap-up; with `Manual` mode the agent must end it explicitly.
    pub duration_ms: u64,
}

/// How wrap-up ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum WrapUpMode {
    /// No wrap-up: the agent is ready again as soon as the call ends.
    #[default]
    None,
    /// The agent is held for the full duration; an early "done" is refused.
    Mandatory,
    /// The duration is a maximum; the agent may end it early.
    Optional,
    /// No timer: the agent stays in wrap-up until they say they are done.
    Manual,
}

/// An agent group and its members.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupConfig {
    /// Unique id.
    pub id: GroupId,
    /// Display name.
    pub name: String,
    /// Team, skill or expert pool.
    #[serde(default)]
    pub kind: GroupKind,
    /// Overrides the queue's strategy when agents are chosen from this group.
    #[serde(default)]
    pub strategy: Option<Strategy>,
    /// Members in their fixed (linear) order.
    pub members: Vec<Membership>,
}

/// An agent's place in one group: the same agent has a different priority and
/// proficiency in each group, and may belong only during some time windows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Membership {
    /// The agent.
    pub agent: AgentId,
    /// Priority in this group, lower first (agent-priority strategy).
    #[serde(default)]
    pub priority: u8,
    /// Skill level 1–5.
    #[serde(default = "default_proficiency")]
    pub proficiency: u8,
    /// Shifts during which the membership applies; empty = always.
    #[serde(default)]
    pub windows: Vec<TimeWindow>,
}

/// The skill level of a member whose proficiency is not given: the middle of 1–5.
pub const DEFAULT_PROFICIENCY: u8 = 3;

fn default_proficiency() -> u8 {
    DEFAULT_PROFICIENCY
}

/// An agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentConfig {
    /// Unique id.
    pub id: AgentId,
    /// Display name.
    pub name: String,
    /// Where the agent sits.
    #[serde(default)]
    pub site: Site,
    /// Parallel chats allowed (voice is always exactly one).
    #[serde(default = "default_chats")]
    pub max_chats: u8,
    /// Consecutive missed (timed-out) offers after which the agent is set not ready.
    #[serde(default = "default_missed")]
    pub max_missed_offers: u32,
    /// Per-agent wrap-up that replaces the queue's policy (e.g. trainees get longer).
    #[serde(default)]
    pub wrap_up: Option<WrapUpPolicy>,
}

fn default_chats() -> u8 {
    1
}
fn default_missed() -> u32 {
    3
}

impl AgentConfig {
    /// How many interactions of `channel` the agent may hold at once.
    pub fn capacity(&self, channel: Channel) -> u8 {
        match channel {
            Channel::Voice => 1,
            Channel::Chat => self.max_chats,
        }
    }
}

/// A blacklist entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlacklistRule {
    /// Exact number or prefix.
    pub pattern: NumberPattern,
    /// What happens to matching calls.
    pub action: BlacklistAction,
}

/// What a blacklist match does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BlacklistAction {
    /// Refuse the call.
    Reject,
    /// Queue the call here instead of the requested queue.
    RouteTo(QueueId),
}

/// A VIP caller entry: raised priority and, for the caller-number strategy, preferred agents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VipRule {
    /// Exact number or prefix.
    pub pattern: NumberPattern,
    /// Caller priority given to matching calls (the higher of this and the call's own).
    pub priority: u8,
    /// Agents to try first, in order.
    #[serde(default)]
    pub agents: Vec<AgentId>,
}

/// Weights of the cross-queue fairness score. See the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FairnessWeights {
    /// Per point of queue priority.
    pub queue_priority: f64,
    /// Per level of effective caller priority (after aging).
    pub caller_priority: f64,
    /// Per second of call age.
    pub age_per_sec: f64,
    /// Per proficiency level of the agent in the serving group.
    pub proficiency: f64,
    /// Per second the agent has been idle.
    pub idle_per_sec: f64,
}

impl Default for FairnessWeights {
    fn default() -> Self {
        FairnessWeights {
            queue_priority: 10.0,
            caller_priority: 20.0,
            age_per_sec: 1.0,
            proficiency: 5.0,
            idle_per_sec: 0.1,
        }
    }
}

/// A configuration that cannot be used, naming the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    /// Two queues share an id.
    #[error("queues: duplicate queue id {0}")]
    DuplicateQueue(QueueId),
    /// Two groups share an id.
    #[error("groups: duplicate group id {0}")]
    DuplicateGroup(GroupId),
    /// Two agents share an id.
    #[error("agents: duplicate agent id {0}")]
    DuplicateAgent(AgentId),
    /// An agent appears twice in one group.
    #[error("groups[{group}].members: agent {agent} listed twice")]
    DuplicateMember {
        /// The group.
        group: GroupId,
        /// The agent.
        agent: AgentId,
    },
    /// A reference to an undefined object.
    #[error("{field}: unknown {kind} {id}")]
    UnknownReference {
        /// Path of the offending field.
        field: String,
        /// "queue", "group" or "agent".
        kind: &'static str,
        /// The id that does not exist.
        id: u32,
    },
    /// A number outside its allowed range.
    #[error("{field}: {value} is out of range {min}..={max}")]
    OutOfRange {
        /// Path of the offending field.
        field: String,
        /// The value found.
        value: u64,
        /// Smallest allowed.
        min: u64,
        /// Largest allowed.
        max: u64,
    },
    /// A queue nobody can serve.
    #[error("queues[{0}].targets: a queue needs at least one target group")]
    NoTargets(QueueId),
    /// A queue overflowing into itself.
    #[error("queues[{0}].overflow: a queue cannot overflow into itself")]
    SelfOverflow(QueueId),
    /// A blacklist or VIP pattern that is not a phone number.
    #[error("{field}: {reason}")]
    BadPattern {
        /// Path of the offending field.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// Local time is at most 14 hours away from UTC.
    #[error("utc_offset_minutes: {0} is outside -840..=840")]
    BadUtcOffset(i16),
    /// Weights must be finite and non-negative.
    #[error("fairness.{0}: weight must be a finite number >= 0")]
    BadWeight(&'static str),
    /// Replacing the configuration would strand calls.
    #[error("queues: queue {queue} is removed but still has {calls} call(s)")]
    QueueInUse {
        /// The removed queue.
        queue: QueueId,
        /// How many calls it holds.
        calls: usize,
    },
    /// Replacing the configuration would strand a working agent.
    #[error("agents: agent {0} is removed but still logged in")]
    AgentInUse(AgentId),
}

impl RoutingConfig {
    /// Checks every reference and range; the engine relies on a validated config.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut queue_ids = HashSet::new();
        for q in &self.queues {
            if !queue_ids.insert(q.id) {
                return Err(ConfigError::DuplicateQueue(q.id));
            }
        }
        let mut group_ids = HashSet::new();
        for g in &self.groups {
            if !group_ids.insert(g.id) {
                return Err(ConfigError::DuplicateGroup(g.id));
            }
        }
        let mut agent_ids = HashSet::new();
        for a in &self.agents {
            if !agent_ids.insert(a.id) {
                return Err(ConfigError::DuplicateAgent(a.id));
            }
            range(
                format!("agents[{}].max_chats", a.id),
                a.max_chats.into(),
                1,
                32,
            )?;
            range(
                format!("agents[{}].max_missed_offers", a.id),
                a.max_missed_offers.into(),
                1,
                1000,
            )?;
        }
        for q in &self.queues {
            self.validate_queue(q, &queue_ids, &group_ids)?;
        }
        for g in &self.groups {
            let mut seen = HashSet::new();
            for m in &g.members {
                if !agent_ids.contains(&m.agent) {
                    return Err(unknown(
                        format!("groups[{}].members", g.id),
                        "agent",
                        m.agent.0,
                    ));
                }
                if !seen.insert(m.agent) {
                    return Err(ConfigError::DuplicateMember {
                        group: g.id,
                        agent: m.agent,
                    });
                }
                let field = format!("groups[{}].members[{}]", g.id, m.agent);
                range(format!("{field}.proficiency"), m.proficiency.into(), 1, 5)?;
                for w in &m.windows {
                    range(
                        format!("{field}.windows.start_minute"),
                        w.start_minute.into(),
                        0,
                        1439,
                    )?;
                    range(
                        format!("{field}.windows.end_minute"),
                        w.end_minute.into(),
                        0,
                        1440,
                    )?;
                    range(format!("{field}.windows.days"), w.days.into(), 1, 0x7f)?;
                }
            }
        }
        for (i, b) in self.blacklist.iter().enumerate() {
            b.pattern.validate(&format!("blacklist[{i}].pattern"))?;
            if let BlacklistAction::RouteTo(q) = b.action
                && !queue_ids.contains(&q)
            {
                return Err(unknown(format!("blacklist[{i}].action"), "queue", q.0));
            }
        }
        for (i, v) in self.vips.iter().enumerate() {
            v.pattern.validate(&format!("vips[{i}].pattern"))?;
            range(format!("vips[{i}].priority"), v.priority.into(), 0, 9)?;
            if let Some(a) = v.agents.iter().find(|a| !agent_ids.contains(a)) {
                return Err(unknown(format!("vips[{i}].agents"), "agent", a.0));
            }
        }
        if !(-840..=840).contains(&self.utc_offset_minutes) {
            return Err(ConfigError::BadUtcOffset(self.utc_offset_minutes));
        }
        self.fairness.validate()
    }

    fn validate_queue(
        &self,
        q: &QueueConfig,
        queues: &HashSet<QueueId>,
        groups: &HashSet<GroupId>,
    ) -> Result<(), ConfigError> {
        let field = |name: &str| format!("queues[{}].{name}", q.id);
        if q.targets.is_empty() {
            return Err(ConfigError::NoTargets(q.id));
        }
        for t in &q.targets {
            if !groups.contains(&t.group) {
                return Err(unknown(field("targets"), "group", t.group.0));
            }
            range(
                field("targets.min_proficiency"),
                t.min_proficiency.into(),
                1,
                5,
            )?;
        }
        for o in &q.overflow {
            if o.target == q.id {
                return Err(ConfigError::SelfOverflow(q.id));
            }
            if !queues.contains(&o.target) {
                return Err(unknown(field("overflow"), "queue", o.target.0));
            }
        }
        range(field("priority"), q.priority.into(), 0, 100)?;
        range(
            field("service_level.percent"),
            q.service_level.percent.into(),
            0,
            100,
        )?;
        range(
            field("service_level.threshold_ms"),
            q.service_level.threshold_ms,
            1,
            u32::MAX.into(),
        )?;
        range(
            field("offer_timeout_ms"),
            q.offer_timeout_ms,
            1_000,
            600_000,
        )?;
        range(field("initial_aht_ms"), q.initial_aht_ms, 1_000, 86_400_000)?;
        if let Some(ms) = q.aging_ms_per_level {
            range(field("aging_ms_per_level"), ms, 1_000, 86_400_000)?;
        }
        if let Some(ms) = q.announce_every_ms {
            range(field("announce_every_ms"), ms, 5_000, 3_600_000)?;
        }
        if q.wrap_up.mode != WrapUpMode::None && q.wrap_up.mode != WrapUpMode::Manual {
            range(
                field("wrap_up.duration_ms"),
                q.wrap_up.duration_ms,
                1,
                3_600_000,
            )?;
        }
        Ok(())
    }
}

impl FairnessWeights {
    fn validate(&self) -> Result<(), ConfigError> {
        let weights = [
            ("queue_priority", self.queue_priority),
            ("caller_priority", self.caller_priority),
            ("age_per_sec", self.age_per_sec),
            ("proficiency", self.proficiency),
            ("idle_per_sec", self.idle_per_sec),
        ];
        match weights.iter().find(|(_, w)| !w.is_finite() || *w < 0.0) {
            Some((name, _)) => Err(ConfigError::BadWeight(name)),
            None => Ok(()),
        }
    }
}

fn range(field: String, value: u64, min: u64, max: u64) -> Result<(), ConfigError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(ConfigError::OutOfRange {
            field,
            value,
            min,
            max,
        })
    }
}

fn unknown(field: String, kind: &'static str, id: u32) -> ConfigError {
    ConfigError::UnknownReference { field, kind, id }
}
