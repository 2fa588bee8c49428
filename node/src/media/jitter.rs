//! Adaptive jitter buffer: pure logic, driven by a clock the caller passes in.
//!
//! The audio thread calls [`JitterBuffer::push`] for every datagram and
//! [`JitterBuffer::pop`] once per frame period; `pop` says what to play and the
//! caller decodes. Keeping the codec out makes every decision testable frame by frame.
//!
//! Policy, chosen for the ≤ 45 ms budget in DESIGN.md:
//! - **Start at one frame**: the first packet plays at the first `pop` after it arrives.
//! - **Grow only with measured jitter**: the target headroom is the configured
//!   percentile of transit-time variation over the last `history` packets (bounded
//!   by `max_delay_ms`). A missing frame is waited for (concealed without advancing)
//!   only while the headroom is below target; otherwise it is given up.
//! - **Shrink when headroom is idle**: if for `shrink_after` consecutive pops there
//!   was always more headroom than the target, one frame is dropped. This is also
//!   how clock drift is absorbed: a fast sender fills the buffer and gets a frame
//!   dropped now and then; a slow one drains it and gets a frame concealed.
//! - **FEC before PLC**: a lost frame whose successor is buffered is rebuilt from
//!   the successor's in-band FEC ([`Playout::Fec`]); only otherwise concealed.
//! - Reordered packets are slotted by timestamp; duplicates and late packets are
//!   counted and dropped.

use super::codec::{FrameDuration, MAX_OPUS_PACKET, TICKS_PER_SECOND};
use super::datagram::{Flags, Header};
use super::stats::LegStats;

/// Tuning of one jitter buffer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JitterConfig {
    /// Frame length of the incoming stream.
    pub frame: FrameDuration,
    /// Hard bound on buffered audio; beyond it old frames are dropped.
    pub max_delay_ms: u32,
    /// Percentile of transit variation covered by the headroom (NetEq uses 0.95).
    pub percentile: f64,
    /// Packets of transit history the percentile is taken over.
    pub history: usize,
    /// Consecutive pops with idle headroom before a frame is dropped.
    pub shrink_after: u32,
    /// Consecutive concealed frames in an underrun before playing silence instead
    /// (PLC of a long gap sounds worse than silence; DTX pauses land here too).
    pub max_conceal_run: u32,
}

impl JitterConfig {
    /// Defaults for `frame`: 200 ms bound, 95th percentile over ~5 s, shrink after ~1 s.
    pub fn for_frame(frame: FrameDuration) -> Self {
        let per_second = 1000 / frame.millis();
        JitterConfig {
            frame,
            max_delay_ms: 200,
            percentile: 0.95,
            history: (5 * per_second) as usize,
            shrink_after: per_second,
            max_conceal_run: 100 / frame.millis(),
        }
    }

    fn max_frames(&self) -> i64 {
        i64::from((self.max_delay_ms / self.frame.millis()).max(1))
    }
}

/// What to play for the current frame period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Playout<'a> {
    /// Decode this packet.
    Packet(&'a [u8]),
    /// The frame was lost: rebuild it from this (next) packet's in-band FEC.
    Fec(&'a [u8]),
    /// The frame is missing: conceal it.
    Conceal,
    /// Nothing to play: not started, a pause (DTX) or waiting to re-time playout.
    Silence,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SlotState {
    Empty,
    Filled,
    Played,
}

struct Slot {
    idx: i64,
    state: SlotState,
    fec: bool,
    data: Vec<u8>,
}

/// Unwraps a wrapping counter into a monotonic-ish `i64` around the last value seen.
#[derive(Debug, Clone, Copy)]
struct Unwrapper<const BITS: u32> {
    last: Option<(u64, i64)>,
}

impl<const BITS: u32> Unwrapper<BITS> {
    fn unwrap(&mut self, raw: u64) -> i64 {
        let modulus = 1i64 << BITS;
        let ext = match self.last {
            None => raw as i64,
            Some((last_raw, last_ext)) => {
                let mut d = (raw as i64 - last_raw as i64).rem_euclid(modulus);
                if d >= modulus / 2 {
                    d -= modulus;
                }
                last_ext + d
            }
        };
        if self.last.is_none_or(|(_, e)| ext > e) {
            self.last = Some((raw, ext));
        }
        ext
    }
}

/// The adaptive jitter buffer of one receiving leg.
pub struct JitterBuffer {
    cfg: JitterConfig,
    slots: Vec<Slot>,
    ts: Unwrapper<32>,
    seq: Unwrapper<16>,
    base_ts: Option<i64>,
    seq_range: Option<(i64, i64)>,
    play: Option<i64>,
    started: bool,
    newest: i64,
    hold: u32,
    stall_run: u32,
    idle_pops: u32,
    min_slack: i64,
    transit: Vec<i64>,
    transit_pos: usize,
    scratch: Vec<i64>,
    last_arrival: Option<(u64, i64)>,
    target_extra: i64,
    stats: LegStats,
}

impl JitterBuffer {
    /// An empty buffer.
    pub fn new(cfg: JitterConfig) -> Self {
        let cap = (2 * cfg.max_frames() + 4) as usize;
        let slots = (0..cap)
            .map(|_| Slot {
                idx: i64::MIN,
                state: SlotState::Empty,
                fec: false,
                data: Vec::with_capacity(MAX_OPUS_PACKET),
            })
            .collect();
        JitterBuffer {
            slots,
            ts: Unwrapper { last: None },
            seq: Unwrapper { last: None },
            base_ts: None,
            seq_range: None,
            play: None,
            started: false,
            newest: i64::MIN,
            hold: 0,
            stall_run: 0,
            idle_pops: 0,
            min_slack: i64::MAX,
            transit: Vec::with_capacity(cfg.history.max(1)),
            transit_pos: 0,
            scratch: Vec::with_capacity(cfg.history.max(1)),
            last_arrival: None,
            target_extra: 0,
            stats: LegStats::default(),
            cfg,
        }
    }

    /// Statistics so far.
    pub fn stats(&self) -> &LegStats {
        &self.stats
    }

    /// Counts a datagram the caller refused before it reached the buffer.
    pub fn count_malformed(&mut self) {
        self.stats.malformed += 1;
    }

    fn slot_index(&self, idx: i64) -> usize {
        idx.rem_euclid(self.slots.len() as i64) as usize
    }

    fn ticks_to_us(ticks: i64) -> i64 {
        ticks * 1_000_000 / i64::from(TICKS_PER_SECOND)
    }

    fn frame_us(&self) -> i64 {
        self.cfg.frame.micros() as i64
    }

    /// Accepts one received packet at local time `now_us` (microseconds, monotonic).
    pub fn push(&mut self, now_us: u64, header: &Header, payload: &[u8]) {
        let ext_ts = self.ts.unwrap(u64::from(header.timestamp));
        let ext_seq = self.seq.unwrap(u64::from(header.seq));
        let base = *self.base_ts.get_or_insert(ext_ts);
        let rel = ext_ts - base;
        let idx = rel.div_euclid(i64::from(self.cfg.frame.ticks()));
        let slot_i = self.slot_index(idx);
        let slot = &self.slots[slot_i];
        if slot.idx == idx && slot.state != SlotState::Empty {
            self.stats.duplicates += 1;
            return;
        }
        self.note_seq(ext_seq);
        self.note_transit(now_us, rel);

        if let Some(play) = self.play {
            let cap = self.slots.len() as i64;
            let buffer_empty = self.newest < play;
            let talkspurt = header.flags.contains(Flags::MARKER) && buffer_empty;
            if idx >= play + cap || (talkspurt && idx > play) {
                self.resync(idx);
            } else if idx < play {
                if !self.started && play - idx < cap {
                    self.play = Some(idx);
                } else {
                    self.stats.late += 1;
                    return;
                }
            }
        } else {
            self.play = Some(idx);
        }
        self.stats.received += 1;
        self.newest = self.newest.max(idx);
        let slot = &mut self.slots[slot_i];
        slot.idx = idx;
        slot.state = SlotState::Filled;
        slot.fec = header.flags.contains(Flags::FEC);
        slot.data.clear();
        slot.data.extend_from_slice(payload);
    }

    fn note_seq(&mut self, ext_seq: i64) {
        let (first, last) = match self.seq_range {
            None => (ext_seq, ext_seq),
            Some((f, l)) => (f.min(ext_seq), l.max(ext_seq)),
        };
        self.seq_range = Some((first, last));
        self.stats.expected = (last - first + 1) as u64;
    }

    fn note_transit(&mut self, now_us: u64, rel_ticks: i64) {
        let sent_us = Self::ticks_to_us(rel_ticks);
        let transit = now_us as i64 - sent_us;
        if self.transit.len() < self.cfg.history.max(1) {
            self.transit.push(transit);
        } else {
            self.transit[self.transit_pos] = transit;
            self.transit_pos = (self.transit_pos + 1) % self.transit.len();
        }
        if let Some((prev_arrival, prev_sent)) = self.last_arrival {
            let d = (now_us as i64 - prev_arrival as i64) - (sent_us - prev_sent);
            let d_ms = d.unsigned_abs() as f64 / 1000.0;
            self.stats.jitter_ms += (d_ms - self.stats.jitter_ms) / 16.0;
        }
        self.last_arrival = Some((now_us, sent_us));
    }

    /// Re-times playout to start at `idx` after the target headroom of silence.
    fn resync(&mut self, idx: i64) {
        for slot in &mut self.slots {
            if slot.state == SlotState::Filled {
                self.stats.dropped += 1;
            }
            slot.state = SlotState::Empty;
        }
        self.stats.resyncs += 1;
        self.play = Some(idx);
        self.newest = idx - 1;
        self.hold = self.target_extra as u32;
        self.stall_run = 0;
        self.reset_shrink_window();
    }

    fn reset_shrink_window(&mut self) {
        self.idle_pops = 0;
        self.min_slack = i64::MAX;
    }

    /// Headroom in frames that covers the configured percentile of transit variation.
    fn update_target(&mut self) {
        if self.transit.is_empty() {
            return;
        }
        let min = self.transit.iter().copied().min().unwrap_or(0);
        self.scratch.clear();
        self.scratch.extend(self.transit.iter().map(|t| t - min));
        let n = self.scratch.len();
        let k = ((self.cfg.percentile * n as f64).ceil() as usize).clamp(1, n) - 1;
        let frame_us = self.frame_us();
        let (_, pct, _) = self.scratch.select_nth_unstable(k);
        let frames = (*pct + frame_us - 1).div_euclid(frame_us);
        self.target_extra = frames.clamp(0, self.cfg.max_frames() - 1);
        self.stats.target_delay_ms = (self.target_extra * frame_us) as f64 / 1000.0;
    }

    fn filled(&self, idx: i64) -> Option<usize> {
        let i = self.slot_index(idx);
        let s = &self.slots[i];
        (s.idx == idx && s.state == SlotState::Filled).then_some(i)
    }

    /// Decides what to play for the frame period starting at `now_us`. Call once
    /// per frame period; the returned slice is valid until the next `push`.
    pub fn pop(&mut self, _now_us: u64) -> Playout<'_> {
        let Some(mut play) = self.play else {
            return Playout::Silence;
        };
        if self.hold > 0 {
            self.hold -= 1;
            return Playout::Silence;
        }
        self.started = true;
        self.update_target();
        let max = self.cfg.max_frames();

        // Hard bound: never hold more than max_delay of audio.
        if self.newest - play >= max {
            let keep_from = self.newest - self.target_extra;
            for idx in play..keep_from {
                if let Some(i) = self.filled(idx) {
                    self.slots[i].state = SlotState::Empty;
                    self.stats.dropped += 1;
                }
            }
            play = keep_from;
            self.reset_shrink_window();
        }

        // Shrink when the headroom stayed above target for a whole window.
        let slack = self.newest - play;
        self.min_slack = self.min_slack.min(slack);
        self.idle_pops += 1;
        if self.idle_pops >= self.cfg.shrink_after {
            if self.min_slack > self.target_extra && self.filled(play).is_some() {
                if let Some(i) = self.filled(play) {
                    self.slots[i].state = SlotState::Played;
                }
                self.stats.dropped += 1;
                play += 1;
            }
            self.reset_shrink_window();
        }
        self.stats.current_delay_ms =
            ((self.newest - play + 1).max(0) * self.frame_us()) as f64 / 1000.0;

        if let Some(i) = self.filled(play) {
            self.play = Some(play + 1);
            self.stall_run = 0;
            self.slots[i].state = SlotState::Played;
            return Playout::Packet(&self.slots[i].data);
        }
        if self.newest > play {
            // Missing with newer audio buffered: wait while below target, else give up.
            if slack < self.target_extra && i64::from(self.stall_run) < max {
                self.play = Some(play);
                self.stall_run += 1;
                self.stats.concealed += 1;
                return Playout::Conceal;
            }
            self.play = Some(play + 1);
            self.stall_run = 0;
            if let Some(i) = self.filled(play + 1)
                && self.slots[i].fec
            {
                self.stats.fec_recovered += 1;
                return Playout::Fec(&self.slots[i].data);
            }
            self.stats.concealed += 1;
            return Playout::Conceal;
        }
        // Underrun: stretch by concealing without advancing, then fall silent.
        self.play = Some(play);
        self.stall_run += 1;
        if self.stall_run <= self.cfg.max_conceal_run {
            self.stats.concealed += 1;
            Playout::Conceal
        } else {
            Playout::Silence
        }
    }
}
