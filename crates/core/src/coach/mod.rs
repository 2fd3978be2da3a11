//! The de-escalation coach: turns shouting segments into the script
//! call-centre trainers teach, cued at the customer's next pause.
//!
//! The ladder is step 1, 2, 3, 3 again, 4, each rung needing its own new
//! customer shouting and (with an agent channel) the previous cue said by
//! the agent. After step 4 the agent is advised to end the call and the
//! supervisor is alerted. A calm period steps the ladder down. Separately,
//! the agent gets private nudges about their own voice.
//!
//! This module knows the detector's output and nothing of the sinks: its
//! events carry no text, and the sinks render the words from a [`Script`].
//!
//! # Configuration
//!
//! [`CoachConfig`], all durations in seconds, loadable from TOML:
//!
//! | key | default | what it decides |
//! | --- | --- | --- |
//! | `pause_s` | 0.25 | customer silence that counts as a pause; a pending cue is shown when it is reached, so it lands ≤ 0.5 s after the speech stops |
//! | `delivery_window_s` | 6.0 | how long after a cue is shown the agent has to say it |
//! | `delivery_min_speech_s` | 0.4 | agent speech (cumulative, inside the window) that counts as saying the cue |
//! | `calm_after_s` | 10.0 | time after a cue with no customer shouting before the ladder steps down |
//! | `calm_min_speech_s` | 1.5 | calm customer speech needed in that time (silence alone is not calm: the line may have gone quiet) |
//! | `overtalk_s` | 1.0 | agent speech over a customer who was talking first, continuously, before the `overtalk` nudge |
//! | `nudge_cooldown_s` | 20.0 | least time between two nudges of the same kind |
//!
//! # Privacy of the agent's nudges
//!
//! Nudges about the agent's raised voice or overtalk go to the agent only.
//! They never enter the supervisor alert ([`AlertSummary`] has no field for
//! them), and the manager's incident note leaves them out entirely, not even
//! as a count: a count invites ranking agents on it, and the note is about
//! the customer's shouting and the script.

mod config;
mod events;
mod machine;
mod script;

pub use config::{CoachConfig, ConfigError};
pub use events::{
    AlertSummary, CoachEvent, CoachEvents, Delivery, NudgeKind, Rung, COACH_EVENTS_CAPACITY, LADDER,
};
pub use machine::Coach;
pub use script::{Line, Script, ScriptError, SCRIPT_EN};
