//! What the coach says, as small `Copy` values the sinks render later.
//!
//! No event holds text: the sinks look the sentence up in the
//! [`Script`](super::Script), so the per-hop path never builds a string.

use arrayvec::ArrayVec;
use serde::Serialize;

/// One rung of the de-escalation ladder: which sentence, and which time.
///
/// Step 3 is given twice (trainers insist the warning be repeated), so the
/// ladder has five rungs for four sentences.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rung {
    /// The script step, 1 to 4.
    pub step: u8,
    /// Which time this step is given on the ladder: 1, or 2 for step 3's repeat.
    pub repeat: u8,
}

impl Rung {
    /// `3`, or `3b` for the second time step 3 is given: how reports, plots
    /// and label tracks name a rung in little space.
    pub fn label(&self) -> String {
        if self.repeat > 1 {
            format!("{}b", self.step)
        } else {
            self.step.to_string()
        }
    }

    /// `3`, or `3 (repeat)`: for a person reading a timeline.
    pub fn spoken_label(&self) -> String {
        if self.repeat > 1 {
            format!("{} (repeat)", self.step)
        } else {
            self.step.to_string()
        }
    }
}

/// The ladder in the order trainers teach it: 1, 2, 3, 3 again, 4.
pub const LADDER: [Rung; 5] = [
    Rung { step: 1, repeat: 1 },
    Rung { step: 2, repeat: 1 },
    Rung { step: 3, repeat: 1 },
    Rung { step: 3, repeat: 2 },
    Rung { step: 4, repeat: 1 },
];

/// Whether the coach can tell if the agent said a cue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// There is an agent channel: a `CueDelivered` or `CueUndelivered` follows.
    Awaiting,
    /// Mono call: nobody can hear the agent, so the ladder climbs on the cue alone.
    Unknown,
}

/// The kinds of private nudge about the agent's own voice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NudgeKind {
    /// The agent's voice is raised above their own baseline.
    RaisedVoice,
    /// The agent keeps talking over a customer who was talking first.
    Overtalk,
}

impl NudgeKind {
    /// Index for per-kind state such as cooldowns.
    pub(crate) fn index(self) -> usize {
        match self {
            NudgeKind::RaisedVoice => 0,
            NudgeKind::Overtalk => 1,
        }
    }
}

/// What the supervisor is told when the ladder reaches its end.
///
/// Only the customer's shouting and the script: nothing about the agent's
/// own voice, by design (the agent's nudges are theirs alone).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AlertSummary {
    /// Customer shouting segments in the call so far.
    pub episodes: u32,
    /// Total customer shouting, seconds (an open segment counts up to now).
    pub shouting_s: f64,
    /// Ladder rungs that counted (delivered, or shown on a mono call).
    pub steps_given: u8,
    /// Cues shown, re-cues of an unsaid step included.
    pub cues_shown: u32,
}

/// One thing the coach decided, at hop time `t` (seconds from call start).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CoachEvent {
    /// Customer shouting decided a cue; it waits for their next pause
    /// (so the overlay can get ready).
    CuePending {
        /// Decision time.
        t: f64,
        /// The cue that will be shown.
        rung: Rung,
    },
    /// Show the cue now: the customer has paused.
    Cue {
        /// Time shown.
        t: f64,
        /// Which sentence.
        rung: Rung,
        /// The same rung shown again because the agent did not say it last time.
        recue: bool,
        /// Whether delivery can be checked.
        delivery: Delivery,
    },
    /// The agent spoke long enough inside the window: the ladder climbs.
    CueDelivered {
        /// Time the speech threshold was reached.
        t: f64,
        /// The cue that was said.
        rung: Rung,
    },
    /// The window passed without enough agent speech; the cue stays up and
    /// the ladder does not climb.
    CueUndelivered {
        /// Time the window closed.
        t: f64,
        /// The cue that was not said.
        rung: Rung,
    },
    /// The customer has stopped shouting for a while: acknowledge, summarise.
    /// The ladder has stepped down one rung.
    Calm {
        /// Time the calm period was complete.
        t: f64,
        /// The rung the next shouting will be cued at.
        next: Rung,
    },
    /// Step 4 is done: advise the agent to end the call.
    AdviseEndCall {
        /// Time decided.
        t: f64,
    },
    /// Tell the supervisor the ladder has reached its end.
    SupervisorAlert {
        /// Time decided.
        t: f64,
        /// Counts for the supervisor (customer only).
        summary: AlertSummary,
    },
    /// A private nudge about the agent's own voice; never leaves the agent.
    AgentNudge {
        /// Time decided.
        t: f64,
        /// What to change.
        kind: NudgeKind,
    },
}

impl CoachEvent {
    /// The event's time, seconds from call start.
    pub fn t(&self) -> f64 {
        match *self {
            CoachEvent::CuePending { t, .. }
            | CoachEvent::Cue { t, .. }
            | CoachEvent::CueDelivered { t, .. }
            | CoachEvent::CueUndelivered { t, .. }
            | CoachEvent::Calm { t, .. }
            | CoachEvent::AdviseEndCall { t }
            | CoachEvent::SupervisorAlert { t, .. }
            | CoachEvent::AgentNudge { t, .. } => t,
        }
    }

    /// True for events only the agent may see (their own voice).
    pub fn is_private(&self) -> bool {
        matches!(self, CoachEvent::AgentNudge { .. })
    }
}

/// Room for one hop's events; a hop produces at most about six.
pub const COACH_EVENTS_CAPACITY: usize = 16;

/// The caller-owned, fixed-capacity buffer [`Coach::process`](super::Coach::process) fills.
///
/// Built on `arrayvec` (well kept, no `unsafe` here, no filler values) so
/// pushing never allocates. If it ever filled up, the extra events are
/// counted in [`dropped`](Self::dropped) instead of panicking.
#[derive(Debug, Clone, Default)]
pub struct CoachEvents {
    events: ArrayVec<CoachEvent, COACH_EVENTS_CAPACITY>,
    dropped: usize,
}

impl CoachEvents {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Empties the buffer (the coach does this at the start of every hop).
    pub fn clear(&mut self) {
        self.events.clear();
        self.dropped = 0;
    }

    /// Adds an event, or counts it as dropped if the buffer is full.
    pub fn push(&mut self, ev: CoachEvent) {
        if self.events.try_push(ev).is_err() {
            self.dropped += 1;
        }
    }

    /// The events of the last hop, in the order decided.
    pub fn as_slice(&self) -> &[CoachEvent] {
        &self.events
    }

    /// Iterates over the events of the last hop.
    pub fn iter(&self) -> std::slice::Iter<'_, CoachEvent> {
        self.events.iter()
    }

    /// Number of events held.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// True when the last hop produced nothing.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Events lost because the buffer was full (should stay 0).
    pub fn dropped(&self) -> usize {
        self.dropped
    }
}

impl<'a> IntoIterator for &'a CoachEvents {
    type Item = &'a CoachEvent;
    type IntoIter = std::slice::Iter<'a, CoachEvent>;
    fn into_iter(self) -> Self::IntoIter {
        self.events.iter()
    }
}
