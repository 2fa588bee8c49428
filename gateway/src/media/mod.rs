//! The gateway's media anchor: the call lives where the line is, so the line
//! audio, the mixing of every leg (agent, expert, supervisor) and the recording
//! all happen here. Transport pieces (codec, jitter buffer, datagrams) come from
//! `tandem_node::media`; same-box legs feed the [`mixer::Mixer`] directly.
//! Call control drives one [`anchor::CallMedia`] per call.

pub mod anchor;
pub mod mixer;
pub mod recorder;
