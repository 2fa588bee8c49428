//! Measurements shared by the criterion bench (`node/benches/media.rs`) and
//! `tandem-sim bench media`, so both report the same figures the same way.
//!
//! Costs are per-thread CPU time (`/proc/thread-self/stat`): on a shared machine
//! wall-clock time includes other processes' work, CPU time is what one core spent.

use super::analysis::speechlike;
use super::codec::{CodecError, Encoded, Encoder};
use super::datagram::{Flags, Header, LegId};
use super::loopback::{LoopbackConfig, measure_latency};
use super::{CodecConfig, FrameDuration, JitterConfig, LegReceiver, LegSender, SampleRate};
use serde::Serialize;
use std::hint::black_box;
use std::time::Instant;
use tandem_hal::dsp::g711::Law;

/// Speech-like test audio cut into the codec's frames.
pub fn frames(cfg: &CodecConfig, seconds: usize) -> Vec<Vec<i16>> {
    speechlike(cfg.rate.hz(), cfg.rate.hz() as usize * seconds)
        .chunks_exact(cfg.frame_samples())
        .map(<[i16]>::to_vec)
        .collect()
}

/// Those frames encoded, as the far end would send them (FEC on, 5 % loss).
pub fn packets(cfg: &CodecConfig, input: &[Vec<i16>]) -> Result<Vec<Vec<u8>>, CodecError> {
    let mut enc = Encoder::new(*cfg)?;
    enc.set_expected_loss_percent(5);
    let mut buf = vec![0u8; super::codec::MAX_OPUS_PACKET];
    let mut out = Vec::new();
    for f in input {
        if let Encoded::Packet(n) = enc.encode(f, &mut buf)? {
            out.push(buf[..n].to_vec());
        }
    }
    Ok(out)
}

/// CPU time this thread has used, in seconds (10 ms ticks); `None` off Linux.
pub fn thread_cpu_s() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are 14 and 15.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// Mean µs per call of `f`, repeating the `n` calls until ≥ `min_cpu_s` of CPU was
/// used so the 10 ms tick resolution stays small. CPU time when available, else wall.
pub fn time_us(n: usize, min_cpu_s: f64, mut f: impl FnMut(usize)) -> f64 {
    let (wall, cpu0) = (Instant::now(), thread_cpu_s());
    let mut calls = 0usize;
    loop {
        for i in 0..n {
            f(i);
        }
        calls += n;
        let used = match (cpu0, thread_cpu_s()) {
            (Some(a), Some(b)) => b - a,
            _ => wall.elapsed().as_secs_f64(),
        };
        if used >= min_cpu_s {
            return used * 1e6 / calls as f64;
        }
    }
}

/// One full-duplex transcoded channel for one frame: the line frame arrives as
/// G.711 A-law and is expanded, Opus-encoded and framed; on the way back a
/// datagram goes through the jitter buffer, is decoded and compressed to A-law.
pub fn channel_frame_us(cfg: &CodecConfig, min_cpu_s: f64) -> Result<f64, CodecError> {
    let input = frames(cfg, 4);
    let line: Vec<Vec<u8>> = input
        .iter()
        .map(|f| {
            let mut codes = vec![0u8; f.len()];
            Law::Alaw.encode(f, &mut codes);
            codes
        })
        .collect();
    let back = packets(cfg, &input)?;
    let mut tx = LegSender::new(LegId(1), *cfg)?;
    let mut rx = LegReceiver::new(LegId(2), cfg.rate, JitterConfig::for_frame(cfg.frame))?;
    let mut pcm = vec![0i16; cfg.frame_samples()];
    let mut out = vec![0i16; cfg.frame_samples()];
    let mut codes = vec![0u8; cfg.frame_samples()];
    let mut datagram = Vec::new();
    let (ticks, frame_us) = (cfg.frame.ticks(), cfg.frame.micros());
    let mut k = 0usize;
    let mut failed = None;
    let us = time_us(input.len(), min_cpu_s, |_| {
        Law::Alaw.decode(&line[k % line.len()], &mut pcm);
        if let Err(e) = tx.encode_frame(&pcm).map(|d| black_box(d.map(<[u8]>::len))) {
            failed = Some(e);
        }
        let header = Header {
            leg: LegId(2),
            seq: k as u16,
            timestamp: (k as u32).wrapping_mul(ticks),
            flags: Flags::FEC,
        };
        if header.write(&back[k % back.len()], &mut datagram).is_ok() {
            let now = k as u64 * frame_us;
            let _ = rx.on_datagram(now, &datagram);
            if let Err(e) = rx.play_frame(now, &mut out) {
                failed = Some(e);
            }
            Law::Alaw.encode(&out, &mut codes);
            black_box(&codes);
        }
        k += 1;
    });
    match failed {
        Some(e) => Err(e),
        None => Ok(us),
    }
}

/// Transcoding capacity at one setting.
#[derive(Debug, Clone, Serialize)]
pub struct ChannelCost {
    pub rate_hz: u32,
    pub complexity: u8,
    pub us_per_frame: f64,
    pub channels_per_core: f64,
}

/// Channels one core can transcode (G.711 ↔ Opus, full duplex, 20 ms frames).
pub fn channel_cost(
    rate: SampleRate,
    complexity: u8,
    min_cpu_s: f64,
) -> Result<ChannelCost, CodecError> {
    let cfg = CodecConfig {
        complexity,
        ..CodecConfig::voice(rate)
    };
    let us = channel_frame_us(&cfg, min_cpu_s)?;
    Ok(ChannelCost {
        rate_hz: rate.hz(),
        complexity,
        us_per_frame: us,
        channels_per_core: cfg.frame.micros() as f64 / us,
    })
}

/// One-way latency added by Tandem for one frame size and direction.
#[derive(Debug, Clone, Serialize)]
pub struct LatencyFigure {
    pub frame_ms: u32,
    pub from_hz: u32,
    pub to_hz: u32,
    pub framing_ms: f64,
    pub lookahead_ms: f64,
    pub jitter_buffer_ms: f64,
    pub device_ms: f64,
    /// Compute time per frame (encode + jitter + decode), added to the path.
    pub compute_ms: f64,
    /// Total with the seat's playout clock in phase with packet arrival.
    pub total_phase0_ms: f64,
    /// Over playout phases across one device period, compute included.
    pub mean_ms: f64,
    pub max_ms: f64,
    /// Framing + lookahead + device period: no Opus path can do better.
    pub floor_ms: f64,
    pub goal_ms: f64,
    pub correlation: f64,
}

/// Measures the latency breakdown on a clean loopback path (virtual time, so it
/// is exact and reproducible), with a device period of half a frame.
pub fn latency(
    frame: FrameDuration,
    from: SampleRate,
    to: SampleRate,
    min_cpu_s: f64,
) -> Result<LatencyFigure, CodecError> {
    let codec = CodecConfig {
        frame,
        ..CodecConfig::voice(from)
    };
    let device_us = u64::from(frame.millis()) * 500;
    let lookahead_ms =
        Encoder::new(codec)?.lookahead_samples() as f64 * 1000.0 / f64::from(from.hz());
    let input = speechlike(from.hz(), from.hz() as usize * 3);
    let compute_ms = channel_frame_us(&codec, min_cpu_s)? / 1000.0;
    let mut totals = Vec::new();
    let mut first = None;
    // The seat starts playout at its first device tick after the first packet, so
    // the playout phase lies within one device period.
    for quarter in 0..4 {
        let mut cfg = LoopbackConfig::clean(codec, to);
        cfg.device_period_us = device_us;
        cfg.receiver_phase_us = device_us * quarter / 4;
        let (b, corr) = measure_latency(&cfg, &input, lookahead_ms)?;
        totals.push(b.total_ms + compute_ms);
        first.get_or_insert((b, corr));
    }
    let (b, correlation) = first.ok_or(CodecError::Opus("no latency sample"))?;
    Ok(LatencyFigure {
        frame_ms: frame.millis(),
        from_hz: from.hz(),
        to_hz: to.hz(),
        framing_ms: b.framing_ms,
        lookahead_ms: b.lookahead_ms,
        jitter_buffer_ms: b.jitter_buffer_ms,
        device_ms: b.device_ms,
        compute_ms,
        total_phase0_ms: b.total_ms,
        mean_ms: totals.iter().sum::<f64>() / totals.len() as f64,
        max_ms: totals.iter().copied().fold(0.0, f64::max),
        floor_ms: b.floor_ms,
        goal_ms: if frame == FrameDuration::Ms20 {
            45.0
        } else {
            30.0
        },
        correlation,
    })
}
