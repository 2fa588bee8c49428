//! A deterministic discrete-event simulation of callers and agents around the real
//! engine: Poisson arrivals, exponential or lognormal handle times, optional caller
//! patience (abandonment), one seed. Pure logic like the engine, so the node's
//! tests, the `tandem-sim` command line and the benchmarks all run the same code.
//!
//! The simulated world is one queue served by `agents` agents in one group,
//! longest idle first; agents answer offers at once and have no wrap-up. That is
//! the M/M/N (or M/M/N+M with patience) system of queueing theory, so results can
//! be checked against Erlang C (or Erlang A).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::config::{
    AgentConfig, GroupConfig, Membership, QueueConfig, RoutingConfig, ServiceLevelTarget,
    TargetStep, WrapUpPolicy,
};
use super::engine::{RouteError, Router};
use super::events::{ActionKind, Event, EventKind, Input};
use super::kpi::{KpiReport, QueueKpis};
use super::model::{AgentId, CallId, Channel, GroupId, GroupKind, QueueId, Site, Strategy};
use super::time::Timestamp;

/// Simulated time starts at Monday 2024-01-01 00:00 UTC.
const START: Timestamp = Timestamp(1_704_067_200_000);
/// The single queue and group of the simulated world.
const QUEUE: QueueId = QueueId(1);

/// A positive random duration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Distribution {
    /// Memoryless, as queueing theory assumes.
    Exponential {
        /// Mean in ms.
        mean_ms: f64,
    },
    /// Right-skewed, as real handle times are.
    LogNormal {
        /// Mean in ms.
        mean_ms: f64,
        /// Standard deviation in ms.
        sd_ms: f64,
    },
}

impl Distribution {
    fn sample(&self, rng: &mut StdRng) -> u64 {
        let ms = match *self {
            Distribution::Exponential { mean_ms } => -uniform(rng).ln() * mean_ms,
            Distribution::LogNormal { mean_ms, sd_ms } => {
                // Parameters of the underlying normal from the desired mean and sd.
                let sigma2 = (1.0 + (sd_ms / mean_ms).powi(2)).ln();
                let mu = mean_ms.ln() - sigma2 / 2.0;
                // Box–Muller.
                let z = (-2.0 * uniform(rng).ln()).sqrt()
                    * (2.0 * std::f64::consts::PI * uniform(rng)).cos();
                (mu + sigma2.sqrt() * z).exp()
            }
        };
        ms.round() as u64
    }

    fn valid(&self) -> bool {
        match *self {
            Distribution::Exponential { mean_ms } => mean_ms.is_finite() && mean_ms > 0.0,
            Distribution::LogNormal { mean_ms, sd_ms } => {
                mean_ms.is_finite() && mean_ms > 0.0 && sd_ms.is_finite() && sd_ms >= 0.0
            }
        }
    }
}

/// Uniform on (0, 1): never 0, so its logarithm is finite.
fn uniform(rng: &mut StdRng) -> f64 {
    rng.random_range(f64::EPSILON..1.0)
}

/// What to simulate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scenario {
    /// Number of agents, all ready from the start.
    pub agents: u32,
    /// Poisson arrival rate, calls per second.
    pub arrival_rate_per_s: f64,
    /// Handle time of each call.
    pub handle: Distribution,
    /// How long each caller is willing to wait; `None` = forever.
    pub patience: Option<Distribution>,
    /// Number of calls to generate.
    pub calls: u32,
    /// Seed of every random draw.
    pub seed: u64,
    /// Service-level threshold for the queue's KPIs.
    pub service_level_ms: u64,
}

/// A scenario that cannot run.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum SimError {
    /// A parameter out of range, named.
    #[error("{0} must be a positive finite number")]
    BadParameter(&'static str),
    /// The engine refused an input (a bug in the engine or the simulator).
    #[error("engine refused a simulated input: {0}")]
    Engine(#[from] RouteError),
    /// The generated configuration was rejected.
    #[error("simulated configuration rejected: {0}")]
    Config(#[from] super::config::ConfigError),
}

/// Everything that happened, for KPIs and checks.
#[derive(Debug, Clone)]
pub struct SimRun {
    /// The configuration the engine ran with (for `KpiReport::from_events`).
    pub config: RoutingConfig,
    /// Every event the engine recorded, in order.
    pub events: Vec<Event>,
    /// For each call that had to queue: the EWT announced when it queued.
    pub ewt_at_entry: HashMap<CallId, u64>,
    /// When the last call left the system.
    pub end: Timestamp,
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Happening {
    Arrival,
    GivesUp(CallId),
    HangsUp(CallId),
}

impl Scenario {
    /// An M/M/N scenario: `agents` agents, Poisson arrivals at `arrival_rate_per_s`,
    /// exponential handle times of mean `aht_s` seconds, nobody abandons, service
    /// level measured at 20 s — the system [`Scenario::erlang_c`] predicts.
    pub fn mm_n(agents: u32, arrival_rate_per_s: f64, aht_s: f64, calls: u32, seed: u64) -> Self {
        Scenario {
            agents,
            arrival_rate_per_s,
            handle: Distribution::Exponential {
                mean_ms: aht_s * 1000.0,
            },
            patience: None,
            calls,
            seed,
            service_level_ms: 20_000,
        }
    }

    /// The single-queue configuration of this scenario.
    pub fn config(&self) -> RoutingConfig {
        let mean_handle = match self.handle {
            Distribution::Exponential { mean_ms } | Distribution::LogNormal { mean_ms, .. } => {
                mean_ms
            }
        };
        let agents: Vec<AgentConfig> = (1..=self.agents)
            .map(|a| AgentConfig {
                id: AgentId(a),
                name: format!("sim agent {a}"),
                site: Site::Home,
                max_chats: 1,
                max_missed_offers: 3,
                wrap_up: None,
            })
            .collect();
        RoutingConfig {
            groups: vec![GroupConfig {
                id: GroupId(1),
                name: "sim group".into(),
                kind: GroupKind::Team,
                strategy: None,
                members: agents
                    .iter()
                    .map(|a| Membership {
                        agent: a.id,
                        priority: 0,
                        proficiency: 3,
                        windows: Vec::new(),
                    })
                    .collect(),
            }],
            agents,
            queues: vec![QueueConfig {
                id: QUEUE,
                name: "sim queue".into(),
                priority: 0,
                service_level: ServiceLevelTarget {
                    percent: 80,
                    threshold_ms: self.service_level_ms,
                },
                max_waiting: None,
                business_hours: None,
                strategy: Strategy::LongestIdle,
                targets: vec![TargetStep {
                    group: GroupId(1),
                    after_ms: 0,
                    min_proficiency: 1,
                }],
                overflow: Vec::new(),
                wrap_up: WrapUpPolicy::default(),
                offer_timeout_ms: 15_000,
                retry_same_agent_after_ms: 5_000,
                aging_ms_per_level: None,
                // Announce on entry (and every hour after), to record the EWT callers hear.
                announce_every_ms: Some(3_600_000),
                callback_when_ewt_over_ms: None,
                initial_aht_ms: (mean_handle.round() as u64).clamp(1_000, 86_400_000),
            }],
            ..RoutingConfig::default()
        }
    }

    /// Runs the scenario to the end (every call answered and finished, or abandoned).
    pub fn run(&self) -> Result<SimRun, SimError> {
        if self.agents == 0 {
            return Err(SimError::BadParameter("agents"));
        }
        if !(self.arrival_rate_per_s.is_finite() && self.arrival_rate_per_s > 0.0) {
            return Err(SimError::BadParameter("arrival_rate_per_s"));
        }
        if !self.handle.valid() {
            return Err(SimError::BadParameter("handle"));
        }
        if self.patience.is_some_and(|p| !p.valid()) {
            return Err(SimError::BadParameter("patience"));
        }
        let config = self.config();
        let mut router = Router::new(config.clone(), START)?;
        for a in 1..=self.agents {
            router.handle(START, Input::AgentLogin { agent: AgentId(a) })?;
            router.handle(START, Input::AgentReady { agent: AgentId(a) })?;
        }
        let mut rng = StdRng::seed_from_u64(self.seed);
        let inter_arrival = Distribution::Exponential {
            mean_ms: 1000.0 / self.arrival_rate_per_s,
        };
        let mut agenda: BinaryHeap<Reverse<(Timestamp, Happening)>> = BinaryHeap::new();
        agenda.push(Reverse((
            START.plus(inter_arrival.sample(&mut rng)),
            Happening::Arrival,
        )));
        let mut run = SimRun {
            config,
            events: Vec::new(),
            ewt_at_entry: HashMap::new(),
            end: START,
        };
        let mut arrived = 0u32;
        let mut answered = std::collections::HashSet::new();
        while let Some(Reverse((now, happening))) = agenda.pop() {
            let input = match happening {
                Happening::Arrival => {
                    arrived += 1;
                    if arrived < self.calls {
                        agenda.push(Reverse((
                            now.plus(inter_arrival.sample(&mut rng)),
                            Happening::Arrival,
                        )));
                    }
                    let call = CallId(u64::from(arrived));
                    if let Some(p) = &self.patience {
                        agenda.push(Reverse((
                            now.plus(p.sample(&mut rng)),
                            Happening::GivesUp(call),
                        )));
                    }
                    Some(Input::CallArrived {
                        call,
                        queue: QUEUE,
                        caller: None,
                        priority: 0,
                        channel: Channel::Voice,
                    })
                }
                Happening::GivesUp(call) => {
                    (!answered.contains(&call)).then_some(Input::CallAbandoned { call })
                }
                Happening::HangsUp(call) => Some(Input::CallEnded { call }),
            };
            if let Some(input) = input {
                router.handle(now, input)?;
            }
            // Offers are answered on the spot; answered calls hang up after their handle time.
            for action in router.drain_actions() {
                match action.kind {
                    ActionKind::Offer { offer, call, .. } => {
                        router.handle(now, Input::OfferAccepted { offer })?;
                        answered.insert(call);
                        agenda.push(Reverse((
                            now.plus(self.handle.sample(&mut rng)),
                            Happening::HangsUp(call),
                        )));
                    }
                    ActionKind::Announce {
                        call,
                        ewt_ms: Some(ewt),
                        ..
                    } => {
                        run.ewt_at_entry.entry(call).or_insert(ewt);
                    }
                    _ => {}
                }
            }
            run.events.extend(router.drain_events());
            run.end = now;
        }
        Ok(run)
    }
}

/// A mean with its 95 % confidence half-width, from batch means.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// Sample mean (after warm-up).
    pub mean: f64,
    /// Standard error of the mean from the batch means.
    pub std_error: f64,
}

impl Estimate {
    /// Standard errors either side of the mean within which theory must lie for
    /// the theory checks to pass: 3.5, ≈ 99.95 % two-sided if the batches were
    /// independent — wide enough that a correct engine fails no check by chance
    /// among the dozens run, narrow enough to catch a biased one.
    pub const CHECK_STD_ERRORS: f64 = 3.5;

    /// The interval `mean ± CHECK_STD_ERRORS · std_error` the theory checks use.
    pub fn check_interval(&self) -> (f64, f64) {
        let half = Self::CHECK_STD_ERRORS * self.std_error;
        (self.mean - half, self.mean + half)
    }

    /// Whether `theory` lies within [`Estimate::check_interval`].
    pub fn agrees_with(&self, theory: f64) -> bool {
        let (low, high) = self.check_interval();
        (low..=high).contains(&theory)
    }

    /// The same estimate in another unit (e.g. `0.001` for ms → s).
    pub fn scaled(&self, factor: f64) -> Estimate {
        Estimate {
            mean: self.mean * factor,
            std_error: self.std_error * factor,
        }
    }

    /// Mean and standard error of `samples` (in arrival order): the first 5 % are
    /// dropped as warm-up, the rest cut into `batches` equal batches whose means are
    /// treated as independent. `None` with fewer samples than two per batch.
    pub fn batch_means(samples: &[f64], batches: usize) -> Option<Estimate> {
        let kept = &samples[samples.len() / 20..];
        let size = kept.len() / batches.max(1);
        if batches < 2 || size < 2 {
            return None;
        }
        let means: Vec<f64> = kept
            .chunks_exact(size)
            .take(batches)
            .map(|b| b.iter().sum::<f64>() / size as f64)
            .collect();
        let n = means.len() as f64;
        let mean = means.iter().sum::<f64>() / n;
        let var = means.iter().map(|m| (m - mean).powi(2)).sum::<f64>() / (n - 1.0);
        Some(Estimate {
            mean,
            std_error: (var / n).sqrt(),
        })
    }

    /// Half-width of the 95 % confidence interval (normal approximation).
    pub fn ci95(&self) -> f64 {
        1.96 * self.std_error
    }
}

/// The measured figures of a run, with confidence intervals, as printed by
/// `tandem-sim erlang --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimSummary {
    /// KPIs of the queue, computed from the events by their written definitions.
    pub kpis: QueueKpis,
    /// Fraction of contacts (answered or abandoned) that had to wait at all.
    pub p_wait: Estimate,
    /// Wait of answered contacts, ms (its mean is the ASA).
    pub answer_wait_ms: Estimate,
    /// Fraction of contacts answered within the service-level threshold.
    pub service_level: Estimate,
    /// Fraction of contacts abandoned.
    pub abandonment: Estimate,
    /// Wait of answered contacts that had to queue, ms.
    pub queued_wait_ms: Option<Estimate>,
    /// EWT announced on entry to contacts that had to queue, ms.
    pub announced_ewt_ms: Option<Estimate>,
    /// Agent occupancy over the run.
    pub occupancy: Option<f64>,
}

/// Batches used for confidence intervals.
const BATCHES: usize = 20;

impl SimRun {
    /// Figures of the run in order of outcome; `None` if too few calls for
    /// confidence intervals (fewer than 2 per batch).
    pub fn summary(&self) -> Option<SimSummary> {
        let threshold = self
            .config
            .queues
            .first()
            .map_or(20_000, |q| q.service_level.threshold_ms);
        let report = KpiReport::from_events(&self.events, &self.config, self.end);
        let flag = |b: bool| f64::from(u8::from(b));
        let (mut waited, mut within, mut abandoned, mut answer_wait, mut queued, mut ewt) = (
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
        );
        for e in &self.events {
            match e.kind {
                EventKind::Answered {
                    call, waited_ms, ..
                } => {
                    waited.push(flag(waited_ms > 0));
                    within.push(flag(waited_ms <= threshold));
                    abandoned.push(0.0);
                    answer_wait.push(waited_ms as f64);
                    if let Some(&announced) = self.ewt_at_entry.get(&call) {
                        queued.push(waited_ms as f64);
                        ewt.push(announced as f64);
                    }
                }
                EventKind::Abandoned { waited_ms, .. } => {
                    waited.push(flag(waited_ms > 0));
                    within.push(0.0);
                    abandoned.push(1.0);
                }
                _ => {}
            }
        }
        Some(SimSummary {
            kpis: report.total(),
            p_wait: Estimate::batch_means(&waited, BATCHES)?,
            answer_wait_ms: Estimate::batch_means(&answer_wait, BATCHES)?,
            service_level: Estimate::batch_means(&within, BATCHES)?,
            abandonment: Estimate::batch_means(&abandoned, BATCHES)?,
            queued_wait_ms: Estimate::batch_means(&queued, BATCHES),
            announced_ewt_ms: Estimate::batch_means(&ewt, BATCHES),
            occupancy: report.occupancy(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distributions_have_the_requested_mean() {
        let mut rng = StdRng::seed_from_u64(9);
        for d in [
            Distribution::Exponential { mean_ms: 60_000.0 },
            Distribution::LogNormal {
                mean_ms: 60_000.0,
                sd_ms: 40_000.0,
            },
        ] {
            let n = 100_000;
            let mean = (0..n).map(|_| d.sample(&mut rng) as f64).sum::<f64>() / f64::from(n);
            assert!((mean - 60_000.0).abs() < 1_000.0, "{d:?}: {mean}");
        }
    }

    #[test]
    fn bad_scenarios_name_the_parameter() {
        let ok = Scenario {
            agents: 2,
            arrival_rate_per_s: 0.01,
            handle: Distribution::Exponential { mean_ms: 60_000.0 },
            patience: None,
            calls: 100,
            seed: 1,
            service_level_ms: 20_000,
        };
        let bad = Scenario {
            arrival_rate_per_s: f64::NAN,
            ..ok.clone()
        };
        assert_eq!(
            bad.run().err(),
            Some(SimError::BadParameter("arrival_rate_per_s"))
        );
        let bad = Scenario {
            patience: Some(Distribution::Exponential { mean_ms: -1.0 }),
            ..ok.clone()
        };
        assert_eq!(bad.run().err(), Some(SimError::BadParameter("patience")));
        let run = ok.run();
        assert!(run.as_ref().is_ok_and(|r| r.summary().is_some()), "{run:?}");
    }

    #[test]
    fn same_seed_same_run() {
        let s = Scenario {
            agents: 3,
            arrival_rate_per_s: 0.04,
            handle: Distribution::LogNormal {
                mean_ms: 60_000.0,
                sd_ms: 30_000.0,
            },
            patience: Some(Distribution::Exponential { mean_ms: 30_000.0 }),
            calls: 500,
            seed: 4,
            service_level_ms: 20_000,
        };
        let a = s.run().map(|r| r.events);
        assert!(a.as_ref().is_ok_and(|e| {
            e.iter()
                .any(|e| matches!(e.kind, EventKind::Abandoned { .. }))
        }));
        assert_eq!(a, s.run().map(|r| r.events));
    }
}
