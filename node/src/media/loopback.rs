//! A whole one-way media path in virtual time: line frames → [`LegSender`] →
//! [`ImpairedLink`] → [`LegReceiver`] → played frames.
//!
//! Tests use it to check that audio survives loss and jitter; the benchmark uses
//! it to measure the latency Tandem adds and print the breakdown next to the
//! physical floor. Virtual time makes every run reproducible from its seed; the
//! real CPU cost per frame is measured separately by the criterion benchmarks.

use super::analysis::delay_by_correlation;
use super::codec::{CodecConfig, CodecError, SampleRate};
use super::datagram::LegId;
use super::impair::{ImpairStats, ImpairedLink, Impairment};
use super::jitter::JitterConfig;
use super::leg::{FrameSource, LegReceiver, LegSender};
use super::stats::LegStats;

/// One simulated path.
#[derive(Debug, Clone, Copy)]
pub struct LoopbackConfig {
    /// How the sending end encodes (its rate is the input's rate).
    pub codec: CodecConfig,
    /// Rate the receiving end decodes at.
    pub receiver_rate: SampleRate,
    /// Receiving jitter buffer.
    pub jitter: JitterConfig,
    /// What the network does.
    pub impairment: Impairment,
    /// Seed of the impairment.
    pub seed: u64,
    /// Receiver playout clock offset against the sender's frame clock, µs.
    pub receiver_phase_us: u64,
    /// Receiver clock rate error, parts per million (positive: receiver runs fast).
    pub drift_ppm: f64,
    /// Playback device period at the receiver, µs (added to the latency breakdown).
    pub device_period_us: u64,
}

impl LoopbackConfig {
    /// A clean path with default codec and jitter settings.
    pub fn clean(codec: CodecConfig, receiver_rate: SampleRate) -> Self {
        LoopbackConfig {
            codec,
            receiver_rate,
            jitter: JitterConfig::for_frame(codec.frame),
            impairment: Impairment::default(),
            seed: 1,
            receiver_phase_us: 0,
            drift_ppm: 0.0,
            device_period_us: 10_000,
        }
    }
}

/// Where the one-way latency goes, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatencyBreakdown {
    /// Waiting for a whole frame to be captured.
    pub framing_ms: f64,
    /// Encoder lookahead.
    pub lookahead_ms: f64,
    /// Network (the impairment's fixed delay; 0 on loopback).
    pub network_ms: f64,
    /// What the jitter buffer and playout alignment add (measured minus the rest).
    pub jitter_buffer_ms: f64,
    /// Playback device period.
    pub device_ms: f64,
    /// Measured by cross-correlation, plus the device period.
    pub total_ms: f64,
    /// Framing + lookahead + device period: no Opus path with this frame can do better.
    pub floor_ms: f64,
}

/// What came out of a simulated path.
#[derive(Debug, Clone)]
pub struct LoopbackReport {
    /// Played audio at the receiver rate, frame after frame from the first pop.
    pub output: Vec<i16>,
    /// Source of each played frame.
    pub sources: Vec<FrameSource>,
    /// Receiver statistics.
    pub stats: LegStats,
    /// What the network did.
    pub impair: ImpairStats,
    /// Stats sampled after every pop (to check the delay stays bounded).
    pub delay_trace_ms: Vec<f64>,
}

impl LoopbackReport {
    /// Frames from the first to the last one played from real audio (decoded or
    /// FEC): the span a listener hears as the call, without start-up or drain.
    fn active(&self) -> &[FrameSource] {
        let real = |s: &FrameSource| matches!(s, FrameSource::Decoded | FrameSource::Fec);
        match (
            self.sources.iter().position(real),
            self.sources.iter().rposition(real),
        ) {
            (Some(a), Some(b)) => &self.sources[a..=b],
            _ => &[],
        }
    }

    /// Longest run of consecutive concealed frames while the call was active.
    pub fn max_conceal_run(&self) -> usize {
        let mut run = 0;
        let mut max = 0;
        for s in self.active() {
            if *s == FrameSource::Concealed {
                run += 1;
                max = max.max(run);
            } else {
                run = 0;
            }
        }
        max
    }

    /// Silent frames while the call was active (gaps a listener would hear).
    pub fn silent_while_active(&self) -> usize {
        self.active()
            .iter()
            .filter(|s| **s == FrameSource::Silence)
            .count()
    }
}

/// Runs `input` (at the codec's rate) through the path described by `cfg`.
pub fn run(cfg: &LoopbackConfig, input: &[i16]) -> Result<LoopbackReport, CodecError> {
    let leg = LegId(1);
    let mut tx = LegSender::new(leg, cfg.codec)?;
    tx.apply_loss_report((cfg.impairment.loss * 100.0).round() as u8);
    let mut rx = LegReceiver::new(leg, cfg.receiver_rate, cfg.jitter)?;
    let mut link = ImpairedLink::new(cfg.impairment, cfg.seed);
    let in_frame = cfg.codec.frame_samples();
    let out_frame = rx.frame_samples();
    let frame_us = cfg.codec.frame.micros();
    let frames = input.len() / in_frame;
    // Play until the last frame had time to cross the network and the buffer.
    let drain_us = cfg.impairment.delay_us
        + cfg.impairment.jitter_us
        + cfg.impairment.reorder_us
        + u64::from(cfg.jitter.max_delay_ms) * 1000;
    let end_us = (frames as u64 + 1) * frame_us + drain_us;
    let scale = 1.0 / (1.0 + cfg.drift_ppm * 1e-6);

    let mut report = LoopbackReport {
        output: Vec::new(),
        sources: Vec::new(),
        stats: LegStats::default(),
        impair: ImpairStats::default(),
        delay_trace_ms: Vec::new(),
    };
    let mut next_frame = 0usize;
    let mut pop = 0u64;
    let mut buf = vec![0i16; out_frame];
    loop {
        let pop_at = ((pop * frame_us + cfg.receiver_phase_us) as f64 * scale) as u64;
        if pop_at > end_us {
            break;
        }
        // The sender finishes capturing frame k at (k+1)·F and sends at once.
        while next_frame < frames && (next_frame as u64 + 1) * frame_us <= pop_at {
            let at = (next_frame as u64 + 1) * frame_us;
            let pcm = &input[next_frame * in_frame..(next_frame + 1) * in_frame];
            if let Some(d) = tx.encode_frame(pcm)? {
                link.send(at, d);
            }
            next_frame += 1;
        }
        while let Some(d) = link.poll(pop_at) {
            // Datagrams built by our own sender always parse.
            let _ = rx.on_datagram(pop_at, &d);
        }
        let src = rx.play_frame(pop_at, &mut buf)?;
        report.sources.push(src);
        report.output.extend_from_slice(&buf);
        report.delay_trace_ms.push(rx.stats().current_delay_ms);
        pop += 1;
    }
    report.stats = *rx.stats();
    report.impair = link.stats();
    Ok(report)
}

/// Measures the one-way latency of a clean path with a speech-like `input` at
/// the codec rate and returns its breakdown. `lookahead_ms` is the encoder's.
pub fn measure_latency(
    cfg: &LoopbackConfig,
    input: &[i16],
    lookahead_ms: f64,
) -> Result<(LatencyBreakdown, f64), CodecError> {
    let report = run(cfg, input)?;
    let in_rate = cfg.codec.rate.hz();
    let out_rate = cfg.receiver_rate.hz();
    // Compare at the lower rate by keeping every n-th sample (inputs are band-limited).
    let cmp_rate = in_rate.min(out_rate);
    let a: Vec<i16> = input
        .iter()
        .step_by((in_rate / cmp_rate) as usize)
        .copied()
        .collect();
    let b: Vec<i16> = report
        .output
        .iter()
        .step_by((out_rate / cmp_rate) as usize)
        .copied()
        .collect();
    let max_lag = (cmp_rate / 4) as usize;
    let (lag, corr) = delay_by_correlation(&a, &b, max_lag);
    let path_ms = lag as f64 * 1000.0 / f64::from(cmp_rate) + cfg.receiver_phase_us as f64 / 1000.0;
    let framing_ms = cfg.codec.frame.millis() as f64;
    let network_ms = cfg.impairment.delay_us as f64 / 1000.0;
    let device_ms = cfg.device_period_us as f64 / 1000.0;
    let breakdown = LatencyBreakdown {
        framing_ms,
        lookahead_ms,
        network_ms,
        jitter_buffer_ms: (path_ms - framing_ms - lookahead_ms - network_ms).max(0.0),
        device_ms,
        total_ms: path_ms + device_ms,
        floor_ms: framing_ms + lookahead_ms + device_ms,
    };
    Ok((breakdown, corr))
}
