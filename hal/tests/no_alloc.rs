//! The DSP blocks must not touch the allocator per frame (thousands of channels
//! per core): after construction, processing frames allocates nothing.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use tandem_hal::dsp::callerid::fsk::FskTransmitter;
use tandem_hal::dsp::callerid::receiver::CallerIdReceiver;
use tandem_hal::dsp::callerid::{CallerId, CidStandard};
use tandem_hal::dsp::dtmf::{DtmfDetector, DtmfGenerator, DtmfTiming};
use tandem_hal::dsp::g711::Law;
use tandem_hal::dsp::level::LevelMeter;
use tandem_hal::dsp::progress::{ProgressConfig, ProgressDetector};
use tandem_hal::dsp::r2::{Direction, R2Detector, R2Generator, R2Signal};
use tandem_hal::dsp::resample::Resampler;
use tandem_hal::dsp::tones::{CHINA, ToneGenerator};

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Set on the thread being measured only: the test harness's own threads
    /// allocate now and then (output capture, timers), which is not ours to count.
    /// Const-initialized, so reading it from the allocator never allocates.
    static MEASURED: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: forwards to the system allocator unchanged, only counting calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if MEASURED.with(Cell::get) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn frame_processing_does_not_allocate() {
    // Audio with everything in it: DTMF, busy tone, FSK caller ID.
    let mut audio = DtmfGenerator::render("123#", DtmfTiming::default()).unwrap();
    let id = CallerId::with_number("13800138000").unwrap();
    audio.extend(FskTransmitter::render(&id, CidStandard::Bell202, false).unwrap());
    let mut busy = vec![0i16; 8000 * 4];
    ToneGenerator::new(&CHINA.busy).fill(&mut busy);
    audio.extend(busy);
    for n in [1, 10, 15] {
        audio.extend(R2Generator::render(
            Direction::Forward,
            R2Signal::new(n).unwrap(),
            100,
        ));
        audio.extend([0i16; 800]);
    }

    let mut r2 = R2Detector::new(Direction::Forward);
    let mut r2_tone = R2Generator::new(Direction::Backward);
    r2_tone.set(R2Signal::new(1).ok());
    let mut r2_out = [0i16; 160];
    let mut signals = 0;
    let mut dtmf = DtmfDetector::new();
    let mut cid = CallerIdReceiver::new();
    let mut progress = ProgressDetector::new(&CHINA, ProgressConfig::default());
    let mut meter = LevelMeter::new();
    let mut up = Resampler::new(8000, 48000).unwrap();
    let mut down = Resampler::new(48000, 8000).unwrap();
    let mut tone = ToneGenerator::new(&CHINA.ringback);
    let mut codes = [0u8; 160];
    let mut pcm = [0i16; 160];
    let mut wide = [0i16; 960];
    let (mut digits, mut ids, mut tones) = (0, 0, 0);

    let before = ALLOCS.load(Ordering::Relaxed);
    MEASURED.with(|m| m.set(true));
    for frame in audio.chunks_exact(160) {
        Law::Alaw.encode(frame, &mut codes);
        Law::Alaw.decode(&codes, &mut pcm);
        dtmf.process(&pcm, |_| digits += 1);
        cid.process(&pcm, |r| ids += usize::from(r.is_ok()));
        progress.process(&pcm, |_| tones += 1);
        meter.push(&pcm);
        up.process(&pcm, &mut wide);
        down.process(&wide, &mut pcm);
        tone.fill(&mut pcm);
        r2.process(frame, |s| signals += usize::from(s.is_some()));
        r2_tone.fill(&mut r2_out);
    }
    MEASURED.with(|m| m.set(false));
    let allocations = ALLOCS.load(Ordering::Relaxed) - before;
    assert_eq!(
        (digits, ids, tones, signals),
        (4, 1, 1, 3),
        "the blocks did their work"
    );
    assert_eq!(
        allocations, 0,
        "{allocations} allocations while processing frames"
    );
}
