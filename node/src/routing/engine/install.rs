//! Installing a configuration: building the indexes, carrying over calls and
//! agent statistics, and re-matching after a change.

use super::*;

impl Router {
    // ---- configuration ------------------------------------------------------------

    pub(super) fn replace_config(&mut self, config: RoutingConfig) -> Result<(), RouteError> {
        self.install(config)?;
        let waiting: Vec<CallId> = self
            .calls
            .iter()
            .filter(|(_, c)| c.state == CallState::Waiting)
            .map(|(&id, _)| id)
            .collect();
        for call in waiting {
            self.check_call(call);
        }
        let free: Vec<usize> = (0..self.agents.len())
            .filter(|&a| self.agents[a].can_take_any())
            .collect();
        self.rematch(free);
        Ok(())
    }

    /// Builds the indexes for `config`, carrying over every agent's statistics and
    /// every call's age and place. Validates first; on error nothing changed.
    pub(super) fn install(&mut self, config: RoutingConfig) -> Result<(), ConfigError> {
        config.validate()?;
        let queue_ids: HashSet<QueueId> = config.queues.iter().map(|q| q.id).collect();
        let agent_ids: HashSet<AgentId> = config.agents.iter().map(|a| a.id).collect();
        let mut per_queue: HashMap<QueueId, usize> = HashMap::new();
        for c in self.calls.values() {
            *per_queue.entry(c.queue).or_default() += 1;
        }
        if let Some((&queue, &calls)) = per_queue
            .iter()
            .filter(|(q, _)| !queue_ids.contains(q))
            .min()
        {
            return Err(ConfigError::QueueInUse { queue, calls });
        }
        if let Some(a) = self
            .agents
            .iter()
            .find(|a| a.presence != Presence::LoggedOut && !agent_ids.contains(&a.cfg.id))
        {
            return Err(ConfigError::AgentInUse(a.cfg.id));
        }

        let mut old_agents: HashMap<AgentId, AgentRt> = std::mem::take(&mut self.agents)
            .into_iter()
            .map(|a| (a.cfg.id, a))
            .collect();
        self.agents = config
            .agents
            .into_iter()
            .map(|cfg| match old_agents.remove(&cfg.id) {
                Some(mut rt) => {
                    rt.cfg = cfg;
                    rt.memberships.clear();
                    rt.indexed_ready = false;
                    rt
                }
                None => AgentRt::new(cfg, self.now),
            })
            .collect();
        self.agent_index = self
            .agents
            .iter()
            .enumerate()
            .map(|(i, a)| (a.cfg.id, i))
            .collect();

        self.groups = config
            .groups
            .into_iter()
            .enumerate()
            .map(|(g, cfg)| {
                let members = cfg
                    .members
                    .into_iter()
                    .enumerate()
                    .filter_map(|(slot, m)| {
                        let agent = *self.agent_index.get(&m.agent)?;
                        self.agents[agent].memberships.push((g, slot));
                        Some(Member {
                            agent,
                            priority: m.priority,
                            proficiency: m.proficiency,
                            windows: m.windows,
                        })
                    })
                    .collect();
                GroupRt {
                    id: cfg.id,
                    strategy: cfg.strategy,
                    members,
                    ready: BTreeSet::new(),
                    serves: Vec::new(),
                }
            })
            .collect();
        let group_index: HashMap<GroupId, usize> = self
            .groups
            .iter()
            .enumerate()
            .map(|(i, g)| (g.id, i))
            .collect();

        let mut old_queues: HashMap<QueueId, QueueRt> = std::mem::take(&mut self.queues)
            .into_iter()
            .map(|q| (q.cfg.id, q))
            .collect();
        for cfg in config.queues {
            let q = self.queues.len();
            let mut rings: Vec<Ring> = cfg
                .targets
                .iter()
                .filter_map(|t| {
                    let group = *group_index.get(&t.group)?;
                    Some(Ring {
                        group,
                        after_ms: t.after_ms,
                        min_proficiency: t.min_proficiency,
                    })
                })
                .collect();
            // Open rings are always a prefix: inner (earlier-opening) rings first.
            rings.sort_by_key(|r| r.after_ms);
            for (r, ring) in rings.iter().enumerate() {
                self.groups[ring.group].serves.push((q, r));
            }
            let aht = old_queues
                .remove(&cfg.id)
                .map_or(HandleTimeEstimate::new(cfg.initial_aht_ms), |old| old.aht);
            self.queues.push(QueueRt {
                cfg,
                rings,
                waiting: BTreeSet::new(),
                aht,
            });
        }
        self.queue_index = self
            .queues
            .iter()
            .enumerate()
            .map(|(i, q)| (q.cfg.id, i))
            .collect();

        for (&id, c) in self.calls.iter_mut() {
            let Some(&q) = self.queue_index.get(&c.queue) else {
                continue;
            };
            c.key = QueueKey::new(&self.queues[q].cfg, c.priority, c.arrival, id);
            // Rings are re-evaluated under the new targets; later openings are timed from here.
            c.rings_open = self.queues[q].rings_open(self.now.since(c.arrival));
            if c.state == CallState::Waiting {
                self.queues[q].waiting.insert(c.key);
            }
        }

        self.fairness = config.fairness;
        self.utc_offset = config.utc_offset_minutes;
        self.blacklist =
            NumberTable::new(config.blacklist.into_iter().map(|b| (b.pattern, b.action)));
        self.vips = NumberTable::new(
            config
                .vips
                .into_iter()
                .map(|v| (v.pattern, (v.priority, v.agents))),
        );
        self.sticky.set_capacity(config.sticky_capacity);
        for a in 0..self.agents.len() {
            self.agent_changed(a);
        }
        self.shift_check = None;
        self.schedule_shift_boundary();
        Ok(())
    }
}
