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
#![doc = include_str!("SCHEMA.md")]

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

use crate::coach::CoachEvent;
use crate::detector::SegmentEvent;

/// One thing that happened in the call, as the sinks see it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Event {
    /// A speaker's shouting segment started or ended (from the detector).
    Segment(SegmentEvent),
    /// Something the coach decided.
    Coach(CoachEvent),
}

impl Event {
    /// The event's time, seconds from call start. For `ShoutStart` this is
    /// the segment's start, which can be earlier than events already seen.
    pub fn t(&self) -> f64 {
        match self {
            Event::Segment(SegmentEvent::ShoutStart { t, .. })
            | Event::Segment(SegmentEvent::ShoutEnd { t, .. }) => *t,
            Event::Coach(c) => c.t(),
        }
    }
}

impl From<SegmentEvent> for Event {
    fn from(e: SegmentEvent) -> Self {
        Event::Segment(e)
    }
}

impl From<CoachEvent> for Event {
    fn from(e: CoachEvent) -> Self {
        Event::Coach(e)
    }
}

/// Why a sink could not write.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The underlying writer failed.
    #[error("cannot write the {sink}: {source}")]
    Io {
        /// Which output (e.g. "JSON Lines events").
        sink: &'static str,
        /// What the writer said.
        source: std::io::Error,
    },
    /// An event could not be encoded as JSON.
    #[error("cannot encode the {sink} as JSON: {source}")]
    Json {
        /// Which output.
        sink: &'static str,
        /// What serde_json said.
        source: serde_json::Error,
    },
}

/// Something that consumes the call's events.
///
/// One trait rather than an enum so the pipeline can hold any mix of sinks
/// (`Vec<Box<dyn Sink>>`) and tests can add their own.
pub trait Sink {
    /// Takes one event, in the order decided.
    fn event(&mut self, ev: &Event) -> Result<(), SinkError>;
    /// The call is over at `call_end_t` seconds: close what is open, flush.
    fn finish(&mut self, call_end_t: f64) -> Result<(), SinkError>;
}

impl<S: Sink + ?Sized> Sink for Box<S> {
    fn event(&mut self, ev: &Event) -> Result<(), SinkError> {
        (**self).event(ev)
    }
    fn finish(&mut self, call_end_t: f64) -> Result<(), SinkError> {
        (**self).finish(call_end_t)
    }
}

/// Every sink gets each event; the first error is returned after all have
/// been tried, so one broken output does not silence the others.
impl<S: Sink> Sink for Vec<S> {
    fn event(&mut self, ev: &Event) -> Result<(), SinkError> {
        let mut first = Ok(());
        for s in self.iter_mut() {
            let r = s.event(ev);
            if first.is_ok() {
                first = r;
            }
        }
        first
    }
    fn finish(&mut self, call_end_t: f64) -> Result<(), SinkError> {
        let mut first = Ok(());
        for s in self.iter_mut() {
            let r = s.finish(call_end_t);
            if first.is_ok() {
                first = r;
            }
        }
        first
    }
}

/// Seconds rounded to the millisecond, as every output states time.
pub(crate) fn round_ms(t: f64) -> f64 {
    if t.is_finite() {
        (t * 1000.0).round() / 1000.0
    } else {
        0.0
    }
}

/// `MM:SS.d`, as a person reads a call timeline.
pub(crate) fn clock(t: f64) -> String {
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
