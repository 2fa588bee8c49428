//! Call control as the HTTP API sees it: the [`CallDesk`] of a running
//! coordinator. The web desktop's commands go through exactly the same step as a
//! seat's buttons.

use std::collections::HashMap;
use std::sync::Arc;

use tandem_node::calls::{AgentCommand, AgentView, CenterConfig};
use tandem_node::routing::{AgentId, CallId, GroupId};

use super::CallError;
use super::service::lock;
use crate::Coordinator;
use crate::http::{ApiError, CallDesk, ConfigEdit, DeskError, DeskMetrics};

/// The coordinator's call control behind the HTTP API.
pub struct CoordinatorDesk(pub Coordinator);

impl Coordinator {
    /// The call desk the HTTP API uses. Call control plugs in here.
    pub fn call_desk(&self) -> Arc<dyn CallDesk> {
        Arc::new(CoordinatorDesk(self.clone()))
    }
}

impl From<CallError> for DeskError {
    fn from(e: CallError) -> Self {
        match e {
            CallError::NotConfigured => DeskError::Unavailable(e.to_string()),
            CallError::UnknownAgent(_) | CallError::NoSeat(_) => DeskError::Invalid {
                field: "agent".into(),
                problem: e.to_string(),
            },
            CallError::Config(inner) => DeskError::Invalid {
                field: inner.field(),
                problem: inner.to_string(),
            },
            CallError::Store(_) => DeskError::Unavailable(e.to_string()),
            CallError::UnknownCall(_)
            | CallError::Refused(_)
            | CallError::Route(_)
            | CallError::NotOurs(_) => DeskError::Refused(e.to_string()),
        }
    }
}

impl From<CallError> for ApiError {
    fn from(e: CallError) -> Self {
        DeskError::from(e).into()
    }
}

impl CallDesk for CoordinatorDesk {
    fn agent_command(&self, agent: AgentId, command: AgentCommand) -> Result<AgentView, DeskError> {
        Ok(self.0.agent_command(agent, command)?)
    }

    fn agent_view(&self, agent: AgentId) -> Option<AgentView> {
        self.0.agent_view(agent)
    }

    fn summary_json(&self) -> serde_json::Value {
        serde_json::to_value(self.0.summary()).unwrap_or_else(|err| {
            tracing::error!(%err, "the summary cannot be shown as JSON");
            serde_json::Value::Null
        })
    }

    fn config(&self) -> Option<(u64, CenterConfig)> {
        self.0.center_config()
    }

    fn update_config(&self, expected: Option<u64>, edit: ConfigEdit<'_>) -> Result<u64, ApiError> {
        self.0.update_config(expected, edit)
    }

    fn agent_groups(&self, agent: AgentId) -> Vec<GroupId> {
        let core = lock(&self.0.calls().core);
        core.as_ref()
            .map(|cc| {
                cc.config()
                    .config()
                    .routing
                    .groups
                    .iter()
                    .filter(|g| g.members.iter().any(|m| m.agent == agent))
                    .map(|g| g.id)
                    .collect()
            })
            .unwrap_or_default()
    }

    fn metrics(&self) -> DeskMetrics {
        let (calls_active, queue_depth) = lock(&self.0.calls().core)
            .as_ref()
            .map(|cc| cc.load())
            .unwrap_or_default();
        DeskMetrics {
            calls_active,
            queue_depth,
            routing_latency: self.0.calls().latency.snapshot(),
        }
    }

    fn dispositions(&self, calls: &[CallId]) -> HashMap<CallId, String> {
        match self.0.store().dispositions_of(calls) {
            Ok(found) => found.into_iter().map(|d| (d.call, d.code)).collect(),
            Err(err) => {
                tracing::warn!(%err, "dispositions unavailable");
                HashMap::new()
            }
        }
    }
}
