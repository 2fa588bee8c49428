//! libopus (system library, via the `opus` crate) as the oracle for our
//! pure-Rust Opus: streams we encode must decode in libopus, streams libopus
//! encodes must decode in ours, and the decoded audio must match.
//!
//! Run with `cargo test -p tandem-node --features libopus-oracle --test media_oracle`
//! (needs `apt-get install -y libopus-dev`).
#![cfg(feature = "libopus-oracle")]

use tandem_node::media::analysis::{delay_by_correlation, goertzel_dbfs, snr_db, speechlike, tone};
use tandem_node::media::codec::{Channels, CodecConfig, Decoder, Encoded, Encoder, SampleRate};

fn libopus_encoder(rate: SampleRate, loss: i32) -> opus::Encoder {
    let mut e =
        opus::Encoder::new(rate.hz(), opus::Channels::Mono, opus::Application::Voip).unwrap();
    e.set_bitrate(opus::Bitrate::Bits(
        CodecConfig::voice(rate).bitrate_bps as i32,
    ))
    .unwrap();
    e.set_inband_fec(true).unwrap();
    e.set_packet_loss_perc(loss).unwrap();
    e.set_complexity(i32::from(CodecConfig::voice(rate).complexity))
        .unwrap();
    e
}

fn ours_encode(rate: SampleRate, input: &[i16]) -> Vec<Vec<u8>> {
    let cfg = CodecConfig::voice(rate);
    let mut enc = Encoder::new(cfg).unwrap();
    let mut buf = vec![0u8; 1275];
    input
        .chunks_exact(cfg.frame_samples())
        .map(|f| match enc.encode(f, &mut buf).unwrap() {
            Encoded::Packet(n) => buf[..n].to_vec(),
            Encoded::Silent => unreachable!("DTX is off"),
        })
        .collect()
}

fn libopus_encode(rate: SampleRate, input: &[i16]) -> Vec<Vec<u8>> {
    let mut enc = libopus_encoder(rate, 0);
    let n = CodecConfig::voice(rate).frame_samples();
    let mut buf = vec![0u8; 1275];
    input
        .chunks_exact(n)
        .map(|f| {
            let len = enc.encode(f, &mut buf).unwrap();
            buf[..len].to_vec()
        })
        .collect()
}

fn ours_decode(rate: SampleRate, packets: &[Vec<u8>]) -> Vec<i16> {
    let cfg = CodecConfig::voice(rate);
    let mut dec = Decoder::new(rate, cfg.frame, Channels::Mono).unwrap();
    let mut pcm = vec![0i16; cfg.frame_samples()];
    let mut out = Vec::new();
    for p in packets {
        dec.decode(p, &mut pcm).unwrap();
        out.extend_from_slice(&pcm);
    }
    out
}

fn libopus_decode(rate: SampleRate, packets: &[Vec<u8>]) -> Vec<i16> {
    let mut dec = opus::Decoder::new(rate.hz(), opus::Channels::Mono).unwrap();
    let mut pcm = vec![0i16; CodecConfig::voice(rate).frame_samples()];
    let mut out = Vec::new();
    for p in packets {
        let n = dec.decode(p, &mut pcm, false).unwrap();
        out.extend_from_slice(&pcm[..n]);
    }
    out
}

const RATES: [SampleRate; 2] = [SampleRate::Narrowband, SampleRate::Wideband];

#[test]
fn lookahead_matches_libopus() {
    for rate in RATES {
        let ours = Encoder::new(CodecConfig::voice(rate))
            .unwrap()
            .lookahead_samples();
        let theirs = libopus_encoder(rate, 0).get_lookahead().unwrap();
        assert_eq!(ours as i32, theirs, "{rate:?}");
    }
}

/// Both decoders of one packet stream must agree closely, and follow the input.
fn check_stream(rate: SampleRate, input: &[i16], packets: &[Vec<u8>], what: &str) {
    let a = ours_decode(rate, packets);
    let b = libopus_decode(rate, packets);
    assert_eq!(a.len(), b.len());
    let skip = rate.hz() as usize / 10;
    let agree = snr_db(&b[skip..], &a[skip..]);
    assert!(
        agree > 25.0,
        "{what} {rate:?}: decoders differ, SNR {agree:.1} dB"
    );
    let (lag, corr) = delay_by_correlation(&input[skip..], &b[skip..], rate.hz() as usize / 50);
    let lookahead = Encoder::new(CodecConfig::voice(rate))
        .unwrap()
        .lookahead_samples();
    assert_eq!(lag, lookahead, "{what} {rate:?}: codec delay");
    assert!(
        corr > 0.7,
        "{what} {rate:?}: correlation with input {corr:.2}"
    );
    eprintln!(
        "{what} {rate:?}: decoders agree to {agree:.1} dB SNR; input correlation {corr:.3} at {lag} samples"
    );
}

#[test]
fn our_stream_decodes_in_libopus() {
    for rate in RATES {
        let speech = speechlike(rate.hz(), rate.hz() as usize * 3);
        check_stream(rate, &speech, &ours_encode(rate, &speech), "ours→libopus");
        let t = tone(1000.0, -12.0, rate.hz(), 0, rate.hz() as usize * 2);
        let decoded = libopus_decode(rate, &ours_encode(rate, &t));
        let level = goertzel_dbfs(&decoded[rate.hz() as usize / 5..], 1000.0, rate.hz());
        assert!((level + 12.0).abs() < 1.0, "{rate:?} tone {level:.2}");
    }
}

#[test]
fn libopus_stream_decodes_in_ours() {
    for rate in RATES {
        let speech = speechlike(rate.hz(), rate.hz() as usize * 3);
        check_stream(
            rate,
            &speech,
            &libopus_encode(rate, &speech),
            "libopus→ours",
        );
        let t = tone(700.0, -20.0, rate.hz(), 0, rate.hz() as usize * 2);
        let decoded = ours_decode(rate, &libopus_encode(rate, &t));
        let level = goertzel_dbfs(&decoded[rate.hz() as usize / 5..], 700.0, rate.hz());
        assert!((level + 20.0).abs() < 1.0, "{rate:?} tone {level:.2}");
    }
}

#[test]
fn our_fec_and_plc_match_libopus() {
    let rate = SampleRate::Narrowband;
    let n = CodecConfig::voice(rate).frame_samples();
    let speech = speechlike(rate.hz(), rate.hz() as usize * 2);
    let mut enc = libopus_encoder(rate, 10);
    let mut buf = vec![0u8; 1275];
    let packets: Vec<Vec<u8>> = speech
        .chunks_exact(n)
        .map(|f| {
            let len = enc.encode(f, &mut buf).unwrap();
            buf[..len].to_vec()
        })
        .collect();
    let mut ours = Decoder::new(rate, CodecConfig::voice(rate).frame, Channels::Mono).unwrap();
    let mut theirs = opus::Decoder::new(rate.hz(), opus::Channels::Mono).unwrap();
    let (mut a, mut b) = (vec![0i16; n], vec![0i16; n]);
    let (mut out_a, mut out_b) = (Vec::new(), Vec::new());
    for (k, p) in packets.iter().enumerate() {
        if k % 10 == 5 {
            // Lost: rebuild from the next packet's LBRR.
            ours.decode_fec(&packets[k + 1], &mut a).unwrap();
            theirs.decode(&packets[k + 1], &mut b, true).unwrap();
        } else if k % 10 == 8 {
            // Lost with no FEC to use: both conceal.
            ours.conceal(&mut a).unwrap();
            theirs.decode(&[], &mut b, false).unwrap();
        } else {
            ours.decode(p, &mut a).unwrap();
            theirs.decode(p, &mut b, false).unwrap();
        }
        out_a.extend_from_slice(&a);
        out_b.extend_from_slice(&b);
    }
    let agree = snr_db(&out_b[800..], &out_a[800..]);
    assert!(agree > 20.0, "FEC decoders differ: SNR {agree:.1} dB");
    eprintln!("FEC+PLC libopus→ours: decoders agree to {agree:.1} dB SNR");
}

/// Recordings are stereo (caller left, agent right). libopus must decode our
/// stereo stream with each party at its level in its own channel. opus-rs 0.1.40
/// decodes the same packets about 6 dB low on both channels; the gap is printed
/// so a fixed opus-rs release is noticed.
#[test]
fn our_stereo_stream_decodes_in_libopus_with_levels_and_separation() {
    let rate = SampleRate::Narrowband;
    // Stereo is only for recordings, which the gateway encodes at complexity 9
    // (legs' narrowband default of 1 blurs the stereo image).
    let cfg = CodecConfig {
        channels: Channels::Stereo,
        bitrate_bps: 24_000,
        fec: false,
        complexity: 9,
        ..CodecConfig::voice(rate)
    };
    let mut enc = Encoder::new(cfg).unwrap();
    let left = tone(440.0, -12.0, 8000, 0, 16_000);
    let right = tone(1000.0, -18.0, 8000, 0, 16_000);
    let stereo: Vec<i16> = left
        .iter()
        .zip(&right)
        .flat_map(|(&l, &r)| [l, r])
        .collect();
    let mut buf = vec![0u8; 1275];
    let packets: Vec<Vec<u8>> = stereo
        .chunks_exact(cfg.frame_samples())
        .map(|f| match enc.encode(f, &mut buf).unwrap() {
            Encoded::Packet(n) => buf[..n].to_vec(),
            Encoded::Silent => unreachable!("DTX is off"),
        })
        .collect();
    let mut theirs = opus::Decoder::new(8000, opus::Channels::Stereo).unwrap();
    let mut ours = Decoder::new(rate, cfg.frame, Channels::Stereo).unwrap();
    let (mut a, mut b) = (vec![0i16; 320], vec![0i16; 320]);
    let (mut out_l, mut out_r, mut our_l) = (Vec::new(), Vec::new(), Vec::new());
    for p in &packets {
        theirs.decode(p, &mut a, false).unwrap();
        ours.decode(p, &mut b).unwrap();
        for (lr, ours_lr) in a.chunks(2).zip(b.chunks(2)) {
            out_l.push(lr[0]);
            out_r.push(lr[1]);
            our_l.push(ours_lr[0]);
        }
    }
    let body = |x: &[i16]| x[1600..].to_vec();
    let (l, r) = (body(&out_l), body(&out_r));
    assert!(
        (goertzel_dbfs(&l, 440.0, 8000) + 12.0).abs() < 1.0,
        "left level"
    );
    assert!(
        (goertzel_dbfs(&r, 1000.0, 8000) + 18.0).abs() < 1.0,
        "right level"
    );
    // SILK stereo prediction at 24 kbit/s lets ~20 dB of the other party through.
    let (leak_l, leak_r) = (
        goertzel_dbfs(&l, 1000.0, 8000),
        goertzel_dbfs(&r, 440.0, 8000),
    );
    assert!(
        leak_l < -30.0 && leak_r < -30.0,
        "leaks L {leak_l:.1} R {leak_r:.1} dBFS"
    );
    let gap = goertzel_dbfs(&body(&our_l), 440.0, 8000) - goertzel_dbfs(&l, 440.0, 8000);
    eprintln!("opus-rs stereo decode vs libopus, left channel: {gap:+.1} dB");
}
