//! Argument types shared by several subcommands, and what they load.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use shoutcue_core::coach::{CoachConfig, Script};
use shoutcue_core::detector::ShoutModel;
use shoutcue_core::source::ChannelChoice;
use shoutcue_core::Speaker;

use crate::AnyError;

/// Model, coach timing and script, and what one call's cues and note
/// need besides (`replay`, `live`).
#[derive(Args, Clone)]
pub struct CoachArgs {
    /// The model, timing and script files.
    #[command(flatten)]
    pub files: SetupArgs,
    /// Name to put into the script's {name} placeholder.
    #[arg(long)]
    pub name: Option<String>,
    /// Wall-clock start of the call, for the incident note, as RFC 3339
    /// (2026-12-03T09:30:00Z); live: the time the call starts, unless given.
    #[arg(long, value_name = "RFC3339", value_parser = rfc3339)]
    pub started_at: Option<String>,
}

/// Checks an RFC 3339 time; the note keeps the text as given.
fn rfc3339(s: &str) -> Result<String, String> {
    humantime::parse_rfc3339_weak(s)
        .map(|_| s.to_string())
        .map_err(|e| {
            format!("expected an RFC 3339 time such as 2026-12-03T09:30:00Z, got {s:?} ({e})")
        })
}

/// What [`SetupArgs`] name, loaded: the model, the coach's timing, the script.
pub use shoutcue_lab::qa::Setup;

impl CoachArgs {
    /// Loads the files named, or the built-in defaults.
    pub fn load(&self) -> Result<Setup, AnyError> {
        self.files.load()
    }
}

/// `--model`, `--coach-config`, `--script`: alone for the batch commands
/// (`qa`, `eval`), which analyse many calls and so take no `--name` or
/// `--started-at`; inside [`CoachArgs`] for the others.
#[derive(Args, Clone, Default)]
pub struct SetupArgs {
    /// Shout model (JSON); default: the built-in models/shout-v1.json.
    #[arg(long, value_name = "FILE.json")]
    pub model: Option<PathBuf>,
    /// Coach timing (TOML); default: the documented defaults.
    #[arg(long, value_name = "FILE.toml")]
    pub coach_config: Option<PathBuf>,
    /// Script lines (TOML, e.g. models/script-de.toml); default: English.
    #[arg(long, value_name = "FILE.toml")]
    pub script: Option<PathBuf>,
    /// This line's calibration (from `shoutcue calibrate`): a caller who
    /// opens raised is judged against the line's callers, not the model's
    /// training recordings.
    #[arg(long, value_name = "LINE.json")]
    pub line: Option<PathBuf>,
}

impl SetupArgs {
    /// Loads the files named, or the built-in defaults.
    pub fn load(&self) -> Result<Setup, AnyError> {
        Ok(Setup {
            model: match &self.line {
                Some(p) => load_model(self.model.as_deref())?
                    .calibrated(&load_line(p)?)
                    .map_err(|e| format!("{}: {e}", p.display()))?,
                None => load_model(self.model.as_deref())?,
            },
            coach: match &self.coach_config {
                Some(p) => CoachConfig::from_file(p)?,
                None => CoachConfig::default(),
            },
            script: match &self.script {
                Some(p) => Script::from_file(p)?,
                None => Script::english(),
            },
        })
    }
}

/// A line calibration file.
pub fn load_line(
    path: &std::path::Path,
) -> Result<shoutcue_core::detector::LineCalibration, AnyError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    Ok(shoutcue_core::detector::LineCalibration::from_json(&text)
        .map_err(|e| format!("{}: {e}", path.display()))?)
}

/// The model file named, or the built-in one.
pub fn load_model(path: Option<&std::path::Path>) -> Result<ShoutModel, AnyError> {
    Ok(match path {
        Some(p) => ShoutModel::load(p)?,
        None => ShoutModel::builtin(),
    })
}

/// Which file channel carries whom.
#[derive(Args, Clone, Copy)]
pub struct ChannelArgs {
    /// Stereo files default to agent = left, customer = right; this swaps them.
    #[arg(long)]
    pub swap_channels: bool,
    /// Pick the customer's channel by index (0 = left); needed for files with more than 2 channels.
    #[arg(long)]
    pub customer_channel: Option<u16>,
    /// Pick the agent's channel by index; with --customer-channel only.
    #[arg(long, requires = "customer_channel")]
    pub agent_channel: Option<u16>,
}

impl ChannelArgs {
    /// The reader's channel choice.
    pub fn choice(&self) -> ChannelChoice {
        match (self.customer_channel, self.swap_channels) {
            (Some(customer), _) => ChannelChoice::Explicit {
                customer,
                agent: self.agent_channel,
            },
            (None, true) => ChannelChoice::Swapped,
            (None, false) => ChannelChoice::Default,
        }
    }
}

/// Whose voice to analyse.
#[derive(ValueEnum, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The caller.
    Customer,
    /// The agent.
    Agent,
}

impl From<Role> for Speaker {
    fn from(r: Role) -> Self {
        match r {
            Role::Customer => Speaker::Customer,
            Role::Agent => Speaker::Agent,
        }
    }
}

/// Output format of `features`.
#[derive(ValueEnum, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated values with a header.
    Csv,
    /// One JSON object per hop.
    Jsonl,
}
