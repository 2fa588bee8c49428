//! A seeded, reproducible network impairment shim for the datagram path.
//!
//! Tests and benchmarks put it between a sender and a jitter buffer to reproduce a
//! bad home connection exactly: random loss, bursty loss (Gilbert–Elliott), fixed
//! delay, jitter, explicit reordering and duplication. Time is passed in, so a whole
//! call can be simulated in milliseconds of CPU.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// What the shim does to each datagram.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Impairment {
    /// Independent loss probability per datagram (0..=1).
    pub loss: f64,
    /// Gilbert–Elliott burst loss: probability of entering the bad state per datagram.
    pub burst_enter: f64,
    /// Probability of leaving the bad state per datagram; every datagram in the bad state is lost.
    pub burst_exit: f64,
    /// Constant one-way delay, microseconds.
    pub delay_us: u64,
    /// Extra delay drawn uniformly from 0..=jitter_us per datagram.
    pub jitter_us: u64,
    /// Probability a datagram is held back by `reorder_us` so later ones overtake it.
    pub reorder: f64,
    /// Extra hold for reordered datagrams, microseconds.
    pub reorder_us: u64,
    /// Probability a datagram is delivered twice.
    pub duplicate: f64,
}

/// Counters of what the shim did, to check tests against.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImpairStats {
    /// Datagrams offered.
    pub offered: u64,
    /// Datagrams dropped by random loss.
    pub lost_random: u64,
    /// Datagrams dropped in a loss burst.
    pub lost_burst: u64,
    /// Datagrams held back for reordering.
    pub reordered: u64,
    /// Extra copies delivered.
    pub duplicated: u64,
}

/// A one-way impaired link holding datagrams until their delivery time.
pub struct ImpairedLink {
    cfg: Impairment,
    rng: StdRng,
    in_burst: bool,
    order: u64,
    queue: BinaryHeap<Reverse<(u64, u64, Vec<u8>)>>,
    stats: ImpairStats,
}

impl ImpairedLink {
    /// A link with impairment `cfg`, reproducible from `seed`.
    pub fn new(cfg: Impairment, seed: u64) -> Self {
        ImpairedLink {
            cfg,
            rng: StdRng::seed_from_u64(seed),
            in_burst: false,
            order: 0,
            queue: BinaryHeap::new(),
            stats: ImpairStats::default(),
        }
    }

    /// What the shim has done so far.
    pub fn stats(&self) -> ImpairStats {
        self.stats
    }

    /// Offers `datagram` at `now_us`; it is lost, or scheduled for delivery.
    pub fn send(&mut self, now_us: u64, datagram: &[u8]) {
        self.stats.offered += 1;
        if self.in_burst {
            if self.rng.random_bool(self.cfg.burst_exit.clamp(0.0, 1.0)) {
                self.in_burst = false;
            }
        } else if self.rng.random_bool(self.cfg.burst_enter.clamp(0.0, 1.0)) {
            self.in_burst = true;
        }
        if self.in_burst {
            self.stats.lost_burst += 1;
            return;
        }
        if self.rng.random_bool(self.cfg.loss.clamp(0.0, 1.0)) {
            self.stats.lost_random += 1;
            return;
        }
        let copies = if self.rng.random_bool(self.cfg.duplicate.clamp(0.0, 1.0)) {
            self.stats.duplicated += 1;
            2
        } else {
            1
        };
        for _ in 0..copies {
            let mut at = now_us + self.cfg.delay_us;
            if self.cfg.jitter_us > 0 {
                at += self.rng.random_range(0..=self.cfg.jitter_us);
            }
            if self.rng.random_bool(self.cfg.reorder.clamp(0.0, 1.0)) {
                self.stats.reordered += 1;
                at += self.cfg.reorder_us;
            }
            self.order += 1;
            self.queue
                .push(Reverse((at, self.order, datagram.to_vec())));
        }
    }

    /// Next datagram due at or before `now_us`, in delivery order.
    pub fn poll(&mut self, now_us: u64) -> Option<Vec<u8>> {
        match self.queue.peek() {
            Some(Reverse((at, _, _))) if *at <= now_us => {
                self.queue.pop().map(|Reverse((_, _, d))| d)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(cfg: Impairment, seed: u64) -> (Vec<(u64, u8)>, ImpairStats) {
        let mut link = ImpairedLink::new(cfg, seed);
        let mut out = Vec::new();
        for t in 0..2000u64 {
            let now = t * 1000;
            if t < 1000 {
                link.send(now, &[(t % 251) as u8]);
            }
            while let Some(d) = link.poll(now) {
                out.push((now, d[0]));
            }
        }
        (out, link.stats())
    }

    #[test]
    fn same_seed_same_result_and_rates_match() {
        let cfg = Impairment {
            loss: 0.05,
            burst_enter: 0.01,
            burst_exit: 0.5,
            delay_us: 10_000,
            jitter_us: 5_000,
            reorder: 0.02,
            reorder_us: 3_000,
            duplicate: 0.01,
        };
        let (a, sa) = run(cfg, 42);
        let (b, _) = run(cfg, 42);
        let (c, _) = run(cfg, 43);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!((30..=70).contains(&sa.lost_random), "{sa:?}");
        assert!(sa.lost_burst > 0, "{sa:?}");
        assert!(sa.duplicated > 2 && sa.reordered > 5, "{sa:?}");
        let delivered = sa.offered - sa.lost_random - sa.lost_burst + sa.duplicated;
        assert_eq!(a.len() as u64, delivered);
        // Delay is at least the fixed part and at most fixed + jitter + reorder hold.
        for (i, &(at, _)) in a.iter().enumerate().take(10) {
            assert!(at >= 10_000, "datagram {i} at {at}");
        }
    }

    #[test]
    fn bursts_follow_the_gilbert_elliott_model() {
        let cfg = Impairment {
            burst_enter: 0.01,
            burst_exit: 0.25,
            ..Impairment::default()
        };
        let mut link = ImpairedLink::new(cfg, 11);
        let mut lost = Vec::new();
        for t in 0..100_000u64 {
            let before = link.stats().lost_burst;
            link.send(t, &[0]);
            lost.push(link.stats().lost_burst > before);
            while link.poll(t).is_some() {}
        }
        // Stationary loss ≈ enter / (enter + exit) ≈ 3.8 %, mean burst ≈ 1 / exit = 4.
        let rate = lost.iter().filter(|l| **l).count() as f64 / lost.len() as f64;
        assert!((0.03..0.047).contains(&rate), "loss rate {rate}");
        let bursts = lost.windows(2).filter(|w| !w[0] && w[1]).count() as f64;
        let mean = rate * lost.len() as f64 / bursts;
        assert!((3.2..4.8).contains(&mean), "mean burst {mean}");
    }

    #[test]
    fn clean_link_delivers_everything_in_order_after_delay() {
        let (out, s) = run(
            Impairment {
                delay_us: 7_000,
                ..Impairment::default()
            },
            1,
        );
        assert_eq!(out.len(), 1000);
        assert_eq!(s.lost_random + s.lost_burst, 0);
        assert!(out.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(out[0], (7_000, 0));
    }
}
