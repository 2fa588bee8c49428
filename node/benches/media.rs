//! Media plane costs and latency.
//!
//! `cargo bench -p tandem-node --bench media` (add `--features libopus-oracle` for
//! the libopus baseline ratios). Criterion measures the per-frame costs; the
//! summary printed first gives the figures the issue asks for: latency breakdown
//! on loopback (virtual time, so it is exact and reproducible), transcoded
//! channels per core, and opus-rs vs libopus ratios.

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use tandem_node::media::analysis::speechlike;
use tandem_node::media::codec::{Channels, Decoder, Encoded, Encoder};
use tandem_node::media::datagram::{Flags, Header, LegId};
use tandem_node::media::loopback::{LoopbackConfig, measure_latency};
use tandem_node::media::{
    CodecConfig, FrameDuration, JitterBuffer, JitterConfig, LegReceiver, LegSender, Playout,
    SampleRate,
};

fn frames(cfg: &CodecConfig, seconds: usize) -> Vec<Vec<i16>> {
    speechlike(cfg.rate.hz(), cfg.rate.hz() as usize * seconds)
        .chunks_exact(cfg.frame_samples())
        .map(<[i16]>::to_vec)
        .collect()
}

fn packets(cfg: &CodecConfig, input: &[Vec<i16>]) -> Vec<Vec<u8>> {
    let mut enc = Encoder::new(*cfg).expect("codec config");
    enc.set_expected_loss_percent(5);
    let mut buf = vec![0u8; 1275];
    input
        .iter()
        .filter_map(|f| match enc.encode(f, &mut buf).expect("encode") {
            Encoded::Packet(n) => Some(buf[..n].to_vec()),
            Encoded::Silent => None,
        })
        .collect()
}

/// CPU time this thread has used, in seconds (Linux `/proc/thread-self/stat`,
/// 10 ms ticks). The build machine is shared, so wall-clock time includes other
/// people's compiles; CPU time is what one core actually spent on us.
fn thread_cpu_s() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are 14 and 15.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// Mean µs per call of `f`, repeating the `n` calls until ≥ 2 s of CPU was used
/// so the 10 ms tick resolution stays below 1 %. CPU time when available, else wall.
fn time_us(n: usize, mut f: impl FnMut(usize)) -> f64 {
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
        if used >= 2.0 {
            return used * 1e6 / calls as f64;
        }
    }
}

/// One full-duplex transcoded channel for one 20 ms frame: encode the line
/// frame, frame it, and on the way back push a datagram through the jitter
/// buffer and decode. (G.711 expansion is a table lookup per sample and is
/// left to hal.)
fn channel_frame_us(cfg: &CodecConfig) -> f64 {
    let input = frames(cfg, 4);
    let back = packets(cfg, &input);
    let mut tx = LegSender::new(LegId(1), *cfg).expect("sender");
    let mut rx =
        LegReceiver::new(LegId(2), cfg.rate, JitterConfig::for_frame(cfg.frame)).expect("receiver");
    let mut out = vec![0i16; cfg.frame_samples()];
    let mut datagram = Vec::new();
    let (ticks, frame_us) = (cfg.frame.ticks(), cfg.frame.micros());
    let mut k = 0usize;
    time_us(input.len(), |_| {
        black_box(tx.encode_frame(&input[k % input.len()]).expect("encode"));
        let header = Header {
            leg: LegId(2),
            seq: k as u16,
            timestamp: (k as u32).wrapping_mul(ticks),
            flags: Flags::FEC,
        };
        header
            .write(&back[k % back.len()], &mut datagram)
            .expect("datagram");
        let now = k as u64 * frame_us;
        let _ = rx.on_datagram(now, &datagram);
        black_box(rx.play_frame(now, &mut out).expect("decode"));
        k += 1;
    })
}

fn summary() {
    println!("\n== media summary (release build; costs are per-thread CPU time) ==");
    for frame in [FrameDuration::Ms20, FrameDuration::Ms10] {
        for (from, to) in [
            (SampleRate::Narrowband, SampleRate::Wideband),
            (SampleRate::Wideband, SampleRate::Narrowband),
        ] {
            let codec = CodecConfig {
                frame,
                ..CodecConfig::voice(from)
            };
            let device_us = u64::from(frame.millis()) * 500;
            let enc = Encoder::new(codec).expect("codec");
            let lookahead_ms = enc.lookahead_samples() as f64 * 1000.0 / f64::from(from.hz());
            let input = speechlike(from.hz(), from.hz() as usize * 3);
            let compute_ms = channel_frame_us(&codec) / 1000.0;
            let goal = if frame == FrameDuration::Ms20 {
                45.0
            } else {
                30.0
            };
            // The seat starts playout at its first device tick after the first
            // packet, so the playout phase lies within one device period.
            let mut totals = Vec::new();
            for quarter in 0..4 {
                let mut cfg = LoopbackConfig::clean(codec, to);
                cfg.device_period_us = device_us;
                cfg.receiver_phase_us = device_us * quarter / 4;
                let (b, corr) = measure_latency(&cfg, &input, lookahead_ms).expect("loopback");
                if quarter == 0 {
                    println!(
                        "latency {:>2} ms frames {:?}->{:?}: phase 0: total {:.1} ms = framing {:.1} + lookahead {:.1} + network {:.1} + jitter buffer {:.1} + device {:.1}; floor {:.1} ms; corr {:.2}; compute {:.2} ms/frame",
                        frame.millis(),
                        from,
                        to,
                        b.total_ms,
                        b.framing_ms,
                        b.lookahead_ms,
                        b.network_ms,
                        b.jitter_buffer_ms,
                        b.device_ms,
                        b.floor_ms,
                        corr,
                        compute_ms
                    );
                }
                totals.push(b.total_ms + compute_ms);
            }
            let mean = totals.iter().sum::<f64>() / totals.len() as f64;
            let max = totals.iter().copied().fold(0.0, f64::max);
            println!(
                "    over playout phases 0..{} ms, compute included: mean {mean:.1} ms, max {max:.1} ms (goal <= {goal} ms)",
                device_us / 1000
            );
        }
    }
    for complexity in [9u8, 5, 3, 1] {
        for rate in [SampleRate::Narrowband, SampleRate::Wideband] {
            let cfg = CodecConfig {
                complexity,
                ..CodecConfig::voice(rate)
            };
            let us = channel_frame_us(&cfg);
            println!(
                "transcoded channel {:?} 20 ms complexity {complexity}: {:.1} us per frame (encode + jitter + decode) -> {:.0} channels per core (goal >= 300)",
                rate,
                us,
                cfg.frame.micros() as f64 / us
            );
        }
    }
    libopus_ratios();
}
#[cfg(feature = "libopus-oracle")]
fn libopus_ratios() {
    for rate in [SampleRate::Narrowband, SampleRate::Wideband] {
        let cfg = CodecConfig::voice(rate);
        let input = frames(&cfg, 4);
        let pkts = packets(&cfg, &input);
        let mut ours = Encoder::new(cfg).expect("codec");
        let mut buf = vec![0u8; 1275];
        let enc_ours = time_us(input.len(), |i| {
            black_box(ours.encode(&input[i], &mut buf).expect("encode"));
        });
        let mut theirs =
            opus::Encoder::new(rate.hz(), opus::Channels::Mono, opus::Application::Voip)
                .expect("libopus");
        theirs
            .set_bitrate(opus::Bitrate::Bits(cfg.bitrate_bps as i32))
            .expect("bitrate");
        theirs.set_inband_fec(true).expect("fec");
        theirs.set_packet_loss_perc(5).expect("loss");
        let enc_theirs = time_us(input.len(), |i| {
            black_box(theirs.encode(&input[i], &mut buf).expect("encode"));
        });
        let mut dec = Decoder::new(rate, cfg.frame, Channels::Mono).expect("decoder");
        let mut pcm = vec![0i16; cfg.frame_samples()];
        let dec_ours = time_us(pkts.len(), |i| {
            dec.decode(&pkts[i], &mut pcm).expect("decode")
        });
        let mut ldec = opus::Decoder::new(rate.hz(), opus::Channels::Mono).expect("libopus");
        let dec_theirs = time_us(pkts.len(), |i| {
            black_box(ldec.decode(&pkts[i], &mut pcm, false).expect("decode"));
        });
        println!(
            "opus-rs vs libopus {:?} 20 ms: encode {:.1} vs {:.1} us ({:.2}x), decode {:.1} vs {:.1} us ({:.2}x)",
            rate,
            enc_ours,
            enc_theirs,
            enc_ours / enc_theirs,
            dec_ours,
            dec_theirs,
            dec_ours / dec_theirs
        );
    }
}

#[cfg(not(feature = "libopus-oracle"))]
fn libopus_ratios() {
    println!("(libopus baseline: run with --features libopus-oracle)");
}

fn codec(c: &mut Criterion) {
    summary();
    for (name, cfg) in [
        ("nb20", CodecConfig::voice(SampleRate::Narrowband)),
        ("wb20", CodecConfig::voice(SampleRate::Wideband)),
        (
            "nb10",
            CodecConfig {
                frame: FrameDuration::Ms10,
                ..CodecConfig::voice(SampleRate::Narrowband)
            },
        ),
    ] {
        let input = frames(&cfg, 4);
        let pkts = packets(&cfg, &input);
        let mut enc = Encoder::new(cfg).expect("codec");
        enc.set_expected_loss_percent(5);
        let mut buf = vec![0u8; 1275];
        let mut i = 0;
        c.bench_function(&format!("opus_encode_{name}"), |b| {
            b.iter(|| {
                i = (i + 1) % input.len();
                black_box(enc.encode(&input[i], &mut buf).expect("encode"))
            })
        });
        let mut dec = Decoder::new(cfg.rate, cfg.frame, Channels::Mono).expect("decoder");
        let mut pcm = vec![0i16; cfg.frame_samples()];
        let mut j = 0;
        c.bench_function(&format!("opus_decode_{name}"), |b| {
            b.iter(|| {
                j = (j + 1) % pkts.len();
                dec.decode(&pkts[j], &mut pcm).expect("decode")
            })
        });
    }
}

fn jitter(c: &mut Criterion) {
    let mut jb = JitterBuffer::new(JitterConfig::for_frame(FrameDuration::Ms20));
    let payload = [0xfcu8; 60];
    let mut k = 0u32;
    c.bench_function("jitter_push_pop_per_packet", |b| {
        b.iter(|| {
            // Every 7th pair swapped: reordering in the steady state.
            let idx = if k % 7 == 3 {
                k + 1
            } else if k % 7 == 4 {
                k - 1
            } else {
                k
            };
            let h = Header {
                leg: LegId(1),
                seq: idx as u16,
                timestamp: idx.wrapping_mul(960),
                flags: Flags::FEC,
            };
            let now = u64::from(k) * 20_000 + 5_000;
            jb.push(now, &h, &payload);
            let played = matches!(jb.pop(now), Playout::Packet(_));
            k += 1;
            black_box(played)
        })
    });
}

criterion_group!(benches, codec, jitter);
criterion_main!(benches);
