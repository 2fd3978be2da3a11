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
#![doc = include_str!("../../../../docs/SCHEMA.md")]

mod incident;
mod jsonl;
mod labels;
mod pretty;

pub use incident::{
    CallInfo, CueOutcome, CueRecord, EpisodeRecord, IncidentNote, IncidentRecorder,
    SupervisorRecord,
};
pub use jsonl::JsonlSink;
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
