//! Everything after the coach: the event stream written out for people and
//! programs. Allocation is fine here; this is not the per-hop path.
//!
//! The pipeline hands every detector segment event and every coach event to
//! each [`Sink`] as an [`Event`], in the order they were decided, and calls
//! [`Sink::finish`] with the call's end time. Writers take `impl Write`, so
//! tests write to a `Vec<u8>`.
//!
//! | sink | for | agent's nudges |
//! | --- | --- | --- |
//! | [`JsonlSink`] | programs (overlay, logs): JSON Lines, schema v1 (`SCHEMA.md`) | included, marked `"private":true` |
//! | [`PrettySink`] | a person reading the call's timeline | included, marked `(private)` |
//! | [`AudacityLabels`] | QA, beside the recording in Audacity | left out: QA must not see them |
//! | [`IncidentRecorder`] | the line manager's incident note (JSON, Markdown) | left out entirely |
//!
//! # Reading the event stream
//!
//! A consumer (a CRM plug-in, a wallboard) needs nothing of this crate to
//! read the stream: each line is a JSON object with `v`, `t` and `type`, and
//! the fields the table below gives for its type.
//!
//! ```
//! use shoutcue_core::engine::{replay_call, Pace};
//! use shoutcue_core::sinks::JsonlSink;
//! use shoutcue_core::source::{ChannelChoice, WavSource};
//! use shoutcue_core::{coach::{CoachConfig, Script}, detector::ShoutModel};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/continued_shout.wav");
//! let mut out = Vec::new();
//! let mut src = WavSource::open(path, ChannelChoice::Default)?;
//! let mut sinks = vec![JsonlSink::new(&mut out, Script::english())];
//! replay_call(path, &mut src, &ShoutModel::builtin(), CoachConfig::default(),
//!             &mut sinks, Pace::Fast, &mut (), None)?;
//! drop(sinks);
//! let mut steps = Vec::new();
//! for line in String::from_utf8(out)?.lines() {
//!     let ev: serde_json::Value = serde_json::from_str(line)?;
//!     assert_eq!(ev["v"], 1);
//!     assert!(ev["t"].is_f64() || ev["t"].is_u64());
//!     match ev["type"].as_str() {
//!         Some("cue") => steps.push(ev["step"].as_u64().ok_or("cue without step")?),
//!         Some("call_end") => assert!(ev["duration"].as_f64().is_some()),
//!         Some(_) => {}
//!         None => return Err("a line without a type".into()),
//!     }
//! }
//! assert_eq!(steps.first(), Some(&1), "the ladder starts at step 1: {steps:?}");
//! # Ok(()) }
//! ```
#![doc = include_str!("../../../../docs/SCHEMA.md")]

mod incident;
mod jsonl;
mod labels;
mod pretty;

pub use incident::{
    CallInfo, CueOutcome, CueRecord, EpisodeRecord, IncidentNote, IncidentRecorder,
    SupervisorRecord,
};
pub use jsonl::{JsonlSink, SCHEMA_VERSION};
pub use labels::AudacityLabels;
pub use pretty::PrettySink;

/// Seconds rounded to the millisecond, as every output states time
/// (a non-finite time is written as 0).
pub fn round_ms(t: f64) -> f64 {
    if t.is_finite() {
        (t * 1000.0).round() / 1000.0
    } else {
        0.0
    }
}

/// `MM:SS.d`, as a person reads a call timeline.
pub fn clock(t: f64) -> String {
    let tenths = if t.is_finite() && t > 0.0 {
        (t * 10.0).round() as u64
    } else {
        0
    };
    format!(
        "{:02}:{:02}.{}",
        tenths / 600,
        (tenths % 600) / 10,
        tenths % 10
    )
}
