//! Q.441 receiver conditions for the detector, plus generator round trips.

use super::*;
use crate::dsp::ms_to_samples;
use crate::testutil::{Rng, SpeechLike, add_noise, mix};
use proptest::prelude::*;

const DIRS: [Direction; 2] = [Direction::Forward, Direction::Backward];

fn all() -> impl Iterator<Item = R2Signal> {
    (1..=15).map(|n| R2Signal::new(n).unwrap())
}

/// Tones at `freqs` (Hz, dBm0), `ms` long after `lead` samples of silence and
/// followed by 100 ms of silence.
fn burst(freqs: &[(f32, f32)], ms: u32, lead: usize) -> Vec<i16> {
    let n = ms_to_samples(ms);
    let mut out = vec![0i16; lead + n + 800];
    let mut osc: Vec<Sine> = freqs.iter().map(|&(f, l)| Sine::new(f, l)).collect();
    for x in &mut out[lead..lead + n] {
        *x = saturate(osc.iter_mut().map(|o| o.next_sample()).sum());
    }
    out
}

fn pair(dir: Direction, s: u8, da: f32, db: f32, la: f32, lb: f32) -> Vec<i16> {
    let (fa, fb) = R2Signal::new(s).unwrap().frequencies(dir);
    burst(&[(fa + da, la), (fb + db, lb)], 80, 37)
}

fn decode(dir: Direction, x: &[i16]) -> Vec<u8> {
    R2Detector::decode(dir, x).iter().map(|s| s.get()).collect()
}

#[test]
fn the_q441_table_pairs_frequencies_as_openr2_does() {
    let s = |n| R2Signal::new(n).unwrap();
    assert_eq!(s(1).frequencies(Direction::Forward), (1380.0, 1500.0));
    assert_eq!(s(5).frequencies(Direction::Forward), (1500.0, 1740.0));
    assert_eq!(s(10).frequencies(Direction::Forward), (1740.0, 1860.0));
    assert_eq!(s(15).frequencies(Direction::Forward), (1860.0, 1980.0));
    assert_eq!(s(1).frequencies(Direction::Backward), (1140.0, 1020.0));
    assert_eq!(s(6).frequencies(Direction::Backward), (900.0, 780.0));
    assert_eq!(s(11).frequencies(Direction::Backward), (1140.0, 540.0));
    assert_eq!(s(15).frequencies(Direction::Backward), (660.0, 540.0));
    for sig in all() {
        let (a, b) = sig.pair();
        assert_eq!(R2Signal::of_pair(b, a), Some(sig));
    }
    assert_eq!(R2Signal::new(0), Err(R2Error::NoSuchSignal(0)));
    assert_eq!(R2Signal::new(16), Err(R2Error::NoSuchSignal(16)));
    assert_eq!(R2Signal::from_digit('0'), Ok(s(10)));
    assert_eq!(R2Signal::from_digit('7'), Ok(s(7)));
    assert_eq!(R2Signal::from_digit('#'), Err(R2Error::NotADigit('#')));
    assert_eq!(s(10).digit(), Some('0'));
    assert_eq!(s(15).digit(), None);
}

#[test]
fn every_signal_of_both_directions_is_detected_once_and_only_by_its_direction() {
    for dir in DIRS {
        let other = if dir == Direction::Forward {
            Direction::Backward
        } else {
            Direction::Forward
        };
        for sig in all() {
            let x = R2Generator::render(dir, sig, 150);
            assert_eq!(R2Detector::decode(dir, &x), [sig], "{dir:?} {sig}");
            assert!(R2Detector::decode(other, &x).is_empty(), "{dir:?} {sig}");
        }
    }
}

#[test]
fn start_and_end_are_both_reported_promptly() {
    let mut det = R2Detector::new(Direction::Backward);
    let mut g = R2Generator::new(Direction::Backward);
    let mut frame = [0i16; 40];
    let mut events = Vec::new();
    g.set(Some(R2Signal::new(6).unwrap()));
    for i in 0..40 {
        if i == 20 {
            g.set(None);
        }
        g.fill(&mut frame);
        det.process(&frame, |s| events.push((i, s.map(|s| s.get()))));
    }
    // On within 40 ms of the start, off within 25 ms of the end.
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0].1, Some(6));
    assert!(events[0].0 < 8, "{events:?}");
    assert_eq!(events[1].1, None);
    assert!((20..25).contains(&events[1].0), "{events:?}");
}

#[test]
fn frequencies_within_10_hz_are_detected_and_30_hz_off_rejected() {
    for dir in DIRS {
        for s in [1, 6, 10, 15] {
            for (da, db) in [(10.0, 10.0), (-10.0, -10.0), (10.0, -10.0), (-10.0, 10.0)] {
                let x = pair(dir, s, da, db, -12.0, -12.0);
                assert_eq!(decode(dir, &x), [s], "{dir:?} {s} {da} {db}");
            }
            for (da, db) in [(30.0, 0.0), (-30.0, 0.0), (0.0, 30.0), (0.0, -30.0)] {
                let x = pair(dir, s, da, db, -12.0, -12.0);
                assert!(decode(dir, &x).is_empty(), "{dir:?} {s} {da} {db}");
            }
        }
    }
}

#[test]
fn twist_within_q441_limits_is_detected_and_beyond_is_rejected() {
    let dir = Direction::Forward;
    // Adjacent frequencies (signal 1: f0+f1): 5 dB accepted, 8 dB rejected.
    assert_eq!(decode(dir, &pair(dir, 1, 0.0, 0.0, -10.0, -15.0)), [1]);
    assert_eq!(decode(dir, &pair(dir, 1, 0.0, 0.0, -15.0, -10.0)), [1]);
    assert!(decode(dir, &pair(dir, 1, 0.0, 0.0, -10.0, -18.0)).is_empty());
    // Non-adjacent (signal 11: f0+f5): 7 dB accepted, 12 dB rejected.
    assert_eq!(decode(dir, &pair(dir, 11, 0.0, 0.0, -10.0, -17.0)), [11]);
    assert!(decode(dir, &pair(dir, 11, 0.0, 0.0, -10.0, -22.0)).is_empty());
}

#[test]
fn levels_from_minus_5_to_minus_35_dbm0_are_detected_and_minus_45_rejected() {
    let dir = Direction::Backward;
    for l in [-5.0, -11.5, -20.0, -30.0, -35.0] {
        assert_eq!(decode(dir, &pair(dir, 9, 0.0, 0.0, l, l)), [9], "{l}");
    }
    assert!(decode(dir, &pair(dir, 9, 0.0, 0.0, -45.0, -45.0)).is_empty());
}

#[test]
fn single_tones_three_tones_and_short_bursts_are_rejected() {
    for dir in DIRS {
        let f = dir.frequencies();
        for &fi in &f {
            assert!(decode(dir, &burst(&[(fi, -10.0)], 200, 0)).is_empty());
        }
        for (a, b, c) in [(0, 1, 2), (1, 3, 5), (2, 4, 5)] {
            let x = burst(&[(f[a], -12.0), (f[b], -12.0), (f[c], -12.0)], 200, 0);
            assert!(decode(dir, &x).is_empty(), "{dir:?} {a}{b}{c}");
        }
        // Q.441: nothing under 7 ms; here nothing under 25 ms at any alignment.
        for lead in [0, 13, 27, 39] {
            let (fa, fb) = R2Signal::new(4).unwrap().frequencies(dir);
            let x = burst(&[(fa, -10.0), (fb, -10.0)], 20, lead);
            assert!(decode(dir, &x).is_empty(), "{dir:?} {lead}");
            let x = burst(&[(fa, -10.0), (fb, -10.0)], 40, lead);
            assert_eq!(decode(dir, &x), [4], "{dir:?} {lead}");
        }
    }
}

#[test]
fn interruptions_of_7_ms_are_bridged_and_30_ms_pauses_separate() {
    let dir = Direction::Forward;
    let sig = R2Signal::new(3).unwrap();
    let tone = R2Generator::render(dir, sig, 100);
    for (gap, want) in [(7u32, 1), (30, 2)] {
        let mut x = tone.clone();
        x.extend(std::iter::repeat_n(0, ms_to_samples(gap)));
        x.extend_from_slice(&tone);
        assert_eq!(R2Detector::decode(dir, &x).len(), want, "gap {gap} ms");
    }
}

#[test]
fn signals_survive_noise_and_speech_underneath() {
    let dir = Direction::Forward;
    let mut rng = Rng::new(7);
    let mut x: Vec<i16> = Vec::new();
    for sig in all() {
        x.extend(R2Generator::render(dir, sig, 100));
        x.extend(std::iter::repeat_n(0, 400));
    }
    add_noise(&mut x, -40.0, &mut rng);
    let mut speech = vec![0i16; x.len()];
    SpeechLike::new(5, -35.0).fill(&mut speech);
    mix(&mut x, &speech);
    assert_eq!(R2Detector::decode(dir, &x), all().collect::<Vec<_>>());
}

/// Talk-off: 10 minutes of speech-like audio at −15 dBm0 must not look like a
/// register signal in either direction more than once.
#[test]
fn talk_off_on_10_minutes_of_speech_like_audio() {
    let mut fwd = R2Detector::new(Direction::Forward);
    let mut bwd = R2Detector::new(Direction::Backward);
    let mut false_signals = Vec::new();
    let mut frame = [0i16; 160];
    for seed in 0..10 {
        let mut s = SpeechLike::new(seed + 300, -15.0);
        for _ in 0..(60 * 50) {
            s.fill(&mut frame);
            fwd.process(&frame, |x| false_signals.extend(x));
            bwd.process(&frame, |x| false_signals.extend(x));
        }
    }
    println!(
        "R2 talk-off: {} false signals in 10 min",
        false_signals.len()
    );
    assert!(false_signals.len() <= 1, "{false_signals:?}");
}

#[test]
fn the_generator_changes_signal_and_falls_silent() {
    let mut g = R2Generator::new(Direction::Forward);
    let mut out = [1i16; 80];
    g.fill(&mut out);
    assert!(out.iter().all(|&x| x == 0));
    g.set(R2Signal::new(2).ok());
    assert_eq!(g.signal(), R2Signal::new(2).ok());
    g.fill(&mut out);
    // Two tones at −11.5 dBm0 each: about −8.5 dBm0 together.
    let l = crate::dsp::level::dbm0(&out);
    assert!((l + 8.5).abs() < 1.0, "{l}");
}

proptest! {
    #[test]
    fn any_signal_within_tolerance_is_detected_once(
        s in 1u8..=15,
        backward in any::<bool>(),
        da in -10.0f32..10.0,
        db in -10.0f32..10.0,
        level in -30.0f32..-6.0,
        twist in -4.0f32..4.0,
        ms in 40u32..200,
        lead in 0usize..40,
    ) {
        let dir = if backward { Direction::Backward } else { Direction::Forward };
        let (fa, fb) = R2Signal::new(s).unwrap().frequencies(dir);
        let x = burst(&[(fa + da, level), (fb + db, level + twist)], ms, lead);
        prop_assert_eq!(decode(dir, &x), vec![s]);
    }

    #[test]
    fn arbitrary_input_never_panics(x in proptest::collection::vec(any::<i16>(), 0..4000), split in 0usize..4000) {
        let mut det = R2Detector::new(Direction::Forward);
        let split = split.min(x.len());
        det.process(&x[..split], |_| {});
        det.process(&x[split..], |_| {});
    }
}
