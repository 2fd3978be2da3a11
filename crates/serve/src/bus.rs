//! What a call's events become on their way out: one rendered line with its
//! [`Kind`] and its privacy beside it ([`crate::hub::HubLine`]), so that
//! every consumer (the pages, the NATS outbox, the events file, the fleet
//! console) matches on the kind and never searches the JSON for `"type"`.
//!
//! The kind is taken from the typed [`Event`] where the line is rendered.
//! Only lines that come from outside this process (another node's, over
//! NATS; a spill file's, from an earlier run) are parsed for it, with
//! serde, and a type this version does not know is [`Kind::Other`].
//!
//! The three lines the engine does not write (`call_start`, the
//! `incident_note` for the pages, and the `call_end` of a lost node) are
//! typed records here too, each with the schema version.

use serde::{Deserialize, Serialize};
use shoutcue_core::coach::CoachEvent;
use shoutcue_core::detector::SegmentEvent;
use shoutcue_core::engine::Event;
use shoutcue_core::sinks::SCHEMA_VERSION;

/// A line's `type` in schema v1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `call_start`: the server's first line of a call.
    CallStart,
    /// `shout_start`.
    ShoutStart,
    /// `shout_end`.
    ShoutEnd,
    /// `cue_pending`.
    CuePending,
    /// `cue`.
    Cue,
    /// `cue_delivered`.
    CueDelivered,
    /// `cue_undelivered`.
    CueUndelivered,
    /// `calm`.
    Calm,
    /// `advise_end_call`.
    AdviseEndCall,
    /// `supervisor_alert`.
    SupervisorAlert,
    /// `agent_nudge`.
    AgentNudge,
    /// `call_end`.
    CallEnd,
    /// `incident_note`: the pages' copy of a call's note.
    IncidentNote,
    /// A type this version does not know, or none (from outside only).
    Other,
}

/// Every kind with its name, the one table both directions read.
const NAMES: [(Kind, &str); 13] = [
    (Kind::CallStart, "call_start"),
    (Kind::ShoutStart, "shout_start"),
    (Kind::ShoutEnd, "shout_end"),
    (Kind::CuePending, "cue_pending"),
    (Kind::Cue, "cue"),
    (Kind::CueDelivered, "cue_delivered"),
    (Kind::CueUndelivered, "cue_undelivered"),
    (Kind::Calm, "calm"),
    (Kind::AdviseEndCall, "advise_end_call"),
    (Kind::SupervisorAlert, "supervisor_alert"),
    (Kind::AgentNudge, "agent_nudge"),
    (Kind::CallEnd, "call_end"),
    (Kind::IncidentNote, "incident_note"),
];

impl Kind {
    /// The kind of an engine event.
    pub fn of(ev: &Event) -> Self {
        match ev {
            Event::Segment(SegmentEvent::ShoutStart { .. }) => Kind::ShoutStart,
            Event::Segment(SegmentEvent::ShoutEnd { .. }) => Kind::ShoutEnd,
            Event::Coach(c) => match c {
                CoachEvent::CuePending { .. } => Kind::CuePending,
                CoachEvent::Cue { .. } => Kind::Cue,
                CoachEvent::CueDelivered { .. } => Kind::CueDelivered,
                CoachEvent::CueUndelivered { .. } => Kind::CueUndelivered,
                CoachEvent::Calm { .. } => Kind::Calm,
                CoachEvent::AdviseEndCall { .. } => Kind::AdviseEndCall,
                CoachEvent::SupervisorAlert { .. } => Kind::SupervisorAlert,
                CoachEvent::AgentNudge { .. } => Kind::AgentNudge,
            },
        }
    }

    /// The schema's name for it (`event` for [`Kind::Other`]): safe as a
    /// NATS subject token.
    pub fn as_str(self) -> &'static str {
        NAMES
            .iter()
            .find(|(k, _)| *k == self)
            .map_or("event", |(_, n)| n)
    }

    /// The kind of a schema-v1 line from outside this process: its `type`,
    /// parsed; [`Kind::Other`] for a line that is not JSON or whose type
    /// this version does not know.
    pub fn of_line(line: &str) -> Self {
        #[derive(Deserialize)]
        struct Typed {
            #[serde(rename = "type")]
            kind: Option<String>,
        }
        serde_json::from_str::<Typed>(line)
            .ok()
            .and_then(|t| t.kind)
            .and_then(|name| NAMES.iter().find(|(_, n)| *n == name).map(|(k, _)| *k))
            .unwrap_or(Kind::Other)
    }
}

/// The `call_start` line.
#[derive(Debug, Serialize)]
pub struct CallStartLine<'a> {
    /// Schema version.
    pub v: u8,
    /// Always 0.
    pub t: f64,
    /// `call_start`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The platform's call id.
    pub call_id: &'a str,
    /// `audiohook`, `audiosocket`, `twilio`, `freeswitch`.
    pub protocol: &'static str,
    /// The agent, if the platform named one.
    pub agent_id: Option<&'a str>,
    /// Whether the agent's voice is heard.
    pub has_agent: bool,
    /// The call's input rate, Hz.
    pub rate: u32,
}

/// The pages' copy of a call's incident note.
#[derive(Debug, Serialize)]
pub struct IncidentNoteLine<'a> {
    /// Schema version.
    pub v: u8,
    /// The call's length, s.
    pub t: f64,
    /// The platform's call id.
    pub call_id: &'a str,
    /// `incident_note`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The note as the line manager reads it.
    pub markdown: String,
}

/// The `call_end` a fleet console writes for a call whose node went quiet.
#[derive(Debug, Serialize)]
pub struct LostCallEndLine<'a> {
    /// Schema version.
    pub v: u8,
    /// When the node was last heard from, in the call's time, s.
    pub t: f64,
    /// `call_end`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The same as `t`.
    pub duration: f64,
    /// `disconnect`.
    pub reason: &'static str,
    /// The node that went quiet.
    pub lost_node: &'a str,
}

/// Renders one of the records above (they cannot fail to serialise).
pub fn render<T: Serialize>(record: &T) -> String {
    serde_json::to_string(record).unwrap_or_default()
}

/// The schema version, for the records above.
pub const V: u8 = SCHEMA_VERSION;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_go_both_ways_and_strangers_are_other() {
        for (k, n) in NAMES {
            assert_eq!(k.as_str(), n);
            assert_eq!(Kind::of_line(&format!("{{\"v\":1,\"type\":\"{n}\"}}")), k);
        }
        assert_eq!(Kind::Other.as_str(), "event");
        assert_eq!(Kind::of_line("{\"v\":1}"), Kind::Other);
        assert_eq!(Kind::of_line("{\"type\":\"a.b\"}"), Kind::Other);
        assert_eq!(Kind::of_line("not json \"type\":\"cue\""), Kind::Other);
        // A key that merely contains the text is not the type.
        assert_eq!(
            Kind::of_line("{\"text\":\"\\\"type\\\":\\\"cue\\\"\",\"type\":\"calm\"}"),
            Kind::Calm
        );
    }

    #[test]
    fn the_servers_own_records_carry_the_schema_version() {
        let l = render(&IncidentNoteLine {
            v: V,
            t: 1.5,
            call_id: "c",
            kind: Kind::IncidentNote.as_str(),
            markdown: "# note".into(),
        });
        let v: serde_json::Value = serde_json::from_str(&l).unwrap_or_default();
        assert_eq!(v["v"], 1);
        assert_eq!(Kind::of_line(&l), Kind::IncidentNote);
    }
}
