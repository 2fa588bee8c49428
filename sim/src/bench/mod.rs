//! Load generators and benchmarks that run the real coordinator and node code.

pub mod acd;
pub mod link;
pub mod media;
pub mod nodes;
pub mod relay;

/// Resident memory of a process (`None`: this one) in KiB, from the `VmRSS` line of
/// /proc/…/status; `None` where /proc is unavailable.
pub fn rss_kib(pid: Option<u32>) -> Option<u64> {
    let path = pid.map_or("/proc/self/status".into(), |p| format!("/proc/{p}/status"));
    std::fs::read_to_string(path)
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// Percentile of a sorted sample (nearest rank); zero for an empty sample.
pub fn percentile(sorted: &[std::time::Duration], p: f64) -> std::time::Duration {
    if sorted.is_empty() {
        return std::time::Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::{percentile, rss_kib};
    use std::time::Duration;

    #[test]
    fn nearest_rank() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&v, 50.0), Duration::from_millis(50));
        assert_eq!(percentile(&v, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&v, 100.0), Duration::from_millis(100));
        assert_eq!(percentile(&[], 50.0), Duration::ZERO);
    }

    #[test]
    fn own_rss_is_readable() {
        assert!(rss_kib(None).is_some_and(|k| k > 0));
    }
}
