//! JSON Lines events, schema v1 (see `SCHEMA.md`).

use std::borrow::Cow;
use std::io::Write;

use serde::Serialize;

use super::round_ms;
use crate::coach::{AlertSummary, CoachEvent, Delivery, Line, NudgeKind, Script};
use crate::detector::{Cues, SegmentEvent};
use crate::engine::{Event, Sink, SinkError};
use crate::Speaker;

/// The schema version every line carries.
pub const SCHEMA_VERSION: u8 = 1;

const NAME: &str = "JSON Lines events";

#[derive(Serialize)]
struct Record<'a> {
    v: u8,
    t: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    call_id: Option<&'a str>,
    #[serde(flatten)]
    body: Body<'a>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Body<'a> {
    ShoutStart {
        speaker: Speaker,
        score: f32,
        cues: Cues,
        decided_t: f64,
        baseline: &'static str,
        #[serde(skip_serializing_if = "is_false")]
        private: bool,
    },
    ShoutEnd {
        speaker: Speaker,
        duration: f64,
        score: f32,
        cues: Cues,
        decided_t: f64,
        #[serde(skip_serializing_if = "is_false")]
        private: bool,
    },
    CuePending {
        step: u8,
        repeat: u8,
    },
    Cue {
        step: u8,
        repeat: u8,
        recue: bool,
        text: Cow<'a, str>,
        delivery: Delivery,
    },
    CueDelivered {
        step: u8,
        repeat: u8,
    },
    CueUndelivered {
        step: u8,
        repeat: u8,
    },
    Calm {
        text: Cow<'a, str>,
        next_step: u8,
        next_repeat: u8,
    },
    AdviseEndCall {
        text: Cow<'a, str>,
    },
    SupervisorAlert {
        episodes: u32,
        shouting_s: f64,
        steps_given: u8,
        cues_shown: u32,
    },
    AgentNudge {
        kind: NudgeKind,
        text: Cow<'a, str>,
        private: bool,
    },
    CallEnd {
        duration: f64,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<&'static str>,
    },
}

/// Writes each event as one JSON object per line, `{"v":1,"t":…,"type":…}`.
///
/// The stream the overlay and the logs read; texts are rendered from the
/// [`Script`] so a consumer needs no script of its own.
#[derive(Debug)]
pub struct JsonlSink<W: Write> {
    w: W,
    script: Script,
    name: Option<String>,
    end_reason: Option<&'static str>,
    call_id: Option<String>,
}

impl<W: Write> JsonlSink<W> {
    /// A sink writing to `w`, rendering texts from `script`.
    pub fn new(w: W, script: Script) -> Self {
        Self {
            w,
            script,
            name: None,
            end_reason: None,
            call_id: None,
        }
    }

    /// Puts the platform's call id in every line (`"call_id"`), for a
    /// server whose lines from many calls meet in one stream; a replayed
    /// recording's lines carry none.
    pub fn with_call_id(mut self, id: impl Into<String>) -> Self {
        self.call_id = Some(id.into());
        self
    }

    /// Fills `{name}` in the script lines with this name.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Why the call ended (`hangup`, `disconnect`, `error`, `drained`), for
    /// the `call_end` line of a live telephony call; a recording has none.
    pub fn set_end_reason(&mut self, reason: &'static str) {
        self.end_reason = Some(reason);
    }

    /// Gives the writer back (tests read what was written).
    pub fn into_inner(self) -> W {
        self.w
    }

    /// The writer, so that a server can hand each line on as soon as it
    /// is written, beside the event it came from, and clear it.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.w
    }

    fn write(&mut self, t: f64, body: Body<'_>) -> Result<(), SinkError> {
        let rec = Record {
            v: SCHEMA_VERSION,
            t: round_ms(t),
            call_id: self.call_id.as_deref(),
            body,
        };
        serde_json::to_writer(&mut self.w, &rec)
            .map_err(|source| SinkError::Json { sink: NAME, source })?;
        self.w
            .write_all(b"\n")
            .map_err(|source| SinkError::Io { sink: NAME, source })
    }
}

impl<W: Write> Sink for JsonlSink<W> {
    fn event(&mut self, ev: &Event) -> Result<(), SinkError> {
        // Render into an owned string first so `self` is free for writing.
        let name = self.name.clone();
        let text = |line: Line| -> Cow<'static, str> {
            Cow::Owned(self.script.render(line, name.as_deref()).into_owned())
        };
        let private = ev.is_private();
        let (t, body) = match *ev {
            Event::Segment(SegmentEvent::ShoutStart {
                t,
                speaker,
                score,
                cues,
                decided_t,
                baseline,
            }) => (
                t,
                Body::ShoutStart {
                    speaker,
                    score,
                    cues,
                    decided_t: round_ms(decided_t),
                    baseline: baseline.as_str(),
                    private,
                },
            ),
            Event::Segment(SegmentEvent::ShoutEnd {
                t,
                speaker,
                duration,
                peak_score,
                peak_cues,
                decided_t,
            }) => (
                t,
                Body::ShoutEnd {
                    speaker,
                    duration: round_ms(duration),
                    score: peak_score,
                    cues: peak_cues,
                    decided_t: round_ms(decided_t),
                    private,
                },
            ),
            Event::Coach(CoachEvent::CuePending { t, rung }) => (
                t,
                Body::CuePending {
                    step: rung.step,
                    repeat: rung.repeat,
                },
            ),
            Event::Coach(CoachEvent::Cue {
                t,
                rung,
                recue,
                delivery,
            }) => (
                t,
                Body::Cue {
                    step: rung.step,
                    repeat: rung.repeat,
                    recue,
                    text: text(rung.into()),
                    delivery,
                },
            ),
            Event::Coach(CoachEvent::CueDelivered { t, rung }) => (
                t,
                Body::CueDelivered {
                    step: rung.step,
                    repeat: rung.repeat,
                },
            ),
            Event::Coach(CoachEvent::CueUndelivered { t, rung }) => (
                t,
                Body::CueUndelivered {
                    step: rung.step,
                    repeat: rung.repeat,
                },
            ),
            Event::Coach(CoachEvent::Calm { t, next }) => (
                t,
                Body::Calm {
                    text: text(Line::Calm),
                    next_step: next.step,
                    next_repeat: next.repeat,
                },
            ),
            Event::Coach(CoachEvent::AdviseEndCall { t }) => (
                t,
                Body::AdviseEndCall {
                    text: text(Line::EndCall),
                },
            ),
            Event::Coach(CoachEvent::SupervisorAlert {
                t,
                summary:
                    AlertSummary {
                        episodes,
                        shouting_s,
                        steps_given,
                        cues_shown,
                    },
            }) => (
                t,
                Body::SupervisorAlert {
                    episodes,
                    shouting_s: round_ms(shouting_s),
                    steps_given,
                    cues_shown,
                },
            ),
            Event::Coach(CoachEvent::AgentNudge { t, kind }) => (
                t,
                Body::AgentNudge {
                    kind,
                    text: text(Line::Nudge(kind)),
                    private: true,
                },
            ),
        };
        self.write(t, body)
    }

    fn finish(&mut self, call_end_t: f64) -> Result<(), SinkError> {
        self.write(
            call_end_t,
            Body::CallEnd {
                duration: round_ms(call_end_t),
                reason: self.end_reason,
            },
        )?;
        self.w
            .flush()
            .map_err(|source| SinkError::Io { sink: NAME, source })
    }
}
