//! The line manager's incident note, in JSON and Markdown.
//!
//! Built from the same event stream as the other sinks. It records the
//! customer's shouting and the script, and deliberately nothing about the
//! agent's own voice: no nudges, not even a count (a count invites ranking
//! agents on it; the nudges are the agent's private help).

use std::fmt::Write as _;
use std::io::Write;

use serde::Serialize;

use super::{clock, round_ms};
use crate::coach::{CoachEvent, Delivery};
use crate::detector::SegmentEvent;
use crate::engine::{Event, Sink, SinkError};
use crate::Speaker;

/// What is known about the call before it is analysed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CallInfo {
    /// Where the audio came from (file name, or a stream's name).
    pub source: String,
    /// Wall-clock start of the call, as the caller formats it, if known.
    pub started_at: Option<String>,
}

/// One customer shouting episode.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EpisodeRecord {
    /// Start, seconds from call start.
    pub start_s: f64,
    /// Length, seconds.
    pub duration_s: f64,
    /// Peak shout score, 0 to 1.
    pub peak_score: f32,
    /// F0 rise above the customer's baseline at the peak, semitones.
    pub f0_rise_st: f32,
    /// Spectral tilt rise above the baseline at the peak, dB.
    pub tilt_rise_db: f32,
    /// Still going when the call ended (cues are those at the start).
    pub open_at_end: bool,
    /// Decided from the caller's first words, on the voice alone, before
    /// any calm voice of theirs was heard (the cold start): the rises
    /// above are then against the population priors, not this caller.
    pub cold_start: bool,
}

/// Whether the agent said a cue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CueOutcome {
    /// The agent spoke long enough inside the window.
    Delivered,
    /// The window passed without enough agent speech.
    NotDelivered,
    /// Mono call: there was no agent channel to check.
    Unknown,
    /// The window was cut short (calm period or end of call) before a verdict.
    NoVerdict,
}

/// One cue shown to the agent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CueRecord {
    /// When shown, seconds from call start.
    pub shown_s: f64,
    /// Script step, 1 to 4.
    pub step: u8,
    /// 1, or 2 for step 3's repeat.
    pub repeat: u8,
    /// Shown again because it was not said the first time.
    pub recue: bool,
    /// Whether the agent said it.
    pub outcome: CueOutcome,
}

/// What the supervisor was told.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SupervisorRecord {
    /// When, seconds from call start.
    pub t: f64,
    /// Customer shouting episodes at that time.
    pub episodes: u32,
    /// Customer shouting, seconds, at that time.
    pub shouting_s: f64,
    /// Ladder rungs that counted.
    pub steps_given: u8,
}

/// The note for the line manager; `customer_name` and `key_points` are
/// left empty for them to fill in.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncidentNote {
    /// Note format version.
    pub v: u8,
    /// Where and when the call was.
    pub call: CallInfo,
    /// Call length, seconds.
    pub duration_s: f64,
    /// Every customer shouting episode, in order.
    pub episodes: Vec<EpisodeRecord>,
    /// Every cue shown, in order.
    pub cues: Vec<CueRecord>,
    /// Times the customer was calmer and the ladder stepped down.
    pub calm_s: Vec<f64>,
    /// Step 4 was given and the end of the call advised.
    pub ladder_ended: bool,
    /// The first supervisor alert, if the ladder reached its end.
    pub supervisor_alert: Option<SupervisorRecord>,
    /// Supervisor alerts in all (shouting after the ladder's end alerts
    /// again on the coach's schedule).
    pub supervisor_alerts: u32,
    /// To be filled in by the manager.
    pub customer_name: String,
    /// To be filled in by the manager.
    pub key_points: String,
}

/// Builds an [`IncidentNote`] from the event stream.
#[derive(Debug, Clone)]
pub struct IncidentRecorder {
    note: IncidentNote,
    /// Start, score and cues of the customer's open shouting segment.
    open: Option<EpisodeRecord>,
    /// Index in `note.cues` of the cue whose delivery is awaited.
    awaiting: Option<usize>,
}

impl IncidentRecorder {
    /// A recorder for one call.
    pub fn new(call: CallInfo) -> Self {
        Self {
            note: IncidentNote {
                v: 1,
                call,
                duration_s: 0.0,
                episodes: Vec::new(),
                cues: Vec::new(),
                calm_s: Vec::new(),
                ladder_ended: false,
                supervisor_alert: None,
                supervisor_alerts: 0,
                customer_name: String::new(),
                key_points: String::new(),
            },
            open: None,
            awaiting: None,
        }
    }

    /// The note so far (complete after [`finish`](Sink::finish)).
    pub fn note(&self) -> &IncidentNote {
        &self.note
    }

    /// Takes the note out.
    pub fn into_note(self) -> IncidentNote {
        self.note
    }

    fn settle(&mut self, outcome: CueOutcome) {
        if let Some(i) = self.awaiting.take() {
            self.note.cues[i].outcome = outcome;
        }
    }
}

impl Sink for IncidentRecorder {
    fn event(&mut self, ev: &Event) -> Result<(), SinkError> {
        match *ev {
            Event::Segment(SegmentEvent::ShoutStart {
                t,
                speaker: Speaker::Customer,
                score,
                cues,
                baseline,
                ..
            }) => {
                self.open = Some(EpisodeRecord {
                    start_s: round_ms(t),
                    duration_s: 0.0,
                    peak_score: score,
                    f0_rise_st: cues.f0_st,
                    tilt_rise_db: cues.tilt_db,
                    open_at_end: false,
                    cold_start: baseline != crate::detector::Yardstick::Own,
                });
            }
            Event::Segment(SegmentEvent::ShoutEnd {
                t,
                speaker: Speaker::Customer,
                duration,
                peak_score,
                peak_cues,
                ..
            }) => {
                let open = self.open.take();
                self.note.episodes.push(EpisodeRecord {
                    start_s: round_ms(open.as_ref().map_or(t - duration, |e| e.start_s)),
                    duration_s: round_ms(duration),
                    peak_score,
                    f0_rise_st: peak_cues.f0_st,
                    tilt_rise_db: peak_cues.tilt_db,
                    open_at_end: false,
                    cold_start: open.is_some_and(|e| e.cold_start),
                });
            }
            Event::Coach(CoachEvent::Cue {
                t,
                rung,
                recue,
                delivery,
            }) => {
                self.settle(CueOutcome::NoVerdict);
                let outcome = match delivery {
                    Delivery::Awaiting => CueOutcome::NoVerdict,
                    Delivery::Unknown => CueOutcome::Unknown,
                };
                if delivery == Delivery::Awaiting {
                    self.awaiting = Some(self.note.cues.len());
                }
                self.note.cues.push(CueRecord {
                    shown_s: round_ms(t),
                    step: rung.step,
                    repeat: rung.repeat,
                    recue,
                    outcome,
                });
            }
            Event::Coach(CoachEvent::CueDelivered { .. }) => self.settle(CueOutcome::Delivered),
            Event::Coach(CoachEvent::CueUndelivered { .. }) => {
                self.settle(CueOutcome::NotDelivered)
            }
            Event::Coach(CoachEvent::Calm { t, .. }) => {
                self.settle(CueOutcome::NoVerdict);
                self.note.calm_s.push(round_ms(t));
            }
            Event::Coach(CoachEvent::AdviseEndCall { .. }) => self.note.ladder_ended = true,
            Event::Coach(CoachEvent::SupervisorAlert { t, summary }) => {
                self.note.supervisor_alerts = self.note.supervisor_alerts.saturating_add(1);
                self.note.supervisor_alert.get_or_insert(SupervisorRecord {
                    t: round_ms(t),
                    episodes: summary.episodes,
                    shouting_s: round_ms(summary.shouting_s),
                    steps_given: summary.steps_given,
                });
            }
            // Private to the agent, or not part of the record.
            Event::Coach(CoachEvent::AgentNudge { .. })
            | Event::Coach(CoachEvent::CuePending { .. })
            | Event::Segment(SegmentEvent::ShoutStart {
                speaker: Speaker::Agent,
                ..
            })
            | Event::Segment(SegmentEvent::ShoutEnd {
                speaker: Speaker::Agent,
                ..
            }) => {}
        }
        Ok(())
    }

    fn finish(&mut self, call_end_t: f64) -> Result<(), SinkError> {
        self.note.duration_s = round_ms(call_end_t);
        if let Some(mut e) = self.open.take() {
            e.duration_s = round_ms((call_end_t - e.start_s).max(0.0));
            e.open_at_end = true;
            self.note.episodes.push(e);
        }
        self.settle(CueOutcome::NoVerdict);
        Ok(())
    }
}

impl IncidentNote {
    /// Writes the note as pretty-printed JSON.
    pub fn write_json<W: Write>(&self, mut w: W) -> Result<(), SinkError> {
        const NAME: &str = "incident note (JSON)";
        serde_json::to_writer_pretty(&mut w, self)
            .map_err(|source| SinkError::Json { sink: NAME, source })?;
        w.write_all(b"\n")
            .and_then(|_| w.flush())
            .map_err(|source| SinkError::Io { sink: NAME, source })
    }

    /// The note as Markdown, with blanks for the manager to fill in.
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        // `+ 0.0`: an empty f64 sum is -0.0, which printed "-0.0 s in total".
        let total: f64 = self.episodes.iter().map(|e| e.duration_s).sum::<f64>() + 0.0;
        // Writing to a String cannot fail.
        // A call without shouting gets a note too (QA writes one per
        // call): its heading must not claim an incident.
        let heading = if self.episodes.is_empty() {
            "Call note: no customer shouting found"
        } else {
            "Incident note: customer shouting"
        };
        let _ = writeln!(s, "# {heading}\n");
        let when = match &self.call.started_at {
            Some(at) => format!("{at} ({})", self.call.source),
            None => self.call.source.clone(),
        };
        let _ = writeln!(s, "- **Call:** {when}");
        let _ = writeln!(s, "- **Length:** {}", clock(self.duration_s));
        let _ = writeln!(s, "- **Customer name:** {}", blank_or(&self.customer_name));
        let _ = writeln!(
            s,
            "- **Shouting episodes:** {}, {:.1} s in total",
            self.episodes.len(),
            total
        );
        let highest = self.cues.iter().map(|c| c.step).max().unwrap_or(0);
        let end = match &self.supervisor_alert {
            Some(a) if self.ladder_ended => format!(
                "yes: step 4 given, end of call advised, supervisor alerted at {}{}",
                clock(a.t),
                if self.supervisor_alerts > 1 {
                    format!(
                        " ({} alerts in all: the shouting went on)",
                        self.supervisor_alerts
                    )
                } else {
                    String::new()
                }
            ),
            _ if self.ladder_ended => "yes: step 4 given, end of call advised".to_string(),
            _ if highest == 0 => "no: no cue was needed".to_string(),
            _ => format!("no: highest step shown {highest}"),
        };
        let _ = writeln!(s, "- **Ladder reached the end:** {end}\n");

        let _ = writeln!(s, "## Shouting episodes\n");
        if self.episodes.is_empty() {
            let _ = writeln!(s, "None.\n");
        } else {
            let _ = writeln!(
                s,
                "| # | start | duration | peak score | F0 rise | tilt rise |\n| --- | --- | --- | --- | --- | --- |"
            );
            for (i, e) in self.episodes.iter().enumerate() {
                // A cold start's rises are against the priors: not shown
                // as if they were this caller's.
                let (f0, tilt) = if e.cold_start {
                    ("n/a".to_string(), "n/a".to_string())
                } else {
                    (
                        format!("{:+.1} st", e.f0_rise_st),
                        format!("{:+.1} dB", e.tilt_rise_db),
                    )
                };
                let _ = writeln!(
                    s,
                    "| {}{} | {} | {:.1} s{} | {:.2} | {f0} | {tilt} |",
                    i + 1,
                    if e.cold_start { " (cold start)" } else { "" },
                    clock(e.start_s),
                    e.duration_s,
                    if e.open_at_end { " (to call end)" } else { "" },
                    e.peak_score,
                );
            }
            if self.episodes.iter().any(|e| e.cold_start) {
                let _ = writeln!(
                    s,
                    "\n*Cold start*: the caller's voice was raised from their first words, so it was judged on the voice alone (pitch and spectral shape), with no calm voice of theirs to compare against."
                );
            }
            let _ = writeln!(s);
        }

        let _ = writeln!(s, "## Cues shown to the agent\n");
        if self.cues.is_empty() {
            let _ = writeln!(s, "None.\n");
        } else {
            let _ = writeln!(
                s,
                "| shown | step | agent spoke after the cue |\n| --- | --- | --- |"
            );
            for c in &self.cues {
                let step = match (c.repeat > 1, c.recue) {
                    (true, true) => format!("{} (repeat, shown again)", c.step),
                    (true, false) => format!("{} (repeat)", c.step),
                    (false, true) => format!("{} (shown again)", c.step),
                    (false, false) => c.step.to_string(),
                };
                let said = match c.outcome {
                    CueOutcome::Delivered => "yes",
                    CueOutcome::NotDelivered => "no",
                    CueOutcome::Unknown => "unknown (no agent channel)",
                    CueOutcome::NoVerdict => "no verdict (window cut short)",
                };
                let _ = writeln!(s, "| {} | {step} | {said} |", clock(c.shown_s));
            }
            let _ = writeln!(s);
        }

        if !self.calm_s.is_empty() {
            let times: Vec<String> = self.calm_s.iter().map(|&t| clock(t)).collect();
            let _ = writeln!(s, "Customer calmer at {}.\n", times.join(", "));
        }
        if let Some(a) = &self.supervisor_alert {
            let _ = writeln!(
                s,
                "Supervisor alerted at {}: {} episodes, {:.1} s of shouting, {} steps given.\n",
                clock(a.t),
                a.episodes,
                a.shouting_s,
                a.steps_given
            );
        }

        let _ = writeln!(s, "## Key points\n");
        let _ = writeln!(s, "{}", blank_or(&self.key_points));
        s
    }

    /// Writes the Markdown note.
    pub fn write_markdown<W: Write>(&self, mut w: W) -> Result<(), SinkError> {
        w.write_all(self.to_markdown().as_bytes())
            .and_then(|_| w.flush())
            .map_err(|source| SinkError::Io {
                sink: "incident note (Markdown)",
                source,
            })
    }
}

/// The text, or a blank line to write on.
fn blank_or(text: &str) -> &str {
    if text.trim().is_empty() {
        "_____________________ (to be filled in)"
    } else {
        text
    }
}
