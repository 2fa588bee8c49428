//! The simulated center's configuration: `sites` branches, `agents` agents spread
//! over them, two queues. Written as the administrator's TOML and validated by
//! the real [`ValidCenterConfig`], so the simulation routes with exactly what a
//! deployment would load.

use std::fmt::Write as _;

use tandem_node::calls::{CenterConfigError, ValidCenterConfig};
use tandem_node::names::{NameError, Site};
use tandem_node::routing::{AgentId, QueueId};

/// The general queue: every agent serves it.
pub const GENERAL: QueueId = QueueId(1);
/// The card queue: every third agent (the card specialists) serves it.
pub const CARD: QueueId = QueueId(2);

/// Why the simulated center could not be built.
#[derive(Debug, thiserror::Error)]
pub enum CenterError {
    /// A generated site name was refused.
    #[error("site name: {0}")]
    Name(#[from] NameError),
    /// The generated configuration was refused.
    #[error("configuration: {0}")]
    Config(#[from] CenterConfigError),
    /// Fewer agents than sites, or none at all.
    #[error("need at least one agent per site ({sites} sites, {agents} agents)")]
    TooFewAgents {
        /// Sites asked for.
        sites: usize,
        /// Agents asked for.
        agents: usize,
    },
}

/// The center: its configuration and who sits where.
pub struct Center {
    /// The validated configuration.
    pub config: ValidCenterConfig,
    /// Branch sites, in order.
    pub sites: Vec<Site>,
    /// Each agent's site index and seat endpoint.
    pub seats: Vec<(AgentId, usize, String)>,
}

/// Whether `agent` (1-based) is a card specialist.
pub fn is_card_specialist(agent: AgentId) -> bool {
    agent.0.is_multiple_of(3)
}

impl Center {
    /// `sites` branches with `agents` agents dealt round-robin over them.
    pub fn new(sites: usize, agents: usize) -> Result<Center, CenterError> {
        if sites == 0 || agents < sites {
            return Err(CenterError::TooFewAgents { sites, agents });
        }
        let names = (1..=sites)
            .map(|i| Site::new(format!("site-{i:02}")))
            .collect::<Result<Vec<_>, _>>()?;
        let seats: Vec<(AgentId, usize, String)> = (1..=agents)
            .map(|a| {
                let site = (a - 1) % sites;
                let agent = AgentId(u32::try_from(a).unwrap_or(u32::MAX));
                (agent, site, format!("seat{}", (a - 1) / sites + 1))
            })
            .collect();
        let mut toml = String::from("[routing]\nutc_offset_minutes = 480\nrandom_seed = 1\n");
        // Offers may be retried on the same agent at once, so a waiting call
        // beside a ready member of its group is always a routing fault.
        for (id, name, group) in [(GENERAL.0, "General", 1), (CARD.0, "Card", 2)] {
            let _ = write!(
                toml,
                "\n[[routing.queues]]\nid = {id}\nname = \"{name}\"\ntargets = [{{ group = {group} }}]\n\
                 offer_timeout_ms = 12000\nretry_same_agent_after_ms = 0\n\
                 wrap_up = {{ mode = \"Optional\", duration_ms = 5000 }}\nannounce_every_ms = 30000\n"
            );
        }
        let all: Vec<String> = seats
            .iter()
            .map(|(a, _, _)| format!("{{ agent = {} }}", a.0))
            .collect();
        let card: Vec<String> = seats
            .iter()
            .filter(|(a, _, _)| is_card_specialist(*a))
            .map(|(a, _, _)| format!("{{ agent = {}, proficiency = 5 }}", a.0))
            .collect();
        let card = if card.is_empty() { all.clone() } else { card };
        let _ = write!(
            toml,
            "\n[[routing.groups]]\nid = 1\nname = \"All\"\nkind = \"Team\"\nmembers = [{}]\n\
             \n[[routing.groups]]\nid = 2\nname = \"Card\"\nkind = \"Skill\"\nmembers = [{}]\n",
            all.join(", "),
            card.join(", ")
        );
        for (agent, site, endpoint) in &seats {
            let site = names[*site].as_str();
            let _ = write!(
                toml,
                "\n[[routing.agents]]\nid = {a}\nname = \"Agent {a}\"\nsite = {{ Branch = \"{site}\" }}\n\
                 \n[[seats]]\nagent = {a}\nsite = \"{site}\"\nendpoint = \"{endpoint}\"\n",
                a = agent.0
            );
        }
        let config = ValidCenterConfig::from_toml(&toml)?;
        Ok(Center {
            config,
            sites: names,
            seats,
        })
    }
}
