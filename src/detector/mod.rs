//! Shout detection: per-speaker baselines, per-hop scores, and hysteresis
//! that turns scores into shouting segments.
//!
//! This module knows the features of each hop and nothing of the coach or
//! the sinks that follow it.

/// Whose voice a channel carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Speaker {
    /// The caller, heard from the call audio.
    Customer,
    /// The agent, heard from the headset microphone.
    Agent,
}

/// How far a voice sits above the speaker's own baseline, cue by cue.
///
/// Relative cues, because phone lines apply AGC and handsets differ: the
/// absolute level says little, the rise against the same voice says a lot.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Cues {
    /// F0 above the baseline median, in semitones.
    pub f0_st: f32,
    /// Alpha ratio (1-4 kHz against 50 Hz-1 kHz) above the baseline, in dB.
    pub tilt_db: f32,
    /// Level above the baseline, in dB (weak alone: AGC flattens it).
    pub level_db: f32,
    /// Fraction of clipped samples in the hop, 0 to 1.
    pub clip_frac: f32,
}

/// What the detector says about one speaker for one hop.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SpeakerHop {
    /// The speaker is talking in this hop (voice activity, with hangover).
    pub speech: bool,
    /// The speaker is inside a shouting segment (after hysteresis).
    pub shouting: bool,
    /// The smoothed shout score, 0 to 1.
    pub score: f32,
    /// The cues of this hop relative to the baseline.
    pub cues: Cues,
}

/// The detector's output for one hop of the call, both speakers together.
///
/// `agent` is `None` for a mono recording: there is no agent channel.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct HopReport {
    /// Time of the hop's centre, in seconds from the start of the call.
    pub t: f64,
    /// The customer's state.
    pub customer: SpeakerHop,
    /// The agent's state, if there is an agent channel.
    pub agent: Option<SpeakerHop>,
}

/// A change in a speaker's shouting state.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SegmentEvent {
    /// A shouting segment began (hysteresis and minimum duration passed).
    ///
    /// `t` is the segment's start, which is earlier than the hop that decided it.
    ShoutStart {
        /// Start of the segment, seconds.
        t: f64,
        /// Who is shouting.
        speaker: Speaker,
        /// Score at the decision, 0 to 1.
        score: f32,
        /// The cues that carried the decision.
        cues: Cues,
    },
    /// A shouting segment ended.
    ShoutEnd {
        /// End of the segment, seconds.
        t: f64,
        /// Who was shouting.
        speaker: Speaker,
        /// Length of the segment, seconds.
        duration: f64,
        /// Peak score in the segment.
        peak_score: f32,
        /// Cues at the peak.
        peak_cues: Cues,
    },
}
