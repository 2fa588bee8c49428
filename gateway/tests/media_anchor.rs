//! The anchor end to end through `CallMedia`: the caller on the line (8 kHz), a
//! remote agent seat (16 kHz) across the datagram path both ways, and a
//! supervisor on a same-box seat fed straight into the mixer (no network). Checks who hears whom, through
//! the real codec, in each supervision mode.

use tandem_gateway::media::anchor::{AnchorError, CallMedia};
use tandem_gateway::media::mixer::{Mixer, ParticipantId, Role};
use tandem_gateway::media::recorder::{RecorderConfig, start};
use tandem_node::media::analysis::{goertzel_dbfs, tone};
use tandem_node::media::impair::{ImpairedLink, Impairment};
use tandem_node::media::{
    CodecConfig, FrameDuration, FrameSource, JitterConfig, LegId, LegReceiver, LegSender,
    SampleRate,
};

const CALLER: ParticipantId = ParticipantId(1);
const AGENT: ParticipantId = ParticipantId(2);
const SUP: ParticipantId = ParticipantId(3);
const F_CALLER: f64 = 440.0;
const F_AGENT: f64 = 1000.0;
const F_SUP: f64 = 1500.0;

struct Call {
    anchor: CallMedia,
    at_seat: LegReceiver,
    from_seat: LegSender,
    down: ImpairedLink,
    up: ImpairedLink,
    tick: usize,
}

/// What each participant heard over one stretch of the call.
struct Heard {
    caller: Vec<i16>,
    agent: Vec<i16>,
    supervisor: Vec<i16>,
}

impl Call {
    fn new() -> Self {
        let leg = LegId(42);
        let jitter = JitterConfig::for_frame(FrameDuration::Ms20);
        let mut anchor = CallMedia::new(SampleRate::Narrowband, jitter);
        anchor.add_local(CALLER, Role::Party).unwrap();
        anchor
            .add_remote(
                AGENT,
                Role::Party,
                leg,
                CodecConfig::voice(SampleRate::Narrowband),
            )
            .unwrap();
        anchor.add_local(SUP, Role::Whisper { to: AGENT }).unwrap();
        let link = Impairment {
            delay_us: 15_000,
            jitter_us: 5_000,
            ..Impairment::default()
        };
        Call {
            anchor,
            at_seat: LegReceiver::new(leg, SampleRate::Wideband, jitter).unwrap(),
            from_seat: LegSender::new(leg, CodecConfig::voice(SampleRate::Wideband)).unwrap(),
            down: ImpairedLink::new(link, 1),
            up: ImpairedLink::new(link, 2),
            tick: 0,
        }
    }

    fn run(&mut self, seconds: usize) -> Heard {
        let mut h = Heard {
            caller: Vec::new(),
            agent: Vec::new(),
            supervisor: Vec::new(),
        };
        let mut wb = vec![0i16; 320];
        for _ in 0..seconds * 50 {
            let t = self.tick;
            let now = t as u64 * 20_000;
            // Anchor tick: the line and the same-box supervisor are local PCM;
            // the remote agent arrives as datagrams.
            let a = &mut self.anchor;
            a.set_local_input(CALLER, &tone(F_CALLER, -12.0, 8000, t * 160, 160))
                .unwrap();
            a.set_local_input(SUP, &tone(F_SUP, -12.0, 8000, t * 160, 160))
                .unwrap();
            while let Some(d) = self.up.poll(now) {
                a.on_datagram(now, &d).unwrap();
            }
            let down = &mut self.down;
            a.tick(now, |d| down.send(now, d)).unwrap();
            h.caller.extend_from_slice(a.local_output(CALLER).unwrap());
            h.supervisor.extend_from_slice(a.local_output(SUP).unwrap());
            // Seat tick.
            while let Some(d) = self.down.poll(now) {
                self.at_seat.on_datagram(now, &d).unwrap();
            }
            self.at_seat.play_frame(now, &mut wb).unwrap();
            h.agent.extend_from_slice(&wb);
            let mic = tone(F_AGENT, -12.0, 16000, t * 320, 320);
            if let Some(d) = self.from_seat.encode_frame(&mic).unwrap() {
                self.up.send(now, d);
            }
            self.tick += 1;
        }
        h
    }
}

/// Level of `f` in the last 80 % of `x` (after any mode change settles).
fn level(x: &[i16], f: f64, rate: u32) -> f64 {
    goertzel_dbfs(&x[x.len() / 5..], f, rate)
}

fn hears(x: &[i16], f: f64, rate: u32) -> bool {
    level(x, f, rate) > -16.0
}

fn silent_to(x: &[i16], f: f64, rate: u32) -> bool {
    level(x, f, rate) < -40.0
}

#[test]
fn whisper_monitor_and_barge_across_the_network() {
    let mut call = Call::new();
    let h = call.run(2);
    // Whisper: agent hears caller and supervisor; caller hears only the agent.
    assert!(hears(&h.agent, F_CALLER, 16000) && hears(&h.agent, F_SUP, 16000));
    assert!(
        hears(&h.caller, F_AGENT, 8000),
        "{}",
        level(&h.caller, F_AGENT, 8000)
    );
    assert!(
        silent_to(&h.caller, F_SUP, 8000),
        "caller must not hear the whisper"
    );
    assert!(hears(&h.supervisor, F_CALLER, 8000) && hears(&h.supervisor, F_AGENT, 8000));

    call.anchor.set_role(SUP, Role::Monitor).unwrap();
    let h = call.run(2);
    assert!(silent_to(&h.agent, F_SUP, 16000) && silent_to(&h.caller, F_SUP, 8000));
    assert!(hears(&h.supervisor, F_CALLER, 8000) && hears(&h.supervisor, F_AGENT, 8000));
    assert!(hears(&h.agent, F_CALLER, 16000) && hears(&h.caller, F_AGENT, 8000));

    call.anchor.set_role(SUP, Role::Party).unwrap();
    let h = call.run(2);
    assert!(hears(&h.caller, F_SUP, 8000) && hears(&h.agent, F_SUP, 16000));
    assert!(
        silent_to(&h.supervisor, F_SUP, 8000),
        "nobody hears themselves"
    );
    assert_eq!(call.at_seat.stats().lost(), 0);
    assert_eq!(call.anchor.leg_stats(AGENT).unwrap().lost(), 0);
    assert!(matches!(
        call.anchor.set_local_input(AGENT, &[0; 160]),
        Err(AnchorError::NotLocal(_))
    ));
    assert_eq!(call.anchor.last_source(AGENT), Some(FrameSource::Decoded));
    assert_eq!(call.anchor.take_loss_reports(), vec![(LegId(42), 0)]);
    call.anchor.apply_loss_report(LegId(42), 5).unwrap();
    assert!(matches!(
        call.anchor.apply_loss_report(LegId(1), 5),
        Err(AnchorError::UnknownLeg(LegId(1)))
    ));
    let stats = call.anchor.remove(AGENT).unwrap().unwrap();
    assert!(stats.received > 250, "{stats:?}");
}

#[test]
fn same_box_seat_is_bridged_without_the_network() {
    // Line and a local seat on one gateway: PCM goes straight through the mixer,
    // so what the seat hears is the caller's samples exactly, with no delay.
    let mut m = Mixer::new(160);
    m.add(CALLER, Role::Party).unwrap();
    m.add(AGENT, Role::Party).unwrap();
    for t in 0..10 {
        let line = tone(F_CALLER, -12.0, 8000, t * 160, 160);
        let seat = tone(F_AGENT, -12.0, 8000, t * 160, 160);
        m.set_input(CALLER, &line).unwrap();
        m.set_input(AGENT, &seat).unwrap();
        m.mix();
        assert_eq!(m.output(AGENT).unwrap(), &line[..]);
        assert_eq!(m.output(CALLER).unwrap(), &seat[..]);
    }
}

#[test]
fn call_media_records_caller_and_remote_agent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("anchor.opus");
    let cfg = RecorderConfig {
        queue_frames: 200,
        ..RecorderConfig::call(SampleRate::Narrowband)
    };
    let (tap, rec) = start(&path, cfg).unwrap();
    let mut call = Call::new();
    call.anchor.start_recording(tap, CALLER, AGENT);
    call.run(2);
    drop(call.anchor.stop_recording());
    let summary = rec.finish().unwrap();
    assert_eq!((summary.frames, summary.gap_frames), (100, 0));
    assert!(std::fs::metadata(&path).unwrap().len() > 3_000);
    // More datagrams for a leg the call does not have are refused, typed.
    let mut stray = Vec::new();
    tandem_node::media::datagram::Header {
        leg: LegId(7),
        seq: 0,
        timestamp: 0,
        flags: tandem_node::media::datagram::Flags::empty(),
    }
    .write(&[0xfc], &mut stray)
    .unwrap();
    assert!(matches!(
        call.anchor.on_datagram(0, &stray),
        Err(AnchorError::UnknownLeg(LegId(7)))
    ));
}

/// The real-time shape: the anchor's audio runs on its own thread
/// (`AudioThread`), datagrams reach it through a bounded never-blocking `Inbox`
/// (as the network task would offer them) and leave through a non-blocking
/// callback; the seat is another audio thread. 1.5 s of wall-clock audio.
#[test]
fn anchor_on_a_dedicated_audio_thread_in_real_time() {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;
    use tandem_node_io::media::worker::{AudioThread, inbox};

    let leg = LegId(9);
    let jitter = JitterConfig::for_frame(FrameDuration::Ms20);
    let (to_anchor, anchor_in) = inbox::<Vec<u8>>(64);
    let (to_seat, seat_in) = inbox::<Vec<u8>>(64);
    let caller_heard = Arc::new(Mutex::new(Vec::<i16>::new()));
    let agent_heard = Arc::new(Mutex::new(Vec::<i16>::new()));

    let mut anchor = CallMedia::new(SampleRate::Narrowband, jitter);
    anchor.add_local(CALLER, Role::Party).unwrap();
    anchor
        .add_remote(
            AGENT,
            Role::Party,
            leg,
            CodecConfig::voice(SampleRate::Narrowband),
        )
        .unwrap();
    let heard = Arc::clone(&caller_heard);
    let mut t = 0usize;
    let anchor_thread = AudioThread::spawn("anchor-audio", Duration::from_millis(20), move |now| {
        for d in anchor_in.drain() {
            let _ = anchor.on_datagram(now, &d);
        }
        let line = tone(F_CALLER, -12.0, 8000, t * 160, 160);
        t += 1;
        if anchor.set_local_input(CALLER, &line).is_ok()
            && anchor
                .tick(now, |d| {
                    to_seat.offer(d.to_vec());
                })
                .is_ok()
            && let (Ok(out), Ok(mut h)) = (anchor.local_output(CALLER), heard.lock())
        {
            h.extend_from_slice(out);
        }
    })
    .unwrap();

    let mut rx = LegReceiver::new(leg, SampleRate::Wideband, jitter).unwrap();
    let mut tx = LegSender::new(leg, CodecConfig::voice(SampleRate::Wideband)).unwrap();
    let heard = Arc::clone(&agent_heard);
    let mut s = 0usize;
    let mut wb = vec![0i16; 320];
    let seat_thread = AudioThread::spawn("seat-audio", Duration::from_millis(20), move |now| {
        for d in seat_in.drain() {
            let _ = rx.on_datagram(now, &d);
        }
        if rx.play_frame(now, &mut wb).is_ok()
            && let Ok(mut h) = heard.lock()
        {
            h.extend_from_slice(&wb);
        }
        let mic = tone(F_AGENT, -12.0, 16000, s * 320, 320);
        s += 1;
        if let Ok(Some(d)) = tx.encode_frame(&mic) {
            to_anchor.offer(d.to_vec());
        }
    })
    .unwrap();

    std::thread::sleep(Duration::from_millis(1500));
    anchor_thread.stop();
    seat_thread.stop();
    let caller = caller_heard.lock().unwrap().clone();
    let agent = agent_heard.lock().unwrap().clone();
    assert!(
        caller.len() >= 8000,
        "anchor ran {} frames",
        caller.len() / 160
    );
    assert!(
        hears(&caller, F_AGENT, 8000),
        "{}",
        level(&caller, F_AGENT, 8000)
    );
    assert!(
        hears(&agent, F_CALLER, 16000),
        "{}",
        level(&agent, F_CALLER, 16000)
    );
}

#[test]
fn a_seat_that_starts_a_new_stream_on_a_leg_relayed_again_is_heard_after_a_receiver_restart() {
    let mut call = Call::new();
    let before = call.run(2);
    assert!(hears(&before.caller, F_AGENT, 8000));
    // The seat was detached and attached again: a new sender, from sequence 0.
    call.from_seat = LegSender::new(LegId(42), CodecConfig::voice(SampleRate::Wideband)).unwrap();
    let stale = call.run(2);
    assert!(
        silent_to(&stale.caller, F_AGENT, 8000),
        "the old jitter buffer takes the new stream for late packets"
    );
    let old = call.anchor.restart_receiver(LegId(42)).unwrap();
    assert!(old.is_some_and(|s| s.late > 0), "{old:?}");
    let after = call.run(2);
    assert!(hears(&after.caller, F_AGENT, 8000));
    assert!(matches!(
        call.anchor.restart_receiver(LegId(7)),
        Err(AnchorError::UnknownLeg(_))
    ));
}
