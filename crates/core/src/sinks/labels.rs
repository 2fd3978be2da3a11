//! An Audacity label track for QA, to open beside the recording.

use std::io::Write;

use crate::coach::CoachEvent;
use crate::detector::SegmentEvent;
use crate::engine::{Event, Sink, SinkError};
use crate::stats::SpanPairer;
use crate::Speaker;

const NAME: &str = "Audacity label track";

/// Writes `start<TAB>end<TAB>label` lines at [`finish`](Sink::finish),
/// sorted by start: `shout` spans of customer shouting, and points
/// (start = end) `cue:1` … `cue:4` (`cue:3b`: the repeated step 3, as the
/// QA report writes it) and `calm`.
///
/// The track goes to QA, so the agent's private nudges and the agent's own
/// raised voice are left out; so are pending, delivery and alert events,
/// which QA reads in the incident note instead.
#[derive(Debug)]
pub struct AudacityLabels<W: Write> {
    w: W,
    labels: Vec<(f64, f64, String)>,
    shouts: SpanPairer,
}

impl<W: Write> AudacityLabels<W> {
    /// A label track written to `w` when the call ends.
    pub fn new(w: W) -> Self {
        Self {
            w,
            labels: Vec::new(),
            shouts: SpanPairer::default(),
        }
    }

    /// Gives the writer back.
    pub fn into_inner(self) -> W {
        self.w
    }
}

impl<W: Write> Sink for AudacityLabels<W> {
    fn event(&mut self, ev: &Event) -> Result<(), SinkError> {
        if ev.is_private() {
            return Ok(()); // the track goes to QA
        }
        match *ev {
            Event::Segment(seg) => {
                let span = self.shouts.push(&seg);
                if let SegmentEvent::ShoutEnd { t, duration, .. } = seg {
                    let start = span.map_or(t - duration, |s| s.start);
                    self.labels.push((start, t, "shout".into()));
                }
            }
            Event::Coach(CoachEvent::Cue { t, rung, .. }) => {
                self.labels.push((t, t, format!("cue:{}", rung.label())));
            }
            Event::Coach(CoachEvent::Calm { t, .. }) => {
                self.labels.push((t, t, "calm".into()));
            }
            _ => {}
        }
        Ok(())
    }

    fn finish(&mut self, call_end_t: f64) -> Result<(), SinkError> {
        if let Some(start) = self.shouts.open_since(Speaker::Customer) {
            self.labels.push((start, call_end_t, "shout".into()));
        }
        self.labels.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (start, end, label) in self.labels.drain(..) {
            writeln!(self.w, "{start:.6}\t{end:.6}\t{label}")
                .map_err(|source| SinkError::Io { sink: NAME, source })?;
        }
        self.w
            .flush()
            .map_err(|source| SinkError::Io { sink: NAME, source })
    }
}
