//! Which nodes are online right now. Soft state, rebuilt by reconnecting gateways
//! after a coordinator restart; the durable view is in [`crate::store`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use tandem_node::inventory::Inventory;
use tandem_node::link::LinkHealth;
use tandem_node::names::{NodeId, Site};
use tandem_node::proto::{GoodbyeReason, Message};
use tokio::sync::mpsc;

/// What other parts of the coordinator ask a session task to do.
#[derive(Debug)]
pub enum SessionCommand {
    /// Send a message on the node's control stream.
    Send(Message),
    /// End the session, telling the node why.
    Goodbye(GoodbyeReason),
}

/// Commands a session may have pending before call control must wait for it.
pub const SESSION_COMMAND_QUEUE: usize = 64;

/// One live session.
#[derive(Debug, Clone)]
pub struct OnlineNode {
    pub session: u64,
    pub site: Site,
    pub software_version: String,
    pub address: SocketAddr,
    /// Unix seconds.
    pub connected_at: u64,
    pub inventory: Inventory,
    pub health: LinkHealth,
    pub(crate) conn: quinn::Connection,
    pub(crate) commands: mpsc::Sender<SessionCommand>,
}

/// The online set. The lock is held only for map operations, never across I/O.
#[derive(Default)]
pub struct Registry {
    nodes: Mutex<HashMap<NodeId, OnlineNode>>,
    next_session: AtomicU64,
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<NodeId, OnlineNode>> {
        // Entries are plain data; a panic elsewhere cannot leave one half-written.
        self.nodes.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn next_session(&self) -> u64 {
        self.next_session.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Registers a session; returns the one it replaces, if any.
    pub fn insert(&self, id: NodeId, node: OnlineNode) -> Option<OnlineNode> {
        self.lock().insert(id, node)
    }

    /// Removes the entry only if it still belongs to `session` (a replacing session
    /// must not be removed by the old one's clean-up).
    pub fn remove(&self, id: &NodeId, session: u64) -> bool {
        let mut nodes = self.lock();
        if nodes.get(id).is_some_and(|n| n.session == session) {
            nodes.remove(id);
            true
        } else {
            false
        }
    }

    pub fn set_health(&self, id: &NodeId, session: u64, health: LinkHealth) {
        if let Some(n) = self.lock().get_mut(id).filter(|n| n.session == session) {
            n.health = health;
        }
    }

    pub fn get(&self, id: &NodeId) -> Option<OnlineNode> {
        self.lock().get(id).cloned()
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Asks a session to end with `reason`; closes the connection outright if the
    /// session task cannot take the request. Returns whether the node was online.
    pub fn kick(&self, id: &NodeId, reason: GoodbyeReason, code: u32) -> bool {
        let Some(node) = self.get(id) else {
            return false;
        };
        if node
            .commands
            .try_send(SessionCommand::Goodbye(reason.clone()))
            .is_err()
        {
            node.conn
                .close(quinn::VarInt::from_u32(code), reason.to_string().as_bytes());
        }
        true
    }

    /// Queues a control message for an online node; false if it is offline or its
    /// session is too far behind (the caller treats both as "not reachable").
    pub fn send(&self, id: &NodeId, message: Message) -> bool {
        let Some(commands) = self.lock().get(id).map(|n| n.commands.clone()) else {
            return false;
        };
        commands.try_send(SessionCommand::Send(message)).is_ok()
    }

    /// The live connection of a node (for media forwarding).
    pub fn connection(&self, id: &NodeId) -> Option<quinn::Connection> {
        self.lock().get(id).map(|n| n.conn.clone())
    }

    /// The online node serving `site` (the newest session if, briefly, two do).
    pub fn node_for_site(&self, site: &Site) -> Option<NodeId> {
        self.lock()
            .iter()
            .filter(|(_, n)| &n.site == site)
            .max_by_key(|(_, n)| n.session)
            .map(|(id, _)| id.clone())
    }

    /// Every online node id.
    pub fn ids(&self) -> Vec<NodeId> {
        self.lock().keys().cloned().collect()
    }
}
