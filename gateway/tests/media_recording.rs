//! Recordings are valid Ogg Opus (RFC 7845), stereo caller-left/agent-right, with
//! the right duration, and survive a crash minus at most a page (~1 s).

use std::io::Cursor;
use std::path::Path;
use std::process::Command;

use ogg::reading::PacketReader;
use tandem_gateway::media::mixer::{Mixer, ParticipantId, Role};
use tandem_gateway::media::recorder::{FsyncPolicy, OggOpusWriter, RecorderConfig, start};
use tandem_node::media::analysis::{goertzel_dbfs, tone};
use tandem_node::media::codec::{Channels, Decoder, FrameDuration, SampleRate};

const CALLER: ParticipantId = ParticipantId(1);
const AGENT: ParticipantId = ParticipantId(2);

/// Records `seconds` of a call (caller 440 Hz, agent 1 kHz) through the mixer.
fn record_call(path: &Path, seconds: usize, cfg: RecorderConfig) -> u64 {
    let (mut tap, rec) = start(path, cfg, 0x7a4d).unwrap();
    let mut mixer = Mixer::new(160);
    mixer.add(CALLER, Role::Party).unwrap();
    mixer.add(AGENT, Role::Party).unwrap();
    for f in 0..seconds * 50 {
        mixer
            .set_input(CALLER, &tone(440.0, -12.0, 8000, f * 160, 160))
            .unwrap();
        mixer
            .set_input(AGENT, &tone(1000.0, -18.0, 8000, f * 160, 160))
            .unwrap();
        mixer.mix();
        tap.push(mixer.input(CALLER).unwrap(), mixer.input(AGENT).unwrap())
            .unwrap();
    }
    let dropped = tap.dropped();
    drop(tap);
    let summary = rec.finish().unwrap();
    assert_eq!(summary.frames, (seconds * 50) as u64);
    assert_eq!(summary.gap_frames, dropped);
    dropped
}

struct Parsed {
    head: Vec<u8>,
    tags: Vec<u8>,
    audio: Vec<Vec<u8>>,
    page_granules: Vec<u64>,
    last_granule: u64,
    ended: bool,
}

fn parse(bytes: Vec<u8>) -> Parsed {
    let mut r = PacketReader::new(Cursor::new(bytes));
    let head = r.read_packet_expected().unwrap();
    assert!(
        head.first_in_page() && head.last_in_page(),
        "OpusHead alone on page 1"
    );
    assert_eq!(head.absgp_page(), 0);
    let tags = r.read_packet_expected().unwrap();
    assert!(
        tags.first_in_page() && tags.last_in_page(),
        "OpusTags alone on page 2"
    );
    let mut p = Parsed {
        head: head.data,
        tags: tags.data,
        audio: Vec::new(),
        page_granules: Vec::new(),
        last_granule: 0,
        ended: false,
    };
    let mut first = true;
    while let Ok(Some(pkt)) = r.read_packet() {
        if first {
            assert!(pkt.first_in_page(), "audio starts on a fresh page");
            first = false;
        }
        if pkt.last_in_page() {
            p.page_granules.push(pkt.absgp_page());
        }
        p.last_granule = pkt.absgp_page();
        p.ended = pkt.last_in_stream();
        p.audio.push(pkt.data);
    }
    p
}

fn pre_skip(head: &[u8]) -> u64 {
    u64::from(u16::from_le_bytes([head[10], head[11]]))
}

#[test]
fn ten_second_call_is_valid_stereo_ogg_opus() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("call.opus");
    // The test pushes far faster than real time; a queue as long as the call
    // keeps every frame.
    let cfg = RecorderConfig {
        queue_frames: 500,
        ..RecorderConfig::call(SampleRate::Narrowband)
    };
    assert_eq!(record_call(&path, 10, cfg), 0);
    let p = parse(std::fs::read(&path).unwrap());

    assert_eq!(&p.head[..8], b"OpusHead");
    assert_eq!(p.head.len(), 19);
    assert_eq!(p.head[8], 1, "version");
    assert_eq!(p.head[9], 2, "stereo");
    // Real pre-skip: the encoder's 6.5 ms lookahead at 48 kHz.
    assert_eq!(pre_skip(&p.head), 312);
    assert_eq!(
        u32::from_le_bytes([p.head[12], p.head[13], p.head[14], p.head[15]]),
        8000
    );
    assert_eq!(p.head[18], 0, "mapping family 0");
    assert_eq!(&p.tags[..8], b"OpusTags");
    let tags = String::from_utf8_lossy(&p.tags);
    assert!(
        tags.contains("TANDEM_CHANNELS=caller-left,agent-right"),
        "{tags}"
    );

    // Duration from the final granule: exactly 10 s (± one 20 ms frame allowed).
    assert!(p.ended, "end-of-stream page");
    let secs = (p.last_granule - pre_skip(&p.head)) as f64 / 48_000.0;
    assert!((secs - 10.0).abs() <= 0.02, "duration {secs}");
    // Pages about every second (50 frames of 20 ms); the last page only trims.
    assert_eq!(p.page_granules[0], 48_000);
    let steps: Vec<u64> = p.page_granules.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        steps[..steps.len() - 1].iter().all(|&s| s == 48_000),
        "{steps:?}"
    );

    // Both channels hold the right party.
    let mut dec = Decoder::new(
        SampleRate::Narrowband,
        FrameDuration::Ms20,
        Channels::Stereo,
    )
    .unwrap();
    let mut pcm = vec![0i16; 320];
    let (mut left, mut right) = (Vec::new(), Vec::new());
    for pkt in &p.audio {
        dec.decode(pkt, &mut pcm).unwrap();
        for lr in pcm.chunks(2) {
            left.push(lr[0]);
            right.push(lr[1]);
        }
    }
    let (l, r) = (&left[8000..80_000], &right[8000..80_000]);
    // opus-rs 0.1.40 decodes stereo 6 dB low on both channels (libopus decodes
    // this same file at the right level: see the opusinfo/opusdec test), so
    // check the separation and the 6 dB caller/agent difference here.
    let (cl, ar) = (
        goertzel_dbfs(l, 440.0, 8000),
        goertzel_dbfs(r, 1000.0, 8000),
    );
    assert!(cl > -20.0 && ar > -26.0, "caller {cl:.1} agent {ar:.1}");
    assert!(
        ((cl - ar) - 6.0).abs() < 1.0,
        "caller {cl:.1} agent {ar:.1}"
    );
    assert!(
        goertzel_dbfs(l, 1000.0, 8000) < cl - 20.0,
        "agent leaks into left"
    );
    assert!(
        goertzel_dbfs(r, 440.0, 8000) < ar - 20.0,
        "caller leaks into right"
    );
}

#[test]
fn opusinfo_accepts_the_recording() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("call.opus");
    let cfg = RecorderConfig {
        queue_frames: 500,
        ..RecorderConfig::call(SampleRate::Narrowband)
    };
    record_call(&path, 10, cfg);
    let out = match Command::new("opusinfo").arg(&path).output() {
        Ok(o) => o,
        Err(e) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "opusinfo is required in CI (apt-get install opus-tools): {e}"
            );
            eprintln!("SKIPPED: opusinfo not installed (apt-get install opus-tools): {e}");
            return;
        }
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(
        !text.contains("WARNING") && !text.contains("ERROR"),
        "{text}"
    );
    assert!(text.contains("Pre-skip: 312"), "{text}");
    assert!(text.contains("Channels: 2"), "{text}");
    assert!(text.contains("Playback length: 0m:10.000s"), "{text}");

    // libopus (opusdec) decodes both channels at the level they were recorded.
    let wav = dir.path().join("call.wav");
    let st = Command::new("opusdec")
        .arg("--quiet")
        .arg(&path)
        .arg(&wav)
        .status();
    assert!(
        st.is_ok_and(|s| s.success()),
        "opusdec failed on {}",
        path.display()
    );
    let mut reader = hound::WavReader::open(&wav).unwrap();
    let spec = reader.spec();
    assert_eq!(spec.channels, 2);
    let all: Vec<i16> = reader.samples::<i16>().map(|s| s.unwrap()).collect();
    let rate = spec.sample_rate;
    assert_eq!(all.len() as u32, 2 * 10 * rate, "exactly 10 s decoded");
    let side = |c: usize| -> Vec<i16> { all.iter().skip(c).step_by(2).copied().collect() };
    let (l, r) = (side(0), side(1));
    let body = |x: &[i16]| x[rate as usize..9 * rate as usize].to_vec();
    assert!((goertzel_dbfs(&body(&l), 440.0, rate) + 12.0).abs() < 1.0);
    assert!((goertzel_dbfs(&body(&r), 1000.0, rate) + 18.0).abs() < 1.0);
}

#[test]
fn a_crash_loses_at_most_one_page() {
    let cfg = RecorderConfig {
        fsync: FsyncPolicy::Never,
        ..RecorderConfig::call(SampleRate::Narrowband)
    };
    let mut w = OggOpusWriter::new(Vec::new(), &cfg, 7).unwrap();
    // 3.5 s of audio, then the process dies: no finish().
    for f in 0..175 {
        let side = tone(440.0, -12.0, 8000, f * 160, 160);
        let stereo: Vec<i16> = side.iter().flat_map(|&s| [s, s]).collect();
        w.write_frame(&stereo).unwrap();
    }
    let p = parse(std::mem::take(w_inner(&mut w)));
    assert_eq!(p.audio.len(), 150, "three whole pages survive");
    assert_eq!(p.last_granule, 3 * 48_000);
}

fn w_inner(w: &mut OggOpusWriter<Vec<u8>>) -> &mut Vec<u8> {
    w.inner_mut()
}

#[test]
fn a_stalled_disk_drops_frames_but_keeps_the_timeline() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("slow.opus");
    let cfg = RecorderConfig {
        queue_frames: 1,
        ..RecorderConfig::call(SampleRate::Narrowband)
    };
    // The tap never blocks; whatever it drops is written as silence.
    record_call(&path, 4, cfg);
    let p = parse(std::fs::read(&path).unwrap());
    let secs = (p.last_granule - pre_skip(&p.head)) as f64 / 48_000.0;
    assert!((secs - 4.0).abs() <= 0.02, "duration {secs}");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

    /// Any length of recording (including none) finishes as a valid stream whose
    /// final granule gives exactly its duration, with a page per second.
    #[test]
    fn any_length_round_trips(frames in 0usize..180) {
        let cfg = RecorderConfig {
            fsync: FsyncPolicy::Never,
            ..RecorderConfig::call(SampleRate::Narrowband)
        };
        let mut w = OggOpusWriter::new(Vec::new(), &cfg, 3).unwrap();
        for f in 0..frames {
            let side = tone(300.0, -20.0, 8000, f * 160, 160);
            let stereo: Vec<i16> = side.iter().flat_map(|&s| [s, 0]).collect();
            w.write_frame(&stereo).unwrap();
        }
        let p = parse(w.finish().unwrap());
        proptest::prop_assert!(p.ended);
        proptest::prop_assert_eq!(p.audio.len(), frames + 1, "frames plus the lookahead flush");
        proptest::prop_assert_eq!(p.last_granule - pre_skip(&p.head), frames as u64 * 960);
        proptest::prop_assert_eq!(p.page_granules.len(), frames / 50 + 1);
    }
}
