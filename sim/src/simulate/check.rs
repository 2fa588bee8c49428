//! The invariants, checked after every step of the simulation.
//!
//! What is exact and what allows for the network: routing invariants are
//! checked on each router's own state right after a step that touched it (no
//! network in between, so no slack). Invariants about what seats and mixes
//! physically do allow a grace period, because two boxes learn of one decision
//! at different times: an agent may still be in call A's mix at branch 1 while
//! call B already rings at branch 2 for a few hundred milliseconds.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use tandem_node::routing::{AgentId, AgentState, CallId, QueueId, Router, Timestamp};

use super::branch::Stage;
use super::center::{CARD, GENERAL, is_card_specialist};
use super::world::{T0, World};

/// Longest an agent may look over capacity at the seats (network skew).
const CAPACITY_GRACE_MS: u64 = 5_000;
/// Longest a waiting call may have no router: the heartbeat timeout, a
/// reconnection and the report's trip.
const OWNER_GRACE_MS: u64 = 20_000;
/// Longest two routers may both hold one waiting call.
const DOUBLE_GRACE_MS: u64 = 5_000;
/// Slack on restored queue ages and order: the report's trip across the WAN.
const AGE_SLACK_MS: u64 = 5_000;

const NO_LOST_CALL: &str = "no-call-lost-or-duplicated";
const ONE_OFFER: &str = "agent-offered-one-call";
const CAPACITY: &str = "agent-within-capacity";
const NO_IDLE_WAIT: &str = "no-wait-beside-free-agent";
const ONE_CDR: &str = "one-cdr-per-call";
const AGES: &str = "queue-positions-and-ages-kept";
const UPLOADS: &str = "uploads-exactly-once";
const CODEC: &str = "wire-codec";
const DRAINED: &str = "network-heals-and-drains";

const ALL: [&str; 9] = [
    NO_LOST_CALL,
    ONE_OFFER,
    CAPACITY,
    NO_IDLE_WAIT,
    ONE_CDR,
    AGES,
    UPLOADS,
    CODEC,
    DRAINED,
];

/// One invariant breached: enough to replay it.
#[derive(Debug, Clone, Serialize)]
pub struct Breach {
    pub invariant: String,
    pub seed: u64,
    pub step: u64,
    /// Simulated time, ms since the start.
    pub at_ms: u64,
    pub detail: String,
}

impl std::fmt::Display for Breach {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "invariant {} breached: seed {} step {} at {} ms: {}",
            self.invariant, self.seed, self.step, self.at_ms, self.detail
        )
    }
}

/// How often an invariant was checked.
#[derive(Debug, Clone, Serialize)]
pub struct InvariantCount {
    pub name: String,
    pub checks: u64,
    pub breaches: u64,
}

/// The checker's state between steps.
#[derive(Default)]
pub struct Checks {
    counts: BTreeMap<&'static str, (u64, u64)>,
    pending: Option<Breach>,
    over_since: BTreeMap<AgentId, Timestamp>,
    unowned_since: BTreeMap<CallId, Timestamp>,
    double_since: BTreeMap<CallId, Timestamp>,
    last_sweep: Option<Timestamp>,
}

impl Checks {
    fn count(&mut self, name: &'static str, n: u64) {
        self.counts.entry(name).or_default().0 += n;
    }

    /// Per invariant, checks and breaches.
    pub fn counts(&self) -> Vec<InvariantCount> {
        ALL.iter()
            .map(|name| {
                let (checks, breaches) = self.counts.get(name).copied().unwrap_or_default();
                InvariantCount {
                    name: (*name).to_owned(),
                    checks,
                    breaches,
                }
            })
            .collect()
    }

    /// A breach found while stepping (codec, store); reported after the step.
    pub fn record_breach(
        &mut self,
        invariant: &'static str,
        seed: u64,
        step: u64,
        now: Timestamp,
        detail: String,
    ) {
        if self.pending.is_none() {
            let at_ms = now.since(T0);
            self.pending = Some(Breach {
                invariant: invariant.to_owned(),
                seed,
                step,
                at_ms,
                detail,
            });
        }
    }

    /// Counts one stored upload checked for a duplicate.
    pub fn passed_upload(&mut self) {
        self.count(UPLOADS, 1);
    }

    fn fail(&mut self, w: &World, invariant: &'static str, detail: String) -> Breach {
        self.counts.entry(invariant).or_default().1 += 1;
        Breach {
            invariant: invariant.to_owned(),
            seed: w.opts.seed,
            step: w.step,
            at_ms: w.now.since(T0),
            detail,
        }
    }

    /// Every invariant, on what the step touched.
    pub fn after_step(&mut self, w: &World) -> Result<(), Breach> {
        if let Some(b) = self.pending.take() {
            self.counts
                .entry(
                    ALL.iter()
                        .find(|n| **n == b.invariant)
                        .copied()
                        .unwrap_or(CODEC),
                )
                .or_default()
                .1 += 1;
            return Err(b);
        }
        self.capacity(w)?;
        self.idle_wait(w)?;
        self.ownership(w)?;
        self.ages(w)?;
        Ok(())
    }

    fn capacity(&mut self, w: &World) -> Result<(), Breach> {
        let agents: BTreeSet<AgentId> = w
            .truth
            .touched
            .iter()
            .chain(self.over_since.keys())
            .copied()
            .collect();
        for a in agents {
            let rings = w.truth.ringing.get(&a).map_or(0, BTreeSet::len);
            let calls = w.truth.in_calls.get(&a).map_or(0, BTreeSet::len);
            self.count(ONE_OFFER, 1);
            self.count(CAPACITY, 1);
            if rings + calls <= 1 {
                self.over_since.remove(&a);
                continue;
            }
            let since = *self.over_since.entry(a).or_insert(w.now);
            if w.now.since(since) > CAPACITY_GRACE_MS {
                let which = if rings > 1 { ONE_OFFER } else { CAPACITY };
                let detail = format!(
                    "agent {a}: ringing {:?}, in calls {:?} for {} ms",
                    w.truth.ringing.get(&a),
                    w.truth.in_calls.get(&a),
                    w.now.since(since)
                );
                return Err(self.fail(w, which, detail));
            }
        }
        Ok(())
    }

    fn members(w: &World, queue: QueueId, site: Option<usize>) -> Vec<AgentId> {
        w.center
            .seats
            .iter()
            .filter(|(a, s, _)| {
                site.is_none_or(|x| x == *s) && (queue == GENERAL || is_card_specialist(*a))
            })
            .map(|(a, _, _)| *a)
            .collect()
    }

    fn idle_wait_in(
        &mut self,
        w: &World,
        router: &Router,
        site: Option<usize>,
        who: &str,
    ) -> Result<(), Breach> {
        for q in [GENERAL, CARD] {
            self.count(NO_IDLE_WAIT, 1);
            let waiting = router.waiting(q);
            if waiting.is_empty() {
                continue;
            }
            let mut members = Self::members(w, q, site);
            if q == CARD
                && !w
                    .center
                    .seats
                    .iter()
                    .any(|(a, _, _)| is_card_specialist(*a))
            {
                members = Self::members(w, GENERAL, site);
            }
            if let Some(a) = members
                .into_iter()
                .find(|a| router.agent_state(*a) == Some(AgentState::Ready))
            {
                let detail = format!(
                    "{who}: {} call(s) wait in queue {q} while agent {a} is ready",
                    waiting.len()
                );
                return Err(self.fail(w, NO_IDLE_WAIT, detail));
            }
        }
        Ok(())
    }

    fn idle_wait(&mut self, w: &World) -> Result<(), Breach> {
        if w.touched_coord
            && let Some(cc) = &w.cc
        {
            self.idle_wait_in(w, cc.router(), None, "coordinator")?;
            // A real call waits at most once (outside a consult, unused here).
            let mut seen = BTreeSet::new();
            for q in [GENERAL, CARD] {
                for visit in cc.router().waiting(q) {
                    let real = cc.call_of_visit(visit).unwrap_or(visit);
                    self.count(NO_LOST_CALL, 1);
                    if !seen.insert(real) {
                        let detail = format!("call {real} waits twice at the coordinator");
                        return Err(self.fail(w, NO_LOST_CALL, detail));
                    }
                }
            }
        }
        for &site in &w.touched_sites {
            let b = &w.branches[site];
            if b.up {
                self.idle_wait_in(w, &b.local.router, Some(site), b.site.as_str())?;
            }
        }
        Ok(())
    }

    /// Every waiting call has exactly one router: the coordinator while its
    /// branch is online, the local router while alone.
    fn ownership(&mut self, w: &World) -> Result<(), Breach> {
        let sweep = self.last_sweep.is_none_or(|t| w.now.since(t) >= 1_000);
        let sites: Vec<usize> = if sweep {
            self.last_sweep = Some(w.now);
            (0..w.branches.len()).collect()
        } else {
            w.touched_sites.iter().copied().collect()
        };
        let mut seen_unowned = BTreeSet::new();
        let mut seen_double = BTreeSet::new();
        for site in &sites {
            let b = &w.branches[*site];
            if !b.up {
                continue;
            }
            for (id, c) in &b.calls {
                if c.stage != Stage::Waiting {
                    continue;
                }
                self.count(NO_LOST_CALL, 1);
                let local = b.local.calls.contains(id);
                let coord = b.online
                    && w.coord_online.contains(site)
                    && w.cc.as_ref().is_some_and(|cc| cc.knows(*id));
                if !local && !coord {
                    seen_unowned.insert(*id);
                    let since = *self.unowned_since.entry(*id).or_insert(w.now);
                    if w.now.since(since) > OWNER_GRACE_MS {
                        let detail = format!(
                            "call {id} waits at {} but no router holds it (for {} ms)",
                            b.site,
                            w.now.since(since)
                        );
                        return Err(self.fail(w, NO_LOST_CALL, detail));
                    }
                } else if local && coord {
                    seen_double.insert(*id);
                    let since = *self.double_since.entry(*id).or_insert(w.now);
                    if w.now.since(since) > DOUBLE_GRACE_MS {
                        let detail =
                            format!("call {id} is routed by both the coordinator and {}", b.site);
                        return Err(self.fail(w, NO_LOST_CALL, detail));
                    }
                }
            }
        }
        if sweep {
            self.unowned_since.retain(|c, _| seen_unowned.contains(c));
            self.double_since.retain(|c, _| seen_double.contains(c));
        } else {
            let touched: BTreeSet<usize> = sites.into_iter().collect();
            let in_touched = |c: &CallId| w.created.get(c).is_some_and(|s| touched.contains(s));
            self.unowned_since
                .retain(|c, _| !in_touched(c) || seen_unowned.contains(c));
            self.double_since
                .retain(|c, _| !in_touched(c) || seen_double.contains(c));
        }
        Ok(())
    }

    /// After a restore (coordinator) or a take-over (local router), waiting
    /// calls keep their order and the oldest keeps its age.
    fn ages(&mut self, w: &World) -> Result<(), Breach> {
        if w.restored
            && let Some(cc) = &w.cc
        {
            self.ages_in(w, cc.router(), |v| cc.call_of_visit(v), "coordinator")?;
        }
        for &site in &w.taken_back {
            let b = &w.branches[site];
            self.ages_in(w, &b.local.router, Some, b.site.as_str())?;
        }
        Ok(())
    }

    fn ages_in(
        &mut self,
        w: &World,
        router: &Router,
        real: impl Fn(CallId) -> Option<CallId>,
        who: &str,
    ) -> Result<(), Breach> {
        for q in [GENERAL, CARD] {
            self.count(AGES, 1);
            let mut all_fresh = true;
            let mut latest: Option<(CallId, Timestamp)> = None;
            let mut oldest: Option<Timestamp> = None;
            for visit in router.waiting(q) {
                let Some(call) = real(visit) else {
                    all_fresh = false;
                    continue;
                };
                let Some(c) = w
                    .created
                    .get(&call)
                    .and_then(|s| w.branches[*s].calls.get(&call))
                else {
                    all_fresh = false;
                    continue;
                };
                let Some(at) = c.queued_at.filter(|_| !c.requeued) else {
                    all_fresh = false;
                    continue;
                };
                oldest = Some(oldest.map_or(at, |o: Timestamp| o.min(at)));
                if let Some((before, t)) = latest
                    && at.plus(AGE_SLACK_MS) < t
                {
                    let detail = format!(
                        "{who}: queue {q} serves call {call} (queued {} ms earlier) after call {before}",
                        t.since(at)
                    );
                    return Err(self.fail(w, AGES, detail));
                }
                if latest.is_none_or(|(_, t)| at > t) {
                    latest = Some((call, at));
                }
            }
            if all_fresh && let (Some(real_oldest), Some(kept)) = (oldest, router.oldest_waiting(q))
            {
                let skew = kept.since(real_oldest).max(real_oldest.since(kept));
                if skew > AGE_SLACK_MS {
                    let detail = format!(
                        "{who}: queue {q}'s oldest call waits since {} ms in the router but {} ms at its line",
                        w.now.since(kept),
                        w.now.since(real_oldest)
                    );
                    return Err(self.fail(w, AGES, detail));
                }
            }
        }
        Ok(())
    }

    /// Once the network has healed and drained: one CDR per call, every
    /// record stored exactly once.
    pub fn at_end(&mut self, w: &World) -> Result<(), Breach> {
        self.count(DRAINED, 1);
        if !w.drained() {
            let live: usize = w.branches.iter().map(|b| b.calls.len()).sum();
            let unsent: usize = w.branches.iter().map(|b| b.outbox.len()).sum();
            let detail =
                format!("after healing: {live} calls still up, {unsent} records not uploaded");
            return Err(self.fail(w, DRAINED, detail));
        }
        for (call, site) in &w.created {
            self.count(ONE_CDR, 1);
            let n = w.cdrs.get(call).copied().unwrap_or(0);
            if n != 1 {
                let detail = format!(
                    "call {call} of site {} has {n} CDRs",
                    w.branches[*site].site
                );
                return Err(self.fail(w, ONE_CDR, detail));
            }
        }
        for call in w.cdrs.keys() {
            self.count(ONE_CDR, 1);
            if !w.created.contains_key(call) {
                return Err(self.fail(w, ONE_CDR, format!("CDR for unknown call {call}")));
            }
        }
        for (i, b) in w.branches.iter().enumerate() {
            self.count(UPLOADS, 1);
            let stored = w
                .store
                .uploads(&w.nodes[i])
                .map(|u| u.len() as u64)
                .unwrap_or(u64::MAX);
            if stored != b.produced {
                let detail = format!(
                    "{} wrote {} records, the store holds {stored}",
                    b.site, b.produced
                );
                return Err(self.fail(w, UPLOADS, detail));
            }
        }
        Ok(())
    }
}
