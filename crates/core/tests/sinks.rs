//! The sinks, fed by the coach running over a simulated call: JSON Lines
//! schema v1, the pretty timeline, the Audacity label track and the
//! incident note.
#![allow(clippy::unwrap_used)] // a test fails by panicking; unwrap says where

use shoutcue_testkit::coach_sim as sim;

use std::io::Write;

use serde_json::Value;
use shoutcue_core::coach::{CoachEvent, Script};
use shoutcue_core::detector::{SegmentEvent, Speaker};
use shoutcue_core::engine::{Event, Sink, SinkError};
use shoutcue_core::sinks::{
    AudacityLabels, CallInfo, CueOutcome, IncidentRecorder, JsonlSink, PrettySink,
};
use sim::{shouting_turns, Call};

/// A stereo call that climbs the full ladder while the agent also cuts in
/// and raises their voice (so there are private nudges to keep out).
fn eventful_call() -> Call {
    let mut call = shouting_turns(1.0, 8.0, 6, Some(1.0));
    let agent = call.agent.as_mut().unwrap();
    agent.speech.push((2.0, 3.5));
    agent.shout.push((2.2, 3.5));
    call
}

/// The event stream the pipeline would hand the sinks, in decision order.
fn stream(call: &Call) -> Vec<Event> {
    call.run()
        .into_iter()
        .flat_map(|s| {
            let segs = s.segments.into_iter().map(Event::Segment);
            let evs = s.events.into_iter().map(Event::Coach);
            segs.chain(evs).collect::<Vec<_>>()
        })
        .collect()
}

fn feed(sink: &mut impl Sink, events: &[Event], end: f64) {
    for e in events {
        sink.event(e).unwrap();
    }
    sink.finish(end).unwrap();
}

#[test]
fn jsonl_lines_parse_and_carry_v_t_type() {
    let call = eventful_call();
    let events = stream(&call);
    let mut sink = JsonlSink::new(Vec::new(), Script::english());
    feed(&mut sink, &events, call.dur);
    let text = String::from_utf8(sink.into_inner()).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    // One line per event, plus call_end.
    assert_eq!(lines.len(), events.len() + 1);
    for l in &lines {
        assert_eq!(l["v"], 1, "{l}");
        let t = l["t"].as_f64().unwrap_or_else(|| panic!("no t: {l}"));
        assert!(
            ((t * 1000.0).round() - t * 1000.0).abs() < 1e-6,
            "t not in ms: {l}"
        );
        assert!(l["type"].is_string(), "{l}");
    }
    let types: Vec<&str> = lines.iter().map(|l| l["type"].as_str().unwrap()).collect();
    for want in [
        "shout_start",
        "shout_end",
        "cue_pending",
        "cue",
        "cue_delivered",
        "advise_end_call",
        "supervisor_alert",
        "agent_nudge",
    ] {
        assert!(types.contains(&want), "no {want} in {types:?}");
    }
    let last = lines.last().unwrap();
    assert_eq!(last["type"], "call_end");
    assert_eq!(last["duration"].as_f64(), Some(call.dur));

    let cues: Vec<&Value> = lines.iter().filter(|l| l["type"] == "cue").collect();
    assert_eq!(
        cues.iter()
            .map(|c| c["step"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        vec![1, 2, 3, 3, 4]
    );
    assert_eq!(cues[3]["repeat"], 2);
    assert_eq!(cues[0]["delivery"], "awaiting");
    assert_eq!(
        cues[0]["text"],
        "I am happy to help you, but do you realise you are shouting at me?"
    );
    // Private lines: every nudge, and the agent's own shouting.
    for l in &lines {
        let agent_line = l["type"] == "agent_nudge" || l["speaker"] == "agent";
        assert_eq!(l["private"] == true, agent_line, "{l}");
    }
    let alert = lines
        .iter()
        .find(|l| l["type"] == "supervisor_alert")
        .unwrap();
    assert_eq!(alert["episodes"], 5);
    assert_eq!(alert["steps_given"], 5);
    assert!(alert.get("nudges").is_none());
}

#[test]
fn jsonl_mono_cues_say_delivery_unknown() {
    let call = shouting_turns(1.0, 8.0, 2, None);
    let mut sink = JsonlSink::new(Vec::new(), Script::english());
    feed(&mut sink, &stream(&call), call.dur);
    let text = String::from_utf8(sink.into_inner()).unwrap();
    let cues: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|l| l["type"] == "cue")
        .collect();
    assert_eq!(cues.len(), 2);
    assert!(cues.iter().all(|c| c["delivery"] == "unknown"));
}

#[test]
fn jsonl_renders_texts_in_the_scripts_language() {
    let de =
        Script::from_file(shoutcue_testkit::repo_root().join("models/script-de.toml")).unwrap();
    let call = shouting_turns(1.0, 8.0, 1, Some(1.0));
    let mut sink = JsonlSink::new(Vec::new(), de.clone());
    feed(&mut sink, &stream(&call), call.dur);
    let text = String::from_utf8(sink.into_inner()).unwrap();
    let cue: Value = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|l| l["type"] == "cue")
        .unwrap();
    assert_eq!(
        cue["text"],
        de.template(shoutcue_core::coach::Line::Step(1))
    );
}

#[test]
fn pretty_timeline_reads_as_clock_and_text() {
    let call = eventful_call();
    let mut sink = PrettySink::new(Vec::new(), Script::english());
    feed(&mut sink, &stream(&call), call.dur);
    let text = String::from_utf8(sink.into_inner()).unwrap();
    for line in text.lines() {
        let b = line.as_bytes();
        assert!(
            b.len() > 9
                && b[..2].iter().all(u8::is_ascii_digit)
                && b[2] == b':'
                && b[3..5].iter().all(u8::is_ascii_digit)
                && b[5] == b'.'
                && b[6].is_ascii_digit()
                && &b[7..9] == b"  ",
            "not MM:SS.d: {line:?}"
        );
    }
    let cue1 = text.lines().find(|l| l.contains("CUE 1")).unwrap();
    assert!(cue1.contains("\"I am happy to help you, but do you realise you are shouting at me?\""));
    assert!(cue1.contains("(at the pause)"), "{cue1}");
    assert!(text.contains("SUPERVISOR ALERT"));
    assert!(text.lines().last().unwrap().ends_with("call end"));
    // Words first, figures after: the simulator's shouts rise in pitch.
    let shout = text.lines().find(|l| l.contains("SHOUT")).unwrap();
    assert!(
        shout.contains("customer's voice raised: higher pitch") && shout.contains("(score "),
        "{shout}"
    );
    // The figures say what they are (issue 26: "no legend").
    assert!(
        shout.contains(" of 1;")
            && shout.contains("over their own calm voice: pitch +")
            && shout.contains(" semitones, tilt "),
        "{shout}"
    );
}

#[test]
fn a_calm_calls_timeline_says_no_shouting_was_found() {
    let call = shouting_turns(1.0, 8.0, 0, Some(1.0));
    let mut sink = PrettySink::new(Vec::new(), Script::english());
    feed(&mut sink, &stream(&call), call.dur);
    let text = String::from_utf8(sink.into_inner()).unwrap();
    assert!(
        text.lines()
            .last()
            .unwrap()
            .ends_with("call end: no customer shouting found"),
        "{text}"
    );
}

#[test]
fn pretty_timeline_can_run_in_time_order() {
    let call = eventful_call();
    // Decision order stamps some events earlier than the one before (a
    // shout's end after the cue at its pause); here, to be sure of it, the
    // whole stream runs backwards. `fixtures_replay.rs` checks a real call.
    let mut events = stream(&call);
    events.reverse();
    let times = |text: &str| -> Vec<f64> {
        text.lines()
            .map(|l| l[..2].parse::<f64>().unwrap() * 60.0 + l[3..7].parse::<f64>().unwrap())
            .collect()
    };
    // As decided, some line is stamped earlier than the one before it ...
    let mut sink = PrettySink::new(Vec::new(), Script::english());
    feed(&mut sink, &events, call.dur);
    let decided = String::from_utf8(sink.into_inner()).unwrap();
    let t = times(&decided);
    assert!(t.windows(2).any(|w| w[1] < w[0]), "{decided}");
    // ... and time-ordered, the same lines run forwards.
    let mut sink = PrettySink::new(Vec::new(), Script::english()).time_ordered();
    feed(&mut sink, &events, call.dur);
    let ordered = String::from_utf8(sink.into_inner()).unwrap();
    let t = times(&ordered);
    assert!(t.windows(2).all(|w| w[1] >= w[0]), "{ordered}");
    let mut a: Vec<&str> = decided.lines().collect();
    let mut b: Vec<&str> = ordered.lines().collect();
    a.sort_unstable();
    b.sort_unstable();
    assert_eq!(a, b);
}

#[test]
fn label_track_is_audacity_format_without_nudges() {
    let call = eventful_call();
    let events = stream(&call);
    let mut sink = AudacityLabels::new(Vec::new());
    feed(&mut sink, &events, call.dur);
    let text = String::from_utf8(sink.into_inner()).unwrap();
    let mut prev = f64::NEG_INFINITY;
    let mut spans = 0;
    let mut cue_labels = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), 3, "{line:?}");
        let (a, b): (f64, f64) = (f[0].parse().unwrap(), f[1].parse().unwrap());
        assert!(a >= prev, "not sorted by start: {line:?}");
        prev = a;
        match f[2] {
            "shout" => {
                assert!(b > a);
                spans += 1;
            }
            "calm" => assert_eq!(a, b),
            l if l.starts_with("cue:") => {
                assert_eq!(a, b, "cue is a point: {line:?}");
                cue_labels.push(l.to_string());
            }
            other => panic!("unexpected label {other:?}"),
        }
    }
    // Customer shouting only: the agent's raised voice is not on the track.
    let customer_starts = events
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::Segment(SegmentEvent::ShoutStart {
                    speaker: Speaker::Customer,
                    ..
                })
            )
        })
        .count();
    assert_eq!(spans, customer_starts);
    assert_eq!(cue_labels, ["cue:1", "cue:2", "cue:3", "cue:3b", "cue:4"]);
}

#[test]
fn label_track_closes_a_shout_open_at_call_end() {
    let mut sink = AudacityLabels::new(Vec::new());
    let start = Event::Segment(SegmentEvent::ShoutStart {
        t: 1.5,
        speaker: Speaker::Customer,
        score: 0.8,
        cues: sim::shout_cues(0),
        decided_t: 2.2,
        baseline: shoutcue_core::detector::Yardstick::Own,
    });
    feed(&mut sink, &[start], 4.0);
    let text = String::from_utf8(sink.into_inner()).unwrap();
    assert_eq!(text, "1.500000\t4.000000\tshout\n");
}

/// Nothing about the agent's own voice may appear in the manager's note.
fn assert_no_agent_voice(text: &str) {
    let s = Script::english();
    let lower = text.to_lowercase();
    for w in [
        "nudge",
        "overtalk",
        "raised_voice",
        "private",
        "agent voice",
    ] {
        assert!(!lower.contains(w), "{w:?} in the note:\n{text}");
    }
    for kind in [
        shoutcue_core::coach::NudgeKind::RaisedVoice,
        shoutcue_core::coach::NudgeKind::Overtalk,
    ] {
        let line = s.template(shoutcue_core::coach::Line::Nudge(kind));
        assert!(!text.contains(line), "nudge text in the note:\n{text}");
    }
}

#[test]
fn incident_note_records_episodes_cues_and_the_end_of_the_ladder() {
    let call = eventful_call();
    let events = stream(&call);
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::Coach(CoachEvent::AgentNudge { .. }))));
    let mut rec = IncidentRecorder::new(CallInfo {
        source: "call-0042.wav".into(),
        started_at: None,
    });
    feed(&mut rec, &events, call.dur);
    let note = rec.note().clone();

    assert_eq!(note.duration_s, call.dur);
    // Every customer episode (six turns), none of the agent's.
    assert_eq!(note.episodes.len(), call.customer.shout.len());
    for (k, e) in note.episodes.iter().enumerate() {
        let (a, b) = call.customer.shout[k];
        assert!((e.start_s - a).abs() < 1e-9 && (e.duration_s - (b - a)).abs() < 1e-9);
        assert_eq!(e.f0_rise_st, sim::shout_cues(k).f0_st);
        assert_eq!(e.tilt_rise_db, sim::shout_cues(k).tilt_db);
    }
    assert_eq!(
        note.cues.iter().map(|c| c.step).collect::<Vec<_>>(),
        vec![1, 2, 3, 3, 4]
    );
    assert!(note.cues.iter().all(|c| c.outcome == CueOutcome::Delivered));
    assert!(note.ladder_ended);
    assert_eq!(note.supervisor_alert.as_ref().unwrap().steps_given, 5);
    assert!(note.customer_name.is_empty() && note.key_points.is_empty());

    let mut json = Vec::new();
    note.write_json(&mut json).unwrap();
    let json = String::from_utf8(json).unwrap();
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["customer_name"], "");
    assert_eq!(v["key_points"], "");
    assert_eq!(v["call"]["source"], "call-0042.wav");
    assert_no_agent_voice(&json);

    let md = note.to_markdown();
    assert!(md.contains("**Customer name:** ____"), "{md}");
    assert!(md.contains("## Key points\n\n____"), "{md}");
    assert!(md.contains("call-0042.wav"));
    assert!(md.contains("supervisor alerted"));
    // One table row per episode and per cue.
    assert_eq!(md.matches(" st | ").count(), note.episodes.len());
    assert_eq!(md.matches("| yes |").count(), 5);
    assert_no_agent_voice(&md);
}

#[test]
fn incident_note_marks_undelivered_and_unfinished_cues() {
    // Agent silent: the first cue is not said; the call ends inside the
    // window of the re-cue; the last shout is still going at call end.
    let mut call = shouting_turns(1.0, 9.0, 2, Some(0.0));
    call.customer.speech.push((14.0, 16.0));
    call.customer.shout.push((14.5, 16.0));
    call.dur = 15.5;
    let mut rec = IncidentRecorder::new(CallInfo {
        source: "x.wav".into(),
        started_at: Some("2024-05-01 10:32".into()),
    });
    feed(&mut rec, &stream(&call), call.dur);
    let note = rec.into_note();
    let outcomes: Vec<CueOutcome> = note.cues.iter().map(|c| c.outcome).collect();
    assert_eq!(outcomes, [CueOutcome::NotDelivered, CueOutcome::NoVerdict]);
    assert!(note.cues[1].recue);
    assert!(!note.ladder_ended && note.supervisor_alert.is_none());
    let last = note.episodes.last().unwrap();
    assert!(last.open_at_end);
    assert!((last.duration_s - 1.0).abs() < 1e-9, "{last:?}");
    let md = note.to_markdown();
    assert!(md.contains("2024-05-01 10:32 (x.wav)"));
    assert!(md.contains("no: highest step shown 1"), "{md}");
}

#[test]
fn the_note_keeps_the_first_alert_and_counts_the_later_ones() {
    // 30 shouting turns 8 s apart: the ladder ends near 37 s, the shouting
    // goes on to about 240 s, and the default schedule alerts again after
    // 120 s.
    let call = shouting_turns(1.0, 8.0, 30, Some(1.0));
    let mut rec = IncidentRecorder::new(CallInfo {
        source: "long.wav".into(),
        started_at: None,
    });
    feed(&mut rec, &stream(&call), call.dur);
    let note = rec.into_note();
    assert_eq!(note.supervisor_alerts, 2, "{note:?}");
    let first = note.supervisor_alert.clone().unwrap();
    assert!(first.t < 60.0, "{first:?}");
    assert!(note
        .to_markdown()
        .contains("(2 alerts in all: the shouting went on)"));
}

#[test]
fn a_calm_calls_note_says_zero_seconds_not_minus_zero() {
    let rec = IncidentRecorder::new(CallInfo {
        source: "calm.wav".into(),
        started_at: None,
    });
    let md = rec.into_note().to_markdown();
    assert!(
        md.contains("- **Shouting episodes:** 0, 0.0 s in total"),
        "{md}"
    );
    assert!(!md.contains("-0.0"), "{md}");
}

struct Broken;
impl Write for Broken {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::Error::other("disk full"))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_failing_writer_is_an_error_that_names_the_sink() {
    let ev = Event::Coach(CoachEvent::AdviseEndCall { t: 1.0 });
    let e = JsonlSink::new(Broken, Script::english())
        .event(&ev)
        .unwrap_err();
    assert!(matches!(e, SinkError::Json { .. } | SinkError::Io { .. }));
    assert!(e.to_string().contains("JSON Lines"), "{e}");
    let e = PrettySink::new(Broken, Script::english())
        .event(&ev)
        .unwrap_err();
    assert!(e.to_string().contains("pretty timeline") && e.to_string().contains("disk full"));

    // A broken sink in a set does not silence the others.
    let seen = std::rc::Rc::new(std::cell::Cell::new(0));
    let mut set: Vec<Box<dyn Sink>> = vec![
        Box::new(PrettySink::new(Broken, Script::english())),
        Box::new(Counter(seen.clone())),
    ];
    assert!(set.event(&ev).is_err());
    assert!(set.finish(2.0).is_err());
    assert_eq!(seen.get(), 2);
}

struct Counter(std::rc::Rc<std::cell::Cell<usize>>);
impl Sink for Counter {
    fn event(&mut self, _: &Event) -> Result<(), SinkError> {
        self.0.set(self.0.get() + 1);
        Ok(())
    }
    fn finish(&mut self, _: f64) -> Result<(), SinkError> {
        self.0.set(self.0.get() + 1);
        Ok(())
    }
}
