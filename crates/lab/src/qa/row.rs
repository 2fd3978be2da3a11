//! What the report shows of each call: its row and its cue cells. Apart
//! from the replay (`call`) and the drawing (`plot`), so both read it and
//! neither depends on the other.

use serde::{Deserialize, Serialize};
use shoutcue_core::coach::Rung;

/// One cue shown to the agent, as the report shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CueCell {
    /// When shown, seconds from call start.
    pub shown_s: f64,
    /// Script step, 1 to 4.
    pub step: u8,
    /// 1, or 2 for step 3's repeat.
    pub repeat: u8,
    /// Whether the agent said it: `yes`, `no`, `unknown` (mono call) or
    /// `no verdict` (window cut short).
    pub said: String,
}

impl CueCell {
    /// The ladder rung this cue was.
    pub fn rung(&self) -> Rung {
        Rung {
            step: self.step,
            repeat: self.repeat,
        }
    }
}

/// Where a call's outputs are, relative to the report folder (`/`-separated,
/// so they work as links in `index.html`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outputs {
    /// Timeline plot, PNG.
    pub plot_png: String,
    /// Timeline plot, SVG.
    pub plot_svg: String,
    /// Incident note, Markdown.
    pub note_md: String,
    /// Incident note, JSON.
    pub note_json: String,
    /// Events, JSON Lines.
    pub events: String,
    /// Audacity label track.
    pub labels: String,
    /// The call's own page: audio, plot as seek bar, cues, note.
    #[serde(default)]
    pub page: String,
}

/// One call in the report: what QA sorts and filters on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallRow {
    /// Path relative to the input folder, `/`-separated.
    pub name: String,
    /// Why the call could not be read (to its end), naming the file.
    pub error: Option<String>,
    /// Why the file was not analysed at all (not a regular file: a FIFO
    /// or a device named `*.wav`); such a row is neither ok nor failed.
    #[serde(default)]
    pub skipped: Option<String>,
    /// What was odd about the recording but did not stop it being read:
    /// a data size of 0 or short of the file, NaN/Inf samples replaced.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Length analysed, seconds (up to the fault for a broken file).
    pub duration_s: f64,
    /// Whether the file had an agent channel.
    pub has_agent: bool,
    /// Customer shouting episodes.
    pub episodes: u32,
    /// Customer shouting, seconds.
    pub shouting_s: f64,
    /// Highest script step shown (0 = no cue).
    pub highest_step: u8,
    /// Every cue shown, in order.
    pub cues: Vec<CueCell>,
    /// The ladder reached step 4 and the end of the call was advised.
    pub ladder_ended: bool,
    /// Nudges about the agent's own voice; `None` unless private events are included.
    pub agent_nudges: Option<u32>,
    /// The agent's own shouting, seconds; `None` unless private events are included.
    pub agent_shouting_s: Option<f64>,
    /// The per-call outputs, when they were written.
    pub outputs: Option<Outputs>,
    /// The agent, from the manifest.
    #[serde(default)]
    pub agent_id: Option<String>,
    /// Free text from the manifest (a queue, a case number).
    #[serde(default)]
    pub labels: Option<String>,
}

impl CallRow {
    pub(crate) fn failed(name: String, error: String) -> Self {
        Self {
            name,
            error: Some(error),
            skipped: None,
            warnings: Vec::new(),
            duration_s: 0.0,
            has_agent: false,
            episodes: 0,
            shouting_s: 0.0,
            highest_step: 0,
            cues: Vec::new(),
            ladder_ended: false,
            agent_nudges: None,
            agent_shouting_s: None,
            outputs: None,
            agent_id: None,
            labels: None,
        }
    }

    /// A file that is not a call (a FIFO, a device), listed with why.
    pub(crate) fn skipped(name: String, reason: String) -> Self {
        Self {
            error: None,
            skipped: Some(reason),
            ..Self::failed(name, String::new())
        }
    }

    /// `ok`, `error` or `skipped`: the status column.
    pub fn status(&self) -> &'static str {
        match (&self.error, &self.skipped) {
            (Some(_), _) => "error",
            (None, Some(_)) => "skipped",
            (None, None) => "ok",
        }
    }

    /// The skip reason or the warnings, `; `-separated, for the notes column.
    pub fn notes(&self) -> String {
        self.skipped
            .iter()
            .chain(self.warnings.iter())
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Cues the agent said.
    pub fn cues_said(&self) -> usize {
        self.cues.iter().filter(|c| c.said == "yes").count()
    }

    /// The cues as `1:yes 2:no …` (`3b` for step 3's repeat).
    pub fn cue_summary(&self) -> String {
        self.cues
            .iter()
            .map(|c| format!("{}:{}", c.rung().label(), c.said))
            .collect::<Vec<_>>()
            .join(" ")
    }
}
