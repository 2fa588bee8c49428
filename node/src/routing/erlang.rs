//! Queueing theory the engine is checked against: Erlang C for M/M/N (Poisson
//! arrivals, exponential handle times, N agents, FIFO, nobody abandons) and
//! Erlang A for M/M/N+M (the same with exponential patience).
//!
//! These are the oracles of the node's Erlang tests and of `tandem-sim erlang`;
//! they live here, next to the simulator they judge, so both use one formula.

use super::simulate::{Distribution, Scenario};

/// Erlang C predictions for one M/M/N system. Only stable systems (offered load
/// below the number of agents) have them, so construction checks that.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ErlangC {
    agents: u32,
    offered_erlangs: f64,
    aht_s: f64,
    p_wait: f64,
}

impl ErlangC {
    /// `agents` agents offered `offered_erlangs` = arrival rate × AHT, with a mean
    /// handle time of `aht_s` seconds. `None` unless `0 < offered_erlangs < agents`
    /// and `aht_s > 0` (at or above 100 % occupancy the queue grows without bound).
    pub fn new(agents: u32, offered_erlangs: f64, aht_s: f64) -> Option<ErlangC> {
        let stable = offered_erlangs > 0.0 && offered_erlangs < f64::from(agents);
        let meaningful = aht_s.is_finite() && aht_s > 0.0;
        if !(stable && meaningful) {
            return None;
        }
        // Through the Erlang B recursion B(k) = A·B(k−1) / (k + A·B(k−1)), which,
        // unlike the textbook Aᴺ/N! sums, neither overflows nor underflows for
        // thousands of agents; then C = N·B / (N − A·(1 − B)).
        let a = offered_erlangs;
        let b = (1..=agents).fold(1.0, |b, k| a * b / (f64::from(k) + a * b));
        let n = f64::from(agents);
        Some(ErlangC {
            agents,
            offered_erlangs,
            aht_s,
            p_wait: n * b / (n - a * (1.0 - b)),
        })
    }

    /// Offered load A in erlangs.
    pub fn offered_erlangs(&self) -> f64 {
        self.offered_erlangs
    }

    /// Agent occupancy A/N.
    pub fn occupancy(&self) -> f64 {
        self.offered_erlangs / f64::from(self.agents)
    }

    /// Probability that a caller has to wait at all (the Erlang C formula).
    pub fn p_wait(&self) -> f64 {
        self.p_wait
    }

    /// Mean wait of a caller who has to wait, seconds: `AHT / (N − A)`.
    pub fn wait_if_queued_s(&self) -> f64 {
        self.aht_s / (f64::from(self.agents) - self.offered_erlangs)
    }

    /// Average speed of answer over all callers, seconds: `Pw · AHT / (N − A)`.
    pub fn asa_s(&self) -> f64 {
        self.p_wait * self.wait_if_queued_s()
    }

    /// Fraction answered within `threshold_s` seconds:
    /// `1 − Pw · e^(−(N−A)·t/AHT)`.
    pub fn service_level(&self, threshold_s: f64) -> f64 {
        1.0 - self.p_wait * (-threshold_s / self.wait_if_queued_s()).exp()
    }
}

impl Scenario {
    /// The Erlang C predictions for this scenario if it is an M/M/N system:
    /// exponential handle times, no abandonment, and a load the agents can carry.
    pub fn erlang_c(&self) -> Option<ErlangC> {
        match (self.handle, self.patience) {
            (Distribution::Exponential { mean_ms }, None) => {
                let aht_s = mean_ms / 1000.0;
                ErlangC::new(self.agents, self.arrival_rate_per_s * aht_s, aht_s)
            }
            _ => None,
        }
    }
}

/// Erlang A (M/M/N+M) solved as a birth–death chain: arrivals `lambda`, services
/// `mu`·min(k, N), abandons `theta`·max(k − N, 0), all per second. Returns
/// (P(wait), P(abandon)): the first by PASTA, the second as abandonment rate ÷
/// arrival rate. There is no closed form; the chain is cut where its
/// probabilities vanish (or at 2,000 calls in the system).
pub fn erlang_a(agents: u32, lambda: f64, mu: f64, theta: f64) -> (f64, f64) {
    let mut p = vec![1.0f64];
    for k in 1..2_000u32 {
        let death = mu * f64::from(k.min(agents)) + theta * f64::from(k.saturating_sub(agents));
        let next = p[p.len() - 1] * lambda / death;
        p.push(next);
        if next < 1e-300 {
            break;
        }
    }
    let total: f64 = p.iter().sum();
    let n = (agents as usize).min(p.len());
    let p_wait = p[n..].iter().sum::<f64>() / total;
    let queue_len: f64 = p
        .iter()
        .enumerate()
        .skip(n)
        .map(|(k, pk)| (k - n) as f64 * pk)
        .sum::<f64>()
        / total;
    (p_wait, theta * queue_len / lambda)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(n: u32, a: f64, aht: f64) -> ErlangC {
        match ErlangC::new(n, a, aht) {
            Some(c) => c,
            None => panic!("M/M/{n} with {a} erlangs refused"),
        }
    }

    #[test]
    fn erlang_c_matches_known_values() {
        // Classic textbook case: 10 agents, 8 erlangs → Pw ≈ 0.4092.
        assert!((c(10, 8.0, 1.0).p_wait() - 0.409_2).abs() < 5e-4);
        // One agent: M/M/1, Pw = ρ, ASA = ρ/(1−ρ)·AHT.
        assert!((c(1, 0.7, 1.0).p_wait() - 0.7).abs() < 1e-12);
        assert!((c(1, 0.5, 100.0).asa_s() - 100.0).abs() < 1e-9);
        assert!((c(1, 0.5, 100.0).service_level(0.0) - 0.5).abs() < 1e-12);
        // Large systems stay finite (the factorial form overflows past ~170 agents).
        let big = c(5_000, 4_900.0, 180.0).p_wait();
        assert!(big.is_finite() && big > 0.0 && big < 1.0, "{big}");
    }

    #[test]
    fn erlang_c_refuses_unstable_or_meaningless_loads() {
        assert_eq!(ErlangC::new(10, 10.0, 1.0), None);
        assert_eq!(ErlangC::new(0, 0.5, 1.0), None);
        assert_eq!(ErlangC::new(10, f64::NAN, 1.0), None);
        assert_eq!(ErlangC::new(10, 5.0, 0.0), None);
    }

    #[test]
    fn erlang_a_tends_to_erlang_c_as_patience_grows() {
        let (pw, pa) = erlang_a(10, 8.0, 1.0, 1e-9);
        assert!((pw - c(10, 8.0, 1.0).p_wait()).abs() < 1e-6 && pa < 1e-6);
    }
}
