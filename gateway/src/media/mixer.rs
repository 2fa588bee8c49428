//! The anchor's mixer: who hears whom on a call, one frame at a time.
//!
//! Every participant (the line, the agent, an expert, a supervisor, a same-box
//! seat) puts one frame of PCM in and takes one frame out per tick. What each one
//! hears follows from its [`Role`]:
//! - [`Role::Party`]: hears every other party (N-party conference, each hears all
//!   but itself). A barging supervisor is simply a party.
//! - [`Role::Monitor`]: hears every party; nobody hears it.
//! - [`Role::Whisper`]: hears every party; only the coached party hears it.
//!
//! On top of that, prompts and tones ([`PromptSource`]) can be played into one
//! participant's ear (a recording notice to the caller, a whisper beep to the
//! agent). Mixing is one pass: the sum of all parties is built once and each
//! party's own voice subtracted, so the cost is O(participants × frame).
//!
//! Same-box legs need no network: call control feeds the line port and a local
//! seat straight into the same mixer.

use std::collections::VecDeque;

/// Identifies a participant within one call's mixer (call control picks it,
/// typically from the leg id or the local port).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParticipantId(pub u32);

/// What a participant hears and who hears it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Full conference member (caller, agent, expert, barging supervisor).
    Party,
    /// Listens to every party silently.
    Monitor,
    /// Listens to every party; only `to` hears it.
    Whisper {
        /// The coached party (normally the agent).
        to: ParticipantId,
    },
    /// On hold: hears only the prompts played to it (music on hold), heard by
    /// nobody, so the agent can talk freely while the caller waits.
    Held,
}

/// Why a mixer operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MixerError {
    /// The participant is not in this mixer.
    #[error("participant {0:?} is not in the call")]
    Unknown(ParticipantId),
    /// The participant is already in this mixer.
    #[error("participant {0:?} is already in the call")]
    Duplicate(ParticipantId),
    /// A whisper must target a party.
    #[error("whisper target {0:?} is not a party of the call")]
    WhisperTarget(ParticipantId),
    /// A frame of the wrong length.
    #[error("frame of {got} samples, mixer frame is {expected}")]
    FrameLength { got: usize, expected: usize },
    /// Too many prompts queued for one participant.
    #[error("prompt queue of {0:?} is full")]
    PromptQueueFull(ParticipantId),
}

/// Audio played into one participant's ear, frame by frame.
pub trait PromptSource: Send {
    /// Fills `out` with the next frame; returns `false` once finished (`out` is
    /// then ignored).
    fn next_frame(&mut self, out: &mut [i16]) -> bool;
}

/// A recorded prompt (PCM at the mixer rate) played once.
pub struct Clip {
    samples: std::sync::Arc<[i16]>,
    pos: usize,
}

impl Clip {
    /// Plays `samples` from the start; the `Arc` lets every call share one prompt.
    pub fn new(samples: std::sync::Arc<[i16]>) -> Self {
        Clip { samples, pos: 0 }
    }
}

impl PromptSource for Clip {
    fn next_frame(&mut self, out: &mut [i16]) -> bool {
        if self.pos >= self.samples.len() {
            return false;
        }
        let n = out.len().min(self.samples.len() - self.pos);
        out[..n].copy_from_slice(&self.samples[self.pos..self.pos + n]);
        out[n..].fill(0);
        self.pos += n;
        true
    }
}

/// A sine beep of fixed length (whisper/barge notification, recording beep).
pub struct Beep {
    phase: f64,
    step: f64,
    amplitude: f64,
    remaining: usize,
}

impl Beep {
    /// `freq_hz` at `level_dbfs` (RMS) for `duration_ms`, at `rate_hz`.
    pub fn new(freq_hz: f64, level_dbfs: f64, duration_ms: u32, rate_hz: u32) -> Self {
        Beep {
            phase: 0.0,
            step: 2.0 * std::f64::consts::PI * freq_hz / f64::from(rate_hz),
            amplitude: 32767.0 * 10f64.powf(level_dbfs / 20.0) * std::f64::consts::SQRT_2,
            remaining: (u64::from(rate_hz) * u64::from(duration_ms) / 1000) as usize,
        }
    }
}

impl PromptSource for Beep {
    fn next_frame(&mut self, out: &mut [i16]) -> bool {
        if self.remaining == 0 {
            return false;
        }
        for o in out.iter_mut() {
            if self.remaining == 0 {
                *o = 0;
                continue;
            }
            *o = (self.amplitude * self.phase.sin()).round() as i16;
            self.phase = (self.phase + self.step) % (2.0 * std::f64::consts::PI);
            self.remaining -= 1;
        }
        true
    }
}

/// Prompts queued per participant: enough for a notice then a beep; more is a bug upstream.
pub const MAX_QUEUED_PROMPTS: usize = 4;

struct Participant {
    id: ParticipantId,
    role: Role,
    input: Vec<i16>,
    output: Vec<i16>,
    prompts: VecDeque<Box<dyn PromptSource>>,
}

/// One call's mixer at one sample rate and frame length.
pub struct Mixer {
    frame: usize,
    participants: Vec<Participant>,
    party_sum: Vec<i32>,
    prompt: Vec<i16>,
}

fn saturate(x: i32) -> i16 {
    x.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
}

impl Mixer {
    /// A mixer for frames of `frame_samples` samples.
    pub fn new(frame_samples: usize) -> Self {
        Mixer {
            frame: frame_samples,
            participants: Vec::new(),
            party_sum: vec![0; frame_samples],
            prompt: vec![0; frame_samples],
        }
    }

    /// Samples per frame.
    pub fn frame_samples(&self) -> usize {
        self.frame
    }

    fn find(&self, id: ParticipantId) -> Result<usize, MixerError> {
        self.participants
            .iter()
            .position(|p| p.id == id)
            .ok_or(MixerError::Unknown(id))
    }

    fn check_role(&self, role: Role) -> Result<(), MixerError> {
        if let Role::Whisper { to } = role {
            let i = self.find(to).map_err(|_| MixerError::WhisperTarget(to))?;
            if self.participants[i].role != Role::Party {
                return Err(MixerError::WhisperTarget(to));
            }
        }
        Ok(())
    }

    /// Adds a participant (silent until its first input).
    pub fn add(&mut self, id: ParticipantId, role: Role) -> Result<(), MixerError> {
        if self.find(id).is_ok() {
            return Err(MixerError::Duplicate(id));
        }
        self.check_role(role)?;
        self.participants.push(Participant {
            id,
            role,
            input: vec![0; self.frame],
            output: vec![0; self.frame],
            prompts: VecDeque::new(),
        });
        Ok(())
    }

    /// Removes a participant; whisperers aimed at it fall back to monitoring.
    pub fn remove(&mut self, id: ParticipantId) -> Result<(), MixerError> {
        let i = self.find(id)?;
        self.participants.remove(i);
        for p in &mut self.participants {
            if p.role == (Role::Whisper { to: id }) {
                p.role = Role::Monitor;
            }
        }
        Ok(())
    }

    /// Changes what a participant hears and who hears it (monitor → whisper → barge).
    pub fn set_role(&mut self, id: ParticipantId, role: Role) -> Result<(), MixerError> {
        let i = self.find(id)?;
        if role == (Role::Whisper { to: id }) {
            return Err(MixerError::WhisperTarget(id));
        }
        self.check_role(role)?;
        self.participants[i].role = role;
        Ok(())
    }

    /// Current role of a participant.
    pub fn role(&self, id: ParticipantId) -> Result<Role, MixerError> {
        Ok(self.participants[self.find(id)?].role)
    }

    /// Sets the participant's input for the next [`Mixer::mix`]. Inputs persist
    /// until replaced, so call it every frame (or [`Mixer::mute`]) for each one.
    pub fn set_input(&mut self, id: ParticipantId, frame: &[i16]) -> Result<(), MixerError> {
        if frame.len() != self.frame {
            return Err(MixerError::FrameLength {
                got: frame.len(),
                expected: self.frame,
            });
        }
        let i = self.find(id)?;
        self.participants[i].input.copy_from_slice(frame);
        Ok(())
    }

    /// Silences a participant's input (no audio arrived this frame).
    pub fn mute(&mut self, id: ParticipantId) -> Result<(), MixerError> {
        let i = self.find(id)?;
        self.participants[i].input.fill(0);
        Ok(())
    }

    /// Queues a prompt into one participant's ear, after any already queued.
    pub fn play(
        &mut self,
        id: ParticipantId,
        prompt: Box<dyn PromptSource>,
    ) -> Result<(), MixerError> {
        let i = self.find(id)?;
        let q = &mut self.participants[i].prompts;
        if q.len() >= MAX_QUEUED_PROMPTS {
            return Err(MixerError::PromptQueueFull(id));
        }
        q.push_back(prompt);
        Ok(())
    }

    /// Drops every prompt playing or queued for `id` (the caller barged in, or
    /// music on hold ends).
    pub fn stop_prompts(&mut self, id: ParticipantId) -> Result<(), MixerError> {
        let i = self.find(id)?;
        self.participants[i].prompts.clear();
        Ok(())
    }

    /// Whether a prompt is still playing or queued for `id`.
    pub fn prompt_active(&self, id: ParticipantId) -> Result<bool, MixerError> {
        Ok(!self.participants[self.find(id)?].prompts.is_empty())
    }

    /// Mixes one frame: afterwards [`Mixer::output`] holds what each participant hears.
    pub fn mix(&mut self) {
        self.party_sum.fill(0);
        for p in self.participants.iter().filter(|p| p.role == Role::Party) {
            for (s, &x) in self.party_sum.iter_mut().zip(&p.input) {
                *s += i32::from(x);
            }
        }
        for i in 0..self.participants.len() {
            let (role, id) = (self.participants[i].role, self.participants[i].id);
            let own = role == Role::Party;
            {
                let p = &mut self.participants[i];
                if role == Role::Held {
                    p.output.fill(0);
                } else {
                    for ((o, &s), &x) in p.output.iter_mut().zip(&self.party_sum).zip(&p.input) {
                        *o = saturate(if own { s - i32::from(x) } else { s });
                    }
                }
            }
            // Whisperers aimed at this participant.
            for j in 0..self.participants.len() {
                if self.participants[j].role == (Role::Whisper { to: id }) {
                    let (a, b) = if i < j {
                        let (l, r) = self.participants.split_at_mut(j);
                        (&mut l[i], &r[0])
                    } else {
                        let (l, r) = self.participants.split_at_mut(i);
                        (&mut r[0], &l[j])
                    };
                    for (o, &x) in a.output.iter_mut().zip(&b.input) {
                        *o = saturate(i32::from(*o) + i32::from(x));
                    }
                }
            }
            self.mix_prompt(i);
        }
    }

    fn mix_prompt(&mut self, i: usize) {
        let p = &mut self.participants[i];
        while let Some(src) = p.prompts.front_mut() {
            if src.next_frame(&mut self.prompt) {
                for (o, &x) in p.output.iter_mut().zip(&self.prompt) {
                    *o = saturate(i32::from(*o) + i32::from(x));
                }
                return;
            }
            p.prompts.pop_front();
        }
    }

    /// What `id` hears this frame (valid after [`Mixer::mix`]).
    pub fn output(&self, id: ParticipantId) -> Result<&[i16], MixerError> {
        Ok(&self.participants[self.find(id)?].output)
    }

    /// What `id` said this frame (for the recorder's per-side channels).
    pub fn input(&self, id: ParticipantId) -> Result<&[i16], MixerError> {
        Ok(&self.participants[self.find(id)?].input)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const N: usize = 4;
    const CALLER: ParticipantId = ParticipantId(1);
    const AGENT: ParticipantId = ParticipantId(2);
    const EXPERT: ParticipantId = ParticipantId(3);
    const SUP: ParticipantId = ParticipantId(9);

    /// Each participant speaks a distinct power of two so outputs decode to "who".
    fn voice(id: ParticipantId) -> i16 {
        match id.0 {
            1 => 1,
            2 => 2,
            3 => 4,
            _ => 8,
        }
    }

    fn heard(m: &mut Mixer, ids: &[ParticipantId]) -> Vec<i16> {
        for &id in ids {
            m.set_input(id, &[voice(id); N]).unwrap();
        }
        m.mix();
        ids.iter().map(|&id| m.output(id).unwrap()[0]).collect()
    }

    fn call() -> Mixer {
        let mut m = Mixer::new(N);
        m.add(CALLER, Role::Party).unwrap();
        m.add(AGENT, Role::Party).unwrap();
        m
    }

    #[test]
    fn conference_each_hears_all_but_itself() {
        let mut m = call();
        m.add(EXPERT, Role::Party).unwrap();
        // caller hears agent+expert (2+4), agent 1+4, expert 1+2.
        assert_eq!(heard(&mut m, &[CALLER, AGENT, EXPERT]), [6, 5, 3]);
    }

    #[test]
    fn monitor_hears_both_sides_and_nobody_hears_it() {
        let mut m = call();
        m.add(SUP, Role::Monitor).unwrap();
        assert_eq!(heard(&mut m, &[CALLER, AGENT, SUP]), [2, 1, 3]);
    }

    #[test]
    fn whisper_reaches_only_the_agent() {
        let mut m = call();
        m.add(SUP, Role::Whisper { to: AGENT }).unwrap();
        assert_eq!(heard(&mut m, &[CALLER, AGENT, SUP]), [2, 1 + 8, 3]);
    }

    #[test]
    fn barge_is_a_full_conference() {
        let mut m = call();
        m.add(SUP, Role::Monitor).unwrap();
        m.set_role(SUP, Role::Whisper { to: AGENT }).unwrap();
        m.set_role(SUP, Role::Party).unwrap();
        assert_eq!(heard(&mut m, &[CALLER, AGENT, SUP]), [2 + 8, 1 + 8, 3]);
    }

    #[test]
    fn invalid_roles_and_participants_are_refused() {
        let mut m = call();
        assert_eq!(
            m.add(CALLER, Role::Party),
            Err(MixerError::Duplicate(CALLER))
        );
        assert_eq!(
            m.add(SUP, Role::Whisper { to: EXPERT }),
            Err(MixerError::WhisperTarget(EXPERT))
        );
        m.add(SUP, Role::Monitor).unwrap();
        assert_eq!(
            m.set_role(SUP, Role::Whisper { to: SUP }),
            Err(MixerError::WhisperTarget(SUP))
        );
        assert_eq!(
            m.add(EXPERT, Role::Whisper { to: SUP }),
            Err(MixerError::WhisperTarget(SUP))
        );
        assert_eq!(
            m.set_input(AGENT, &[0; 3]),
            Err(MixerError::FrameLength {
                got: 3,
                expected: N
            })
        );
        assert_eq!(m.mute(EXPERT), Err(MixerError::Unknown(EXPERT)));
        // Removing the coached agent turns the whisperer into a monitor.
        m.set_role(SUP, Role::Whisper { to: AGENT }).unwrap();
        m.remove(AGENT).unwrap();
        assert_eq!(m.role(SUP), Ok(Role::Monitor));
    }

    #[test]
    fn prompts_play_into_one_ear_in_order_then_end() {
        let mut m = call();
        let clip: std::sync::Arc<[i16]> = vec![100i16; N + 2].into();
        m.play(CALLER, Box::new(Clip::new(clip))).unwrap();
        m.play(CALLER, Box::new(Beep::new(1000.0, -20.0, 1, 8000)))
            .unwrap();
        assert_eq!(heard(&mut m, &[CALLER, AGENT]), [102, 1]);
        // Second frame: the clip's last 2 samples then silence.
        m.mix();
        assert_eq!(m.output(CALLER).unwrap(), &[102, 102, 2, 2]);
        // Then the 8-sample beep, then nothing.
        m.mix();
        assert!(m.output(CALLER).unwrap().iter().any(|&s| s != 2));
        m.mix();
        m.mix();
        assert!(!m.prompt_active(CALLER).unwrap());
        assert_eq!(m.output(CALLER).unwrap(), &[2; N]);
        for _ in 0..MAX_QUEUED_PROMPTS {
            m.play(AGENT, Box::new(Beep::new(1.0, -20.0, 10, 8000)))
                .unwrap();
        }
        assert!(matches!(
            m.play(AGENT, Box::new(Beep::new(1.0, -20.0, 10, 8000))),
            Err(MixerError::PromptQueueFull(_))
        ));
    }

    #[test]
    fn loud_sums_saturate_instead_of_wrapping() {
        let mut m = call();
        m.add(EXPERT, Role::Party).unwrap();
        for id in [CALLER, AGENT, EXPERT] {
            m.set_input(id, &[30_000; N]).unwrap();
        }
        m.mix();
        assert_eq!(m.output(CALLER).unwrap(), &[i16::MAX; N]);
    }
}
