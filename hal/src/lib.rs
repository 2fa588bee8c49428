//! `tandem-hal`: where the gateway meets copper.
//!
//! Everything here is synchronous and free of networking so the same code runs on
//! simulated lines (demo, tests, benchmarks) and on real boards, and so the signal
//! processing can be tested sample by sample against the telephony standards.
//!
//! What the gateway uses:
//! - [`line::LinePort`] (FXO/FXS), [`e1::E1Span`], [`audio::AudioDevice`],
//!   [`indicator::Indicator`] / [`indicator::Relay`]: the devices, frame-paced and
//!   event-polled, identical over the simulator ([`sim`]) and hardware
//!   ([`slic::daa_port::DaaPort`], `alsa::AlsaDevice` with feature `alsa`).
//! - [`fxo::Supervisor`]: incoming call, caller ID, abandoned call and far-end
//!   disconnect from an FXO port's events and audio.
//! - [`fxs::HookDetector`]: hook flash and rotary digits from an FXS port's raw
//!   loop state (SLIC drivers report loop closure; the simulator reports events).
//! - [`dsp`]: G.711, DTMF, tones and call progress, caller ID, resampling, levels.
//! - [`board::BoardConfig`]: the board file that says which of these exist.
//!
//! A simulated incoming call, answered and then cleared by the exchange's busy tone:
//!
//! ```
//! use tandem_hal::board::BoardConfig;
//! use tandem_hal::dsp::callerid::CidStandard;
//! use tandem_hal::dsp::dtmf::{DtmfDetector, DtmfTiming};
//! use tandem_hal::dsp::tones::{CHINA, ToneKind};
//! use tandem_hal::fxo::{Disconnect, Signal, Supervisor, SupervisorConfig};
//! use tandem_hal::line::{Hook, LineCommand};
//! use tandem_hal::sim::line::{HangUp, IncomingCall};
//! use tandem_hal::sim::{Audio, Pace, SimBoard};
//!
//! let board = BoardConfig::parse(
//!     "name = 'demo'\narch = 'any'\nbackend = 'sim'\nports = [{ id = 'fxo1', kind = 'fxo' }]",
//!     "demo.toml",
//! )?;
//! let mut sim = SimBoard::new(&board, &CHINA, 160, Pace::Fast)?;
//! let exchange = sim.exchange.fxo("fxo1")?;
//! let mut call = IncomingCall::from_number("13800138000")?;
//! call.standard = CidStandard::V23;
//! exchange.place_call(call)?;
//! exchange.play(Audio::Dtmf { digits: "42".into(), timing: DtmfTiming::default() })?;
//!
//! let port = &mut sim.lines[0];
//! let mut sup = Supervisor::new(SupervisorConfig::for_plan(&CHINA));
//! let mut dtmf = DtmfDetector::new();
//! let (mut signals, mut digits, mut answered) = (Vec::new(), String::new(), false);
//! let mut frame = [0i16; 160];
//! for t in 0..600 {
//!     if t == 300 {
//!         exchange.hang_up(HangUp::Tone(ToneKind::Busy))?;
//!     }
//!     port.read_frame(&mut frame)?;
//!     while let Some(event) = port.poll_event() {
//!         sup.on_event(&event, |s| signals.push(s));
//!     }
//!     sup.on_audio(&frame, |s| signals.push(s));
//!     dtmf.process(&frame, |d| digits.push(d));
//!     // Answer once the caller ID is in.
//!     if !answered && signals.iter().any(|s| matches!(s, Signal::CallerId(_))) {
//!         port.command(LineCommand::SetHook(Hook::Off))?;
//!         sup.answered();
//!         answered = true;
//!     }
//!     port.write_frame(&[0; 160])?;
//! }
//! assert!(signals.iter().any(|s| matches!(s, Signal::CallerId(r) if r.id.number == "13800138000")));
//! assert_eq!(digits, "42");
//! assert_eq!(signals.last(), Some(&Signal::FarEndGone(Disconnect::Tone(ToneKind::Busy))));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(feature = "alsa")]
pub mod alsa;
pub mod audio;
pub mod board;
pub mod dsp;
pub mod e1;
pub mod fxo;
pub mod fxs;
pub mod indicator;
pub mod line;
pub mod sim;
pub mod slic;
pub mod wav;

#[cfg(test)]
mod testutil;
