//! What the simulated world does, decided up front from one seed: when callers
//! ring which branch, what they press in the IVR, how long they are willing to
//! wait, and how long agents talk, whether they transfer and how long they wrap
//! up. Pure, so a demo run is reproducible and the plan can be tested without a
//! network.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::Duration;

/// The shape of the simulated traffic.
#[derive(Debug, Clone)]
pub struct TrafficConfig {
    /// Poisson arrival rate at each branch, calls per minute.
    pub calls_per_minute_per_site: f64,
    /// Mean of the callers' (exponential) patience while queued.
    pub mean_patience: Duration,
    /// Mean of the agents' (exponential) talk time.
    pub mean_talk: Duration,
    /// Share of answered calls the agent transfers to the expert pool.
    pub transfer_share: f64,
    /// Share of callers whose number is on the blacklist.
    pub blacklisted_share: f64,
    /// Relative weights of the IVR choices: digit, weight.
    pub menu: Vec<(char, f64)>,
    /// One seed for everything.
    pub seed: u64,
}

impl Default for TrafficConfig {
    /// Busy but serviceable: the demo's agents stay mostly occupied, some
    /// callers abandon, a few calls go to the experts.
    fn default() -> Self {
        TrafficConfig {
            calls_per_minute_per_site: 4.0,
            mean_patience: Duration::from_secs(40),
            mean_talk: Duration::from_secs(12),
            transfer_share: 0.15,
            blacklisted_share: 0.02,
            menu: vec![('1', 0.6), ('2', 0.35), ('9', 0.05)],
            seed: 2026,
        }
    }
}

/// One simulated caller.
#[derive(Debug, Clone, PartialEq)]
pub struct CallerPlan {
    /// Time since the start of traffic at which the line rings.
    pub at: Duration,
    /// The branch, as an index into the caller's list of sites.
    pub site: usize,
    /// Caller ID sent on the line.
    pub number: String,
    /// What the caller presses at the menu (`None`: waits for the default).
    pub digit: Option<char>,
    /// How long the caller waits for an agent before hanging up.
    pub patience: Duration,
}

/// What an agent does with one answered call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AgentPlan {
    /// Ring time before answering.
    pub answer_after: Duration,
    /// Conversation length.
    pub talk: Duration,
    /// Transfer to the expert pool instead of hanging up.
    pub transfer: bool,
    /// After-call work before the agent is ready again.
    pub wrap_up: Duration,
}

/// A seeded source of caller and agent behaviour.
#[derive(Debug)]
pub struct Traffic {
    config: TrafficConfig,
    rng: StdRng,
    next_at: Vec<Duration>,
}

fn exponential(rng: &mut StdRng, mean_s: f64) -> f64 {
    let u: f64 = rng.random_range(f64::EPSILON..1.0);
    -mean_s * u.ln()
}

impl Traffic {
    /// Traffic for `sites` branches.
    pub fn new(config: TrafficConfig, sites: usize) -> Self {
        let mut rng = StdRng::seed_from_u64(config.seed);
        let mut next_at = Vec::with_capacity(sites);
        for _ in 0..sites {
            let gap = Self::gap(&config, &mut rng);
            next_at.push(gap);
        }
        Traffic {
            config,
            rng,
            next_at,
        }
    }

    fn gap(config: &TrafficConfig, rng: &mut StdRng) -> Duration {
        let rate_per_s = config.calls_per_minute_per_site.max(1e-6) / 60.0;
        Duration::from_secs_f64(exponential(rng, 1.0 / rate_per_s))
    }

    /// The next caller across all branches, in time order.
    pub fn next_caller(&mut self) -> Option<CallerPlan> {
        let (site, at) = self
            .next_at
            .iter()
            .copied()
            .enumerate()
            .min_by_key(|(_, at)| *at)?;
        let gap = Self::gap(&self.config, &mut self.rng);
        self.next_at[site] = at + gap;
        let blacklisted = self
            .rng
            .random_bool(self.config.blacklisted_share.clamp(0.0, 1.0));
        let prefix = if blacklisted { "+86170" } else { "+86138" };
        let number = format!("{prefix}{:08}", self.rng.random_range(0..100_000_000u32));
        let total: f64 = self.config.menu.iter().map(|(_, w)| w.max(0.0)).sum();
        let mut pick = self.rng.random_range(0.0..total.max(f64::EPSILON));
        let mut digit = None;
        for (d, w) in &self.config.menu {
            if pick < w.max(0.0) {
                digit = Some(*d);
                break;
            }
            pick -= w.max(0.0);
        }
        let patience = Duration::from_secs_f64(exponential(
            &mut self.rng,
            self.config.mean_patience.as_secs_f64(),
        ));
        Some(CallerPlan {
            at,
            site,
            number,
            digit,
            patience,
        })
    }

    /// How an agent handles the next call they answer.
    pub fn agent_plan(&mut self) -> AgentPlan {
        AgentPlan {
            answer_after: Duration::from_millis(self.rng.random_range(300..2_500)),
            talk: Duration::from_secs_f64(
                exponential(&mut self.rng, self.config.mean_talk.as_secs_f64()).max(2.0),
            ),
            transfer: self
                .rng
                .random_bool(self.config.transfer_share.clamp(0.0, 1.0)),
            wrap_up: Duration::from_millis(self.rng.random_range(500..3_000)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrivals_are_in_time_order_and_match_the_rate() {
        let mut t = Traffic::new(TrafficConfig::default(), 3);
        let mut last = Duration::ZERO;
        let mut n = 0;
        while let Some(c) = t.next_caller() {
            assert!(c.at >= last);
            last = c.at;
            if c.at > Duration::from_secs(3_600) {
                break;
            }
            n += 1;
        }
        // 3 sites × 4/min × 60 min = 720 expected; Poisson sd ≈ 27.
        assert!((620..820).contains(&n), "{n} calls in an hour");
    }

    #[test]
    fn the_same_seed_gives_the_same_world() {
        let mut a = Traffic::new(TrafficConfig::default(), 2);
        let mut b = Traffic::new(TrafficConfig::default(), 2);
        for _ in 0..50 {
            assert_eq!(a.next_caller(), b.next_caller());
            assert_eq!(a.agent_plan(), b.agent_plan());
        }
    }

    #[test]
    fn menu_choices_follow_their_weights() {
        let mut t = Traffic::new(TrafficConfig::default(), 1);
        let plans: Vec<_> = (0..2_000).filter_map(|_| t.next_caller()).collect();
        let ones = plans.iter().filter(|p| p.digit == Some('1')).count() as f64;
        assert!((ones / 2_000.0 - 0.6).abs() < 0.05);
        assert!(plans.iter().all(|p| p.number.len() == 14));
    }
}
