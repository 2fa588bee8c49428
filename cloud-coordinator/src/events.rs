//! The live event bus: call, queue, agent and node events for the operator
//! surfaces (the HTTP event stream, wallboards). Publishing never waits: a slow
//! subscriber loses old events and is told how many.

use serde::{Deserialize, Serialize};
use tandem_node::calls::AgentView;
use tandem_node::names::{NodeId, Site};
use tandem_node::routing::{AgentId, CallId, QueueId};
use tokio::sync::broadcast;

/// Events kept per subscriber before the oldest are dropped.
pub const EVENT_BACKLOG: usize = 1024;

/// Something operators may want to see at once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A gateway connected.
    NodeOnline { node: NodeId, site: Site },
    /// A gateway's session ended.
    NodeOffline { node: NodeId, site: Site },
    /// An agent's view changed (state, call, hold, consult).
    Agent { agent: AgentId, view: AgentView },
    /// Something happened to a call (arrived, offered, answered, transferred,
    /// ended); `agent` is the agent it concerns, if any.
    Call {
        call: CallId,
        queue: Option<QueueId>,
        agent: Option<AgentId>,
        what: String,
    },
    /// A queue's occupancy changed.
    Queue {
        queue: QueueId,
        waiting: u32,
        longest_wait_ms: u64,
    },
}

impl Event {
    /// The agent the event is about, for role filtering.
    pub fn agent(&self) -> Option<AgentId> {
        match self {
            Event::Agent { agent, .. } => Some(*agent),
            Event::Call { agent, .. } => *agent,
            _ => None,
        }
    }

    /// The SSE event name.
    pub fn name(&self) -> &'static str {
        match self {
            Event::NodeOnline { .. } => "node_online",
            Event::NodeOffline { .. } => "node_offline",
            Event::Agent { .. } => "agent",
            Event::Call { .. } => "call",
            Event::Queue { .. } => "queue",
        }
    }

    /// Node events are for people who look after sites, not for agents' desks.
    pub fn is_node_event(&self) -> bool {
        matches!(self, Event::NodeOnline { .. } | Event::NodeOffline { .. })
    }
}

/// Fan-out of [`Event`]s to every subscriber.
#[derive(Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Event>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self {
            tx: broadcast::channel(EVENT_BACKLOG).0,
        }
    }
}

impl EventBus {
    /// Sends `event` to every current subscriber (none is fine).
    pub fn publish(&self, event: Event) {
        let _ = self.tx.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn subscribers_get_what_is_published_after_they_subscribe() {
        let bus = EventBus::default();
        bus.publish(Event::Queue {
            queue: QueueId(1),
            waiting: 0,
            longest_wait_ms: 0,
        });
        let mut rx = bus.subscribe();
        let e = Event::Agent {
            agent: AgentId(7),
            view: AgentView::default(),
        };
        bus.publish(e.clone());
        assert_eq!(rx.recv().await.unwrap(), e);
        assert_eq!(e.agent(), Some(AgentId(7)));
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["type"], "agent");
    }
}
