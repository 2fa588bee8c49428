//! `tandem-sim bench media`: the media plane's figures in one report: one-way
//! latency added by Tandem with its breakdown next to the physical floor,
//! transcoded channels per core, and datagrams the relay forwards per core.

use super::relay::{self, RelayBenchOptions, RelayBenchReport};
use anyhow::Result;
use serde::Serialize;
use std::time::Duration;
use tandem_node::media::bench_support::{ChannelCost, LatencyFigure, channel_cost, latency};
use tandem_node::media::{CodecConfig, FrameDuration, SampleRate};

/// Benchmark parameters.
#[derive(Debug, Clone)]
pub struct MediaBenchOptions {
    /// CPU seconds each cost figure is measured over.
    pub min_cpu_s: f64,
    /// Relay part (legs, rate, window).
    pub relay: RelayBenchOptions,
}

/// What the benchmark measured.
#[derive(Debug, Clone, Serialize)]
pub struct MediaBenchReport {
    pub latency: Vec<LatencyFigure>,
    pub channels: Vec<ChannelCost>,
    pub default_complexity: u8,
    pub relay: RelayBenchReport,
}

/// Runs the benchmark.
pub async fn run(options: &MediaBenchOptions) -> Result<MediaBenchReport> {
    let min = options.min_cpu_s;
    let cpu_bound = tokio::task::spawn_blocking(move || -> Result<_> {
        let mut latency_figures = Vec::new();
        for frame in [FrameDuration::Ms20, FrameDuration::Ms10] {
            for (from, to) in [
                (SampleRate::Narrowband, SampleRate::Wideband),
                (SampleRate::Wideband, SampleRate::Narrowband),
            ] {
                latency_figures.push(latency(frame, from, to, min)?);
            }
        }
        let mut channels = Vec::new();
        for complexity in [9u8, 5, 3, 1] {
            for rate in [SampleRate::Narrowband, SampleRate::Wideband] {
                channels.push(channel_cost(rate, complexity, min)?);
            }
        }
        Ok((latency_figures, channels))
    });
    let (latency, channels) = cpu_bound.await??;
    let relay = relay::run(&options.relay).await?;
    Ok(MediaBenchReport {
        latency,
        channels,
        default_complexity: CodecConfig::voice(SampleRate::Narrowband).complexity,
        relay,
    })
}

impl Default for MediaBenchOptions {
    fn default() -> Self {
        Self {
            min_cpu_s: 2.0,
            relay: RelayBenchOptions {
                pairs: 100,
                rate_per_leg: 1000,
                window: Duration::from_secs(3),
            },
        }
    }
}

impl std::fmt::Display for MediaBenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "media benchmark (costs are per-thread CPU time)")?;
        writeln!(f, "  one-way latency added by Tandem, loopback (ms):")?;
        writeln!(
            f,
            "    frame  from->to      framing lookahead jitterbuf device compute | phase0  mean   max | floor goal"
        )?;
        for l in &self.latency {
            writeln!(
                f,
                "    {:>3} ms {:>5}->{:<5}   {:>5.1} {:>9.1} {:>9.1} {:>6.1} {:>7.2} | {:>6.1} {:>5.1} {:>5.1} | {:>5.1} {:>4}",
                l.frame_ms,
                l.from_hz,
                l.to_hz,
                l.framing_ms,
                l.lookahead_ms,
                l.jitter_buffer_ms,
                l.device_ms,
                l.compute_ms,
                l.total_phase0_ms,
                l.mean_ms,
                l.max_ms,
                l.floor_ms,
                l.goal_ms
            )?;
        }
        writeln!(
            f,
            "  transcoded channels per core (G.711 <-> Opus full duplex + jitter buffer, 20 ms; default complexity {}; goal >= 300):",
            self.default_complexity
        )?;
        for c in &self.channels {
            writeln!(
                f,
                "    {:>5} Hz complexity {:>2}: {:>6.1} us/frame -> {:>4.0} channels",
                c.rate_hz, c.complexity, c.us_per_frame, c.channels_per_core
            )?;
        }
        write!(f, "  {}", self.relay.to_string().replace('\n', "\n  "))
    }
}
