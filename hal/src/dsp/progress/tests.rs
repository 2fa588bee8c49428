use super::*;
use crate::dsp::oscillator::Sine;
use crate::dsp::tones::{CHINA, ITU, NORTH_AMERICA, ToneGenerator};
use crate::testutil::{Rng, SpeechLike, add_noise, mix};

fn tone(plan: &'static TonePlan, kind: ToneKind, seconds: usize) -> Vec<i16> {
    let mut g = ToneGenerator::new(plan.tone(kind));
    let mut x = vec![0i16; 8000 * seconds];
    g.fill(&mut x);
    x
}

fn heard(plan: &'static TonePlan, x: &[i16]) -> Vec<(usize, ToneKind)> {
    let mut d = ProgressDetector::new(plan, ProgressConfig::default());
    let mut out = Vec::new();
    for (i, frame) in x.chunks(FRAME_20MS).enumerate() {
        d.process(frame, |k| out.push((i * 20, k)));
    }
    out
}

#[test]
fn every_cadenced_tone_of_every_plan_is_recognised() {
    for plan in [&CHINA, &ITU, &NORTH_AMERICA] {
        for kind in ToneKind::ALL {
            let secs = if kind == ToneKind::CallWaiting || kind == ToneKind::Ringback {
                25
            } else {
                8
            };
            let mut x = vec![0i16; 4000];
            x.extend(tone(plan, kind, secs));
            add_noise(&mut x, -55.0, &mut Rng::new(1));
            let got: Vec<_> = heard(plan, &x).into_iter().map(|(_, k)| k).collect();
            assert_eq!(got, [kind], "{} {kind:?}", plan.name);
        }
    }
}

#[test]
fn china_busy_is_reported_after_four_cycles_not_before() {
    let got = heard(&CHINA, &tone(&CHINA, ToneKind::Busy, 6));
    // Four cycles of 700 ms end at 2.8 s; recognised as the fifth burst starts.
    assert_eq!(got.len(), 1);
    assert!((2780..=2900).contains(&got[0].0), "{got:?}");
    assert!(heard(&CHINA, &tone(&CHINA, ToneKind::Busy, 2)).is_empty());
}

#[test]
fn busy_and_congestion_are_told_apart() {
    let got = heard(
        &NORTH_AMERICA,
        &tone(&NORTH_AMERICA, ToneKind::Congestion, 4),
    );
    assert_eq!(
        got.iter().map(|g| g.1).collect::<Vec<_>>(),
        [ToneKind::Congestion]
    );
    // ITU busy played to a China detector: wrong frequency, nothing reported.
    assert!(heard(&CHINA, &tone(&ITU, ToneKind::Busy, 8)).is_empty());
}

#[test]
fn speech_is_never_a_disconnect_tone() {
    let mut x = vec![0i16; 8000 * 600];
    SpeechLike::new(42, -15.0).fill(&mut x);
    for plan in [&CHINA, &ITU, &NORTH_AMERICA] {
        assert!(
            heard(plan, &x).iter().all(|(_, k)| !k.means_disconnect()),
            "{}",
            plan.name
        );
    }
}

/// Hold music: notes of a scale including 440/450 Hz, with harmonics and rests of
/// varying length, and a metronome-like passage of 450 Hz beeps with uneven rests.
#[test]
fn music_is_never_a_disconnect_tone() {
    let mut rng = Rng::new(9);
    let mut x = Vec::new();
    let scale = [
        262.0, 294.0, 330.0, 349.0, 392.0, 440.0, 450.0, 494.0, 523.0,
    ];
    while x.len() < 8000 * 600 {
        let f = scale[(rng.uniform() * scale.len() as f32) as usize];
        let n = 8 * (150 + (rng.uniform() * 500.0) as usize);
        let mut note = vec![0i16; n];
        Sine::new(f, -14.0).fill(&mut note);
        let mut h = vec![0i16; n];
        Sine::new(2.0 * f, -24.0).fill(&mut h);
        mix(&mut note, &h);
        x.extend(note);
        let rest = 8 * (rng.uniform() * 400.0) as usize;
        x.extend(std::iter::repeat_n(0, rest));
    }
    for plan in [&CHINA, &ITU, &NORTH_AMERICA] {
        assert!(
            heard(plan, &x).iter().all(|(_, k)| !k.means_disconnect()),
            "{}",
            plan.name
        );
    }
}

#[test]
fn busy_under_speech_cross_talk_still_detected_and_speech_breaks_the_match() {
    let mut busy = tone(&CHINA, ToneKind::Busy, 8);
    let mut faint = vec![0i16; busy.len()];
    SpeechLike::new(5, -50.0).fill(&mut faint);
    mix(&mut busy, &faint);
    assert_eq!(heard(&CHINA, &busy).len(), 1);
    // Busy interrupted by a burst of speech every 2 s: never four clean cycles.
    let mut x = tone(&CHINA, ToneKind::Busy, 10);
    let mut talk = vec![0i16; 8000];
    SpeechLike::new(6, -12.0).fill(&mut talk);
    for start in (0..x.len() - 8000).step_by(16000) {
        x[start + 4000..start + 4800].copy_from_slice(&talk[..800]);
    }
    assert!(heard(&CHINA, &x).is_empty());
}
