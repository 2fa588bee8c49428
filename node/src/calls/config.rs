//! The whole deployment's configuration as one administrator-written TOML file:
//! routing (queues, groups, agents, skills, blacklist), IVR flows and calendars,
//! which IVR each site's lines run, where each agent's seat is, and who supervises
//! whom. The coordinator loads and stores it and pushes it to every gateway, which
//! caches it so a branch cut off from the WAN keeps working with the last one.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::ivr::{IvrConfig, IvrConfigError, Node, ValidIvrConfig};
use crate::names::Site;
use crate::routing::{AgentId, ConfigError, GroupId, QueueId, RoutingConfig};

/// Everything an administrator decides about calls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CenterConfig {
    /// Queues, groups (teams, skills, expert pools), agents, blacklist, VIPs.
    pub routing: RoutingConfig,
    /// IVR flows and business-hours calendars.
    #[serde(default)]
    pub ivr: IvrConfig,
    /// Per-site settings: which flow its lines run, whether calls are recorded.
    #[serde(default)]
    pub sites: Vec<SiteConfig>,
    /// Where each agent's audio is: a headset seat or an FXS phone on some node.
    #[serde(default)]
    pub seats: Vec<SeatRef>,
    /// Team leads and duty managers (they are agents too, with seats).
    #[serde(default)]
    pub supervisors: Vec<SupervisorConfig>,
}

/// One branch's call settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteConfig {
    /// The site (gateway) name.
    pub site: Site,
    /// The IVR flow inbound calls on this site's lines run.
    pub flow: String,
    /// Per-line overrides of `flow`, by port or span id ("fxo2", "e1a").
    #[serde(default)]
    pub lines: BTreeMap<String, String>,
    /// Record every answered call on this site's lines.
    #[serde(default)]
    pub record: bool,
}

/// An agent's seat: the node and the endpoint (headset seat id or FXS port id)
/// their audio goes through.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SeatRef {
    /// The agent.
    pub agent: AgentId,
    /// The node hosting the seat (a branch gateway or a home seat).
    pub site: Site,
    /// Seat or FXS port id from that node's board file.
    pub endpoint: String,
}

/// How far a supervisor's authority reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SupervisorRole {
    /// May act on members of their own groups who are not supervisors themselves.
    TeamLead,
    /// May act on everyone.
    DutyManager,
}

/// A supervisor: an agent with authority over others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupervisorConfig {
    /// The supervising agent (must have a seat to listen with).
    pub agent: AgentId,
    /// Team lead or duty manager.
    pub role: SupervisorRole,
    /// The groups a team lead leads (ignored for duty managers).
    #[serde(default)]
    pub groups: Vec<GroupId>,
}

/// Why a configuration was refused; the message names the field.
#[derive(Debug, Error)]
pub enum CenterConfigError {
    /// Not valid TOML, or the wrong shape.
    #[error("configuration file: {0}")]
    Toml(String),
    /// Not a valid encoded configuration (corrupt cache or wire data).
    #[error("encoded configuration: {0}")]
    Postcard(String),
    /// The routing part is inconsistent.
    #[error("routing.{0}")]
    Routing(#[from] ConfigError),
    /// The IVR part is inconsistent.
    #[error("ivr: {0}")]
    Ivr(#[from] IvrConfigError),
    /// Some other field is wrong.
    #[error("{field}: {problem}")]
    Field {
        /// Path of the offending field.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
}

impl CenterConfigError {
    /// The path of the field at fault, as an editor shows it next to the input
    /// (`seats[2].agent`, `routing.queues[1].targets`, `ivr`, or `body` when the
    /// text itself does not parse).
    pub fn field(&self) -> String {
        match self {
            CenterConfigError::Field { field, .. } => field.clone(),
            CenterConfigError::Routing(inner) => {
                let text = inner.to_string();
                let head = text.split([':', ' ']).next().unwrap_or_default();
                format!("routing.{head}")
            }
            CenterConfigError::Ivr(_) => "ivr".to_owned(),
            CenterConfigError::Toml(_) | CenterConfigError::Postcard(_) => "body".to_owned(),
        }
    }
}

fn field(field: impl Into<String>, problem: impl Into<String>) -> CenterConfigError {
    CenterConfigError::Field {
        field: field.into(),
        problem: problem.into(),
    }
}

/// A configuration that passed validation: the only kind the coordinator stores
/// and pushes, and the only kind a gateway caches.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidCenterConfig {
    config: CenterConfig,
    ivr: ValidIvrConfig,
}

impl ValidCenterConfig {
    /// Parses and validates an administrator's TOML file.
    pub fn from_toml(text: &str) -> Result<Self, CenterConfigError> {
        let config: CenterConfig =
            toml::from_str(text).map_err(|e| CenterConfigError::Toml(e.to_string()))?;
        Self::validate(config)
    }

    /// Decodes and re-validates a pushed or cached configuration.
    pub fn from_postcard(bytes: &[u8]) -> Result<Self, CenterConfigError> {
        let config: CenterConfig =
            postcard::from_bytes(bytes).map_err(|e| CenterConfigError::Postcard(e.to_string()))?;
        Self::validate(config)
    }

    /// Encodes for the wire or the cache.
    pub fn to_postcard(&self) -> Result<Vec<u8>, CenterConfigError> {
        postcard::to_stdvec(&self.config).map_err(|e| CenterConfigError::Postcard(e.to_string()))
    }

    /// Checks the size limits of [`crate::limits`] (so the configuration fits
    /// one push frame), then every cross-reference: seats and supervisors name
    /// known agents, sites name known flows, IVR queue nodes known queues, queue
    /// hours known calendars, nobody has two seats and no seat two agents.
    pub fn validate(config: CenterConfig) -> Result<Self, CenterConfigError> {
        crate::limits::check_config(&config).map_err(|e| field(e.field, e.problem))?;
        config.routing.validate()?;
        let ivr = crate::ivr::validate(config.ivr.clone())?;
        let agents: BTreeSet<AgentId> = config.routing.agents.iter().map(|a| a.id).collect();
        let groups: BTreeSet<GroupId> = config.routing.groups.iter().map(|g| g.id).collect();
        let mut sites = BTreeSet::new();
        for (i, s) in config.sites.iter().enumerate() {
            if !sites.insert(&s.site) {
                return Err(field(
                    format!("sites[{i}].site"),
                    format!("{} listed twice", s.site),
                ));
            }
            for (name, flow) in std::iter::once((&String::new(), &s.flow)).chain(&s.lines) {
                if !config.ivr.flows.contains_key(flow) {
                    let path = if name.is_empty() {
                        format!("sites[{i}].flow")
                    } else {
                        format!("sites[{i}].lines.{name}")
                    };
                    return Err(field(path, format!("unknown IVR flow {flow:?}")));
                }
            }
        }
        let queues: BTreeSet<QueueId> = config.routing.queues.iter().map(|q| q.id).collect();
        for (name, flow) in &config.ivr.flows {
            for (node_name, node) in &flow.nodes {
                let queue = match node {
                    Node::Queue(q) => q.queue,
                    Node::CallbackOffer(c) => c.queue,
                    _ => continue,
                };
                if !queues.contains(&queue) {
                    return Err(field(
                        format!("ivr.flows.{name}.nodes.{node_name}.queue"),
                        format!("unknown queue {queue}"),
                    ));
                }
            }
        }
        for (i, q) in config.routing.queues.iter().enumerate() {
            if let Some(calendar) = &q.business_hours
                && !config.ivr.calendars.contains_key(calendar)
            {
                return Err(field(
                    format!("routing.queues[{i}].business_hours"),
                    format!("unknown calendar {calendar:?}"),
                ));
            }
        }
        let mut seated = BTreeSet::new();
        let mut endpoints = BTreeSet::new();
        for (i, s) in config.seats.iter().enumerate() {
            if !agents.contains(&s.agent) {
                return Err(field(
                    format!("seats[{i}].agent"),
                    format!("unknown agent {}", s.agent),
                ));
            }
            if !seated.insert(s.agent) {
                return Err(field(
                    format!("seats[{i}].agent"),
                    format!("agent {} has two seats", s.agent),
                ));
            }
            if s.endpoint.is_empty() {
                return Err(field(format!("seats[{i}].endpoint"), "must not be empty"));
            }
            if !endpoints.insert((&s.site, &s.endpoint)) {
                return Err(field(
                    format!("seats[{i}].endpoint"),
                    format!("{}/{} is already another agent's seat", s.site, s.endpoint),
                ));
            }
        }
        let mut supervisors = BTreeSet::new();
        for (i, s) in config.supervisors.iter().enumerate() {
            if !agents.contains(&s.agent) {
                return Err(field(
                    format!("supervisors[{i}].agent"),
                    format!("unknown agent {}", s.agent),
                ));
            }
            if !supervisors.insert(s.agent) {
                return Err(field(
                    format!("supervisors[{i}].agent"),
                    format!("agent {} listed twice", s.agent),
                ));
            }
            if let Some(g) = s.groups.iter().find(|g| !groups.contains(g)) {
                return Err(field(
                    format!("supervisors[{i}].groups"),
                    format!("unknown group {g}"),
                ));
            }
        }
        Ok(ValidCenterConfig { config, ivr })
    }

    /// The configuration itself.
    pub fn config(&self) -> &CenterConfig {
        &self.config
    }

    /// The validated IVR part, as [`crate::ivr::IvrSession::start`] wants it.
    pub fn ivr(&self) -> &ValidIvrConfig {
        &self.ivr
    }

    /// Settings of `site`, if it has any.
    pub fn site(&self, site: &Site) -> Option<&SiteConfig> {
        self.config.sites.iter().find(|s| &s.site == site)
    }

    /// The IVR flow a call arriving on `line` at `site` runs.
    pub fn flow_for(&self, site: &Site, line: &str) -> Option<&str> {
        let s = self.site(site)?;
        Some(s.lines.get(line).unwrap_or(&s.flow).as_str())
    }

    /// Where `agent` sits.
    pub fn seat_of(&self, agent: AgentId) -> Option<&SeatRef> {
        self.config.seats.iter().find(|s| s.agent == agent)
    }

    /// The agent whose seat is `endpoint` on `site`.
    pub fn agent_at(&self, site: &Site, endpoint: &str) -> Option<AgentId> {
        self.config
            .seats
            .iter()
            .find(|s| &s.site == site && s.endpoint == endpoint)
            .map(|s| s.agent)
    }

    /// The supervisor entry of `agent`, if they are one.
    pub fn supervisor(&self, agent: AgentId) -> Option<&SupervisorConfig> {
        self.config.supervisors.iter().find(|s| s.agent == agent)
    }

    /// Whether `supervisor` may monitor, whisper, barge or force-release `agent`:
    /// a duty manager may act on everyone else, a team lead on the non-supervisor
    /// members of the groups they lead.
    pub fn may_supervise(&self, supervisor: AgentId, agent: AgentId) -> bool {
        let Some(s) = self.supervisor(supervisor) else {
            return false;
        };
        if supervisor == agent {
            return false;
        }
        match s.role {
            SupervisorRole::DutyManager => true,
            SupervisorRole::TeamLead => {
                self.supervisor(agent).is_none()
                    && self.config.routing.groups.iter().any(|g| {
                        s.groups.contains(&g.id) && g.members.iter().any(|m| m.agent == agent)
                    })
            }
        }
    }

    /// The routing configuration a gateway uses while cut off from the WAN: only
    /// the agents seated at `site`, the groups trimmed to them; queues and rules
    /// unchanged so calls keep their queue, priority and overflow.
    pub fn local_routing(&self, site: &Site) -> RoutingConfig {
        let local: BTreeSet<AgentId> = self
            .config
            .seats
            .iter()
            .filter(|s| &s.site == site)
            .map(|s| s.agent)
            .collect();
        let mut routing = self.config.routing.clone();
        routing.agents.retain(|a| local.contains(&a.id));
        for g in &mut routing.groups {
            g.members.retain(|m| local.contains(&m.agent));
        }
        routing
            .vips
            .iter_mut()
            .for_each(|v| v.agents.retain(|a| local.contains(a)));
        routing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const EXAMPLE: &str = include_str!("../../../center-configs/demo.toml");

    #[test]
    fn demo_configuration_is_valid_and_local_routing_keeps_only_local_agents() {
        let c = ValidCenterConfig::from_toml(EXAMPLE).unwrap();
        let bj = Site::new("bj-01").unwrap();
        let local = c.local_routing(&bj);
        assert!(!local.agents.is_empty());
        for a in &local.agents {
            assert_eq!(c.seat_of(a.id).unwrap().site, bj);
        }
        local.validate().unwrap();
        assert!(c.flow_for(&bj, "fxo1").is_some());
    }

    #[test]
    fn a_seat_for_an_unknown_agent_is_named() {
        let mut c = ValidCenterConfig::from_toml(EXAMPLE)
            .unwrap()
            .config()
            .clone();
        c.seats[0].agent = AgentId(9999);
        let e = ValidCenterConfig::validate(c).unwrap_err().to_string();
        assert!(e.contains("seats[0].agent"), "{e}");
    }

    #[test]
    fn an_ivr_node_naming_an_unknown_queue_is_named() {
        let mut c = ValidCenterConfig::from_toml(EXAMPLE)
            .unwrap()
            .config()
            .clone();
        c.routing.queues.retain(|q| q.id != QueueId(2));
        let e = ValidCenterConfig::validate(c).unwrap_err().to_string();
        assert!(e.contains("unknown queue 2"), "{e}");
        assert!(e.starts_with("ivr.flows."), "{e}");
    }

    #[test]
    fn postcard_round_trip() {
        let c = ValidCenterConfig::from_toml(EXAMPLE).unwrap();
        let back = ValidCenterConfig::from_postcard(&c.to_postcard().unwrap()).unwrap();
        assert_eq!(back, c);
    }
}
