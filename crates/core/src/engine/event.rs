//! What the engine hands its consumers: [`Event`]s, to any [`Sink`].

use crate::coach::CoachEvent;
use crate::detector::SegmentEvent;
use crate::Speaker;

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

    /// True for events about the agent's own voice (their shouting, their
    /// nudges): these go to the agent alone, never to a supervisor, QA or a
    /// shared bus. The one place that rule is written.
    pub fn is_private(&self) -> bool {
        match self {
            Event::Coach(c) => c.is_private(),
            Event::Segment(SegmentEvent::ShoutStart { speaker, .. })
            | Event::Segment(SegmentEvent::ShoutEnd { speaker, .. }) => *speaker == Speaker::Agent,
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
