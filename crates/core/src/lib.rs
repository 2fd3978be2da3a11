//! shoutcue-core: the analysis engine of shoutcue, real-time raised-voice
//! cues for call-centre agents. Audio in, events out; no I/O framework, no
//! threads, no sockets: every front door (files, sound devices, telephony
//! servers) is another crate that pushes samples into a [`CallEngine`].
//!
//! Data flows one way, and each stage is a module that knows nothing of the
//! ones after it:
//!
//! `source` → `resample` → `frames` → `features` → `detector` → `coach` → `engine` → `sinks`
//!
//! [`engine`] wires the stages together; [`sinks`] write the events out.
//! [`pair`] is the one rule by which a front door that hears the two voices
//! separately keeps them in step.
//!
//! # Read a call and print its events
//!
//! ```
//! use shoutcue_core::engine::{replay_call, Pace};
//! use shoutcue_core::sinks::JsonlSink;
//! use shoutcue_core::source::{ChannelChoice, WavSource};
//! use shoutcue_core::{coach::{CoachConfig, Script}, detector::ShoutModel};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/sustained_shout.wav");
//! let mut src = WavSource::open(path, ChannelChoice::Default)?;
//! let mut out = Vec::new();
//! let mut sinks = vec![JsonlSink::new(&mut out, Script::english())];
//! let stats = replay_call(
//!     path, &mut src, &ShoutModel::builtin(), CoachConfig::default(),
//!     &mut sinks, Pace::Fast, &mut (), None,
//! )?;
//! drop(sinks);
//! let text = String::from_utf8(out)?;
//! assert!(text.lines().any(|l| l.contains(r#""type":"shout_start""#)));
//! assert!(stats.duration_s > 10.0);
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

pub mod coach;
pub mod detector;
pub mod engine;
pub mod features;
pub mod frames;
pub mod pair;
pub mod resample;
pub mod simd;
pub mod sinks;
pub mod source;
mod speaker;
pub mod stats;

pub use engine::{CallEngine, Event, Sink};
pub use speaker::Speaker;

/// The one rate every channel is analysed at, in Hz.
///
/// Telephone audio carries 300-3400 Hz, so everything the model may rely on
/// must live below 4 kHz. 8 kHz is the lowest rate that holds that band: an
/// 8 kHz call is analysed as it is (nothing invented by upsampling), a 48 kHz
/// headset is decimated to the same band, and so one model serves both. It is
/// also the cheapest rate for the per-hop FFTs.
pub const ANALYSIS_RATE: u32 = 8000;
/// Hop between analysis frames, in samples at [`ANALYSIS_RATE`] (10 ms).
pub const HOP: usize = 80;
/// Analysis window, in samples at [`ANALYSIS_RATE`] (40 ms: three periods of 75 Hz, as Praat uses).
pub const WINDOW: usize = 320;
