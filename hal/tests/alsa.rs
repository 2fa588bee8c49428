//! The ALSA backend through alsa-lib without a sound card: an ALSA configuration
//! with `file` PCMs over the `null` plugin captures from a raw file and plays into
//! another. Needs libasound2-dev; run with `cargo test -p tandem-hal --features alsa`.
#![cfg(feature = "alsa")]

use tandem_hal::alsa::AlsaDevice;
use tandem_hal::audio::{AudioDevice, AudioError};
use tandem_hal::dsp::dtmf::{DtmfDetector, DtmfGenerator, DtmfTiming};

#[test]
fn capture_and_playback_through_alsa_file_plugins() {
    let dir = tempfile::tempdir().unwrap();
    let input = DtmfGenerator::render("31#", DtmfTiming::default()).unwrap();
    let in_raw = dir.path().join("in.raw");
    let bytes: Vec<u8> = input.iter().flat_map(|s| s.to_ne_bytes()).collect();
    std::fs::write(&in_raw, bytes).unwrap();
    let out_raw = dir.path().join("out.raw");
    let conf = dir.path().join("asound.conf");
    std::fs::write(
        &conf,
        format!(
            r#"
pcm.tandem_in {{ type file slave.pcm {{ type null }} file "/dev/null" infile "{}" format "raw" }}
pcm.tandem_out {{ type file slave.pcm {{ type null }} file "{}" format "raw" }}
"#,
            in_raw.display(),
            out_raw.display()
        ),
    )
    .unwrap();
    // SAFETY: this test binary has this one test, so no other thread reads the
    // environment while it is changed; alsa-lib reads it on the first open below.
    unsafe { std::env::set_var("ALSA_CONFIG_PATH", &conf) };

    let mut dev = AlsaDevice::open("tandem_in", "tandem_out", 8000, 160).unwrap();
    assert_eq!((dev.sample_rate(), dev.period()), (8000, 160));
    let mut captured = Vec::new();
    let mut frame = [0i16; 160];
    for _ in 0..input.len() / 160 {
        dev.read(&mut frame).unwrap();
        captured.extend_from_slice(&frame);
        dev.write(&frame).unwrap();
    }
    assert_eq!(captured, input[..captured.len()]);
    assert_eq!(DtmfDetector::decode(&captured), "31#");
    assert!(matches!(
        dev.read(&mut [0; 10]),
        Err(AudioError::PeriodSize { .. })
    ));
    drop(dev);
    let played: Vec<i16> = std::fs::read(&out_raw)
        .unwrap()
        .chunks_exact(2)
        .map(|b| i16::from_ne_bytes([b[0], b[1]]))
        .collect();
    assert_eq!(played, captured);

    let missing = AlsaDevice::open("no_such_pcm", "tandem_out", 8000, 160);
    assert!(matches!(missing, Err(AudioError::Device { device, .. }) if device == "no_such_pcm"));
}
