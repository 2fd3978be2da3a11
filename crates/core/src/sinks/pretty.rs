//! A human-readable timeline of the call (`--pretty`).

use std::io::Write;

use super::clock;
use crate::coach::{CoachEvent, Delivery, Line, Script};
use crate::detector::{SegmentEvent, Yardstick};
use crate::engine::{Event, Sink, SinkError};
use crate::Speaker;

const NAME: &str = "pretty timeline";

/// Writes one line per event, e.g.
/// `00:12.4  CUE 1   "I am happy to help you, …"  (at the pause)`.
#[derive(Debug)]
pub struct PrettySink<W: Write> {
    w: W,
    script: Script,
    name: Option<String>,
    /// Lines held back to be written in time order at the end (see
    /// [`PrettySink::time_ordered`]); `None` writes each line as decided.
    held: Option<Vec<(f64, String)>>,
    /// Whether the customer shouted at all (the last line says so if not).
    shouted: bool,
}

/// What a team leader would say the raised voice sounded like, from the
/// cues that carried the decision (rises against the speaker's own voice).
fn in_words(c: &crate::detector::Cues) -> String {
    let mut w = Vec::new();
    if c.f0_st >= 3.0 {
        w.push("higher pitch");
    }
    if c.tilt_db >= 3.0 {
        w.push("harsher tone");
    }
    if c.level_db >= 3.0 {
        w.push("louder");
    }
    if w.is_empty() {
        "raised".to_string()
    } else {
        w.join(", ")
    }
}

impl<W: Write> PrettySink<W> {
    /// A timeline writing to `w`, with texts from `script`.
    pub fn new(w: W, script: Script) -> Self {
        Self {
            w,
            script,
            name: None,
            held: None,
            shouted: false,
        }
    }

    /// Writes the timeline in time order when the call ends, instead of
    /// line by line as decided. Events are decided after the moment they
    /// stamp (a shout's end is known only once the pause has lasted), so in
    /// decision order a cue at 15.6 s can come before the shout end stamped
    /// 15.4 s; a reader of a finished call wants the clock to run forwards.
    /// Not for live pacing, where a held line would be a late line.
    pub fn time_ordered(mut self) -> Self {
        self.held = Some(Vec::new());
        self
    }

    /// Fills `{name}` in the script lines with this name.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Gives the writer back.
    pub fn into_inner(self) -> W {
        self.w
    }

    fn say(&self, line: Line) -> String {
        self.script.render(line, self.name.as_deref()).into_owned()
    }
}

impl<W: Write> Sink for PrettySink<W> {
    fn event(&mut self, ev: &Event) -> Result<(), SinkError> {
        let what = match *ev {
            Event::Segment(SegmentEvent::ShoutStart {
                speaker: Speaker::Customer,
                score,
                baseline,
                ..
            }) if baseline != Yardstick::Own => {
                // The cues are against the priors, not this caller: they
                // say little, so none are printed as if they were rises.
                self.shouted = true;
                let against = if baseline == Yardstick::Line {
                    "judged on the voice alone, against this line's callers"
                } else {
                    "judged on the voice alone"
                };
                format!(
                    "SHOUT   customer's voice raised from the first words: a cold start, {against} (no calm voice heard yet)  (score {score:.2} of 1)"
                )
            }
            Event::Segment(SegmentEvent::ShoutStart {
                speaker: Speaker::Customer,
                score,
                cues,
                ..
            }) => {
                self.shouted = true;
                format!(
                    "SHOUT   customer's voice raised: {}  (score {score:.2} of 1; over their own calm voice: pitch {:+.1} semitones, tilt {:+.1} dB)",
                    in_words(&cues),
                    cues.f0_st,
                    cues.tilt_db
                )
            }
            Event::Segment(SegmentEvent::ShoutEnd {
                speaker: Speaker::Customer,
                duration,
                peak_score,
                ..
            }) => format!("shout end  customer, {duration:.1} s, peak score {peak_score:.2} of 1"),
            Event::Segment(SegmentEvent::ShoutStart {
                speaker: Speaker::Agent,
                ..
            }) => "agent voice raised  (private)".to_string(),
            Event::Segment(SegmentEvent::ShoutEnd {
                speaker: Speaker::Agent,
                duration,
                ..
            }) => format!("agent voice back down after {duration:.1} s  (private)"),
            Event::Coach(CoachEvent::CuePending { rung, .. }) => {
                format!("cue {} ready, waiting for a pause", rung.spoken_label())
            }
            Event::Coach(CoachEvent::Cue {
                rung,
                recue,
                delivery,
                ..
            }) => {
                let mut note = String::from("at the pause");
                if recue {
                    note.push_str("; again, it was not said");
                }
                if delivery == Delivery::Unknown {
                    note.push_str("; delivery unknown (no agent channel)");
                }
                format!(
                    "CUE {:<5} \"{}\"  ({note})",
                    rung.spoken_label(),
                    self.say(rung.into())
                )
            }
            Event::Coach(CoachEvent::CueDelivered { rung, .. }) => {
                format!("cue {}: agent spoke after it", rung.spoken_label())
            }
            Event::Coach(CoachEvent::CueUndelivered { rung, .. }) => {
                format!("cue {} NOT said; it stays up", rung.spoken_label())
            }
            Event::Coach(CoachEvent::Calm { next, .. }) => format!(
                "CALM    \"{}\"  (next shouting: step {})",
                self.say(Line::Calm),
                next.spoken_label()
            ),
            Event::Coach(CoachEvent::AdviseEndCall { .. }) => {
                format!("END CALL  \"{}\"", self.say(Line::EndCall))
            }
            Event::Coach(CoachEvent::SupervisorAlert { summary, .. }) => format!(
                "SUPERVISOR ALERT  {} episodes, {:.1} s shouting, {} steps given, {} cues shown",
                summary.episodes, summary.shouting_s, summary.steps_given, summary.cues_shown
            ),
            Event::Coach(CoachEvent::AgentNudge { kind, .. }) => {
                format!("nudge  \"{}\"  (private)", self.say(Line::Nudge(kind)))
            }
        };
        if let Some(held) = &mut self.held {
            held.push((ev.t(), what));
            return Ok(());
        }
        writeln!(self.w, "{}  {what}", clock(ev.t()))
            .map_err(|source| SinkError::Io { sink: NAME, source })
    }

    fn finish(&mut self, call_end_t: f64) -> Result<(), SinkError> {
        if let Some(mut held) = self.held.take() {
            // Stable: events stamped alike keep their decision order.
            held.sort_by(|a, b| a.0.total_cmp(&b.0));
            for (t, what) in held {
                writeln!(self.w, "{}  {what}", clock(t))
                    .map_err(|source| SinkError::Io { sink: NAME, source })?;
            }
        }
        let end = if self.shouted {
            "call end"
        } else {
            "call end: no customer shouting found"
        };
        writeln!(self.w, "{}  {end}", clock(call_end_t))
            .and_then(|_| self.w.flush())
            .map_err(|source| SinkError::Io { sink: NAME, source })
    }
}
