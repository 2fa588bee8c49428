//! Memory of which agent last served each caller, for the caller-number strategy
//! ("same caller → same agent when possible"). Bounded: the oldest callers are
//! forgotten first, so a busy year does not grow the coordinator without limit.

use std::collections::{HashMap, VecDeque};

use super::model::AgentId;

#[derive(Debug, Clone, Default)]
pub(crate) struct StickyAgents {
    last: HashMap<String, AgentId>,
    order: VecDeque<String>,
    capacity: usize,
}

impl StickyAgents {
    pub fn new(capacity: usize) -> Self {
        StickyAgents {
            capacity,
            ..StickyAgents::default()
        }
    }

    /// Changes the bound, forgetting the oldest callers if it shrank.
    pub fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity;
        self.evict();
    }

    pub fn remember(&mut self, caller: &str, agent: AgentId) {
        if self.last.insert(caller.to_string(), agent).is_none() {
            self.order.push_back(caller.to_string());
            self.evict();
        }
    }

    pub fn get(&self, caller: &str) -> Option<AgentId> {
        self.last.get(caller).copied()
    }

    fn evict(&mut self) {
        while self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.last.remove(&old);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_last_agent_and_forgets_oldest_caller() {
        let mut s = StickyAgents::new(2);
        s.remember("1", AgentId(1));
        s.remember("2", AgentId(2));
        s.remember("1", AgentId(3));
        assert_eq!(s.get("1"), Some(AgentId(3)));
        s.remember("4", AgentId(4));
        assert_eq!(s.get("1"), None, "oldest caller forgotten");
        assert_eq!(s.get("2"), Some(AgentId(2)));
        s.set_capacity(1);
        assert_eq!(s.get("2"), None);
        assert_eq!(s.get("4"), Some(AgentId(4)));
    }
}
