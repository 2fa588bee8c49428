//! Media plane costs and latency.
//!
//! `cargo bench -p tandem-node --bench media` (add `--features libopus-oracle` for
//! the libopus baseline ratios). Criterion measures the per-frame costs; the
//! summary printed first gives the figures the issue asks for: latency breakdown
//! on loopback (virtual time, so it is exact and reproducible), transcoded
//! channels per core, and opus-rs vs libopus ratios.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tandem_node::media::bench_support::{channel_cost, frames, latency, packets};
use tandem_node::media::codec::{Channels, Decoder, Encoder};
use tandem_node::media::datagram::{Flags, Header, LegId};
use tandem_node::media::{
    CodecConfig, FrameDuration, JitterBuffer, JitterConfig, Playout, SampleRate,
};

/// CPU seconds each cost figure is measured over.
const MIN_CPU_S: f64 = 2.0;

fn summary() {
    println!("\n== media summary (release build; costs are per-thread CPU time) ==");
    for frame in [FrameDuration::Ms20, FrameDuration::Ms10] {
        for (from, to) in [
            (SampleRate::Narrowband, SampleRate::Wideband),
            (SampleRate::Wideband, SampleRate::Narrowband),
        ] {
            let l = latency(frame, from, to, MIN_CPU_S).expect("latency");
            println!(
                "latency {:>2} ms frames {from:?}->{to:?}: phase 0: total {:.1} ms = framing {:.1} + lookahead {:.1} + jitter buffer {:.1} + device {:.1}; floor {:.1} ms; corr {:.2}; compute {:.2} ms/frame; over playout phases, compute included: mean {:.1}, max {:.1} ms (goal <= {} ms)",
                l.frame_ms,
                l.total_phase0_ms,
                l.framing_ms,
                l.lookahead_ms,
                l.jitter_buffer_ms,
                l.device_ms,
                l.floor_ms,
                l.correlation,
                l.compute_ms,
                l.mean_ms,
                l.max_ms,
                l.goal_ms
            );
        }
    }
    for complexity in [9u8, 5, 3, 1] {
        for rate in [SampleRate::Narrowband, SampleRate::Wideband] {
            let c = channel_cost(rate, complexity, MIN_CPU_S).expect("channel cost");
            println!(
                "transcoded channel {rate:?} 20 ms complexity {complexity}: {:.1} us per frame (G.711 + encode + jitter + decode) -> {:.0} channels per core (goal >= 300)",
                c.us_per_frame, c.channels_per_core
            );
        }
    }
    libopus_ratios();
}
#[cfg(feature = "libopus-oracle")]
fn libopus_ratios() {
    use tandem_node::media::bench_support::time_us;
    for rate in [SampleRate::Narrowband, SampleRate::Wideband] {
        let cfg = CodecConfig::voice(rate);
        let input = frames(&cfg, 4);
        let pkts = packets(&cfg, &input).expect("packets");
        let mut ours = Encoder::new(cfg).expect("codec");
        let mut buf = vec![0u8; 1275];
        let enc_ours = time_us(input.len(), MIN_CPU_S, |i| {
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
        let enc_theirs = time_us(input.len(), MIN_CPU_S, |i| {
            black_box(theirs.encode(&input[i], &mut buf).expect("encode"));
        });
        let mut dec = Decoder::new(rate, cfg.frame, Channels::Mono).expect("decoder");
        let mut pcm = vec![0i16; cfg.frame_samples()];
        let dec_ours = time_us(pkts.len(), MIN_CPU_S, |i| {
            dec.decode(&pkts[i], &mut pcm).expect("decode")
        });
        let mut ldec = opus::Decoder::new(rate.hz(), opus::Channels::Mono).expect("libopus");
        let dec_theirs = time_us(pkts.len(), MIN_CPU_S, |i| {
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
        let pkts = packets(&cfg, &input).expect("packets");
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
