//! `shoutcue loudness`: BS.1770 integrated loudness of one channel.

use std::path::Path;

use shoutcue_core::source::ChannelChoice;

use crate::args::Role;
use crate::AnyError;

use crate::args::ChannelArgs;
use std::path::PathBuf;

/// Options of `shoutcue loudness`.
#[derive(clap::Args)]
pub struct LoudnessArgs {
    /// The recording.
    pub file: PathBuf,
    /// Which voice to measure.
    #[arg(long, value_enum, default_value_t = Role::Customer)]
    pub channel: Role,
    #[command(flatten)]
    pub channels: ChannelArgs,
}

/// Runs `shoutcue loudness`.
pub fn run(a: LoudnessArgs) -> Result<(), AnyError> {
    loudness(&a.file, a.channel, a.channels.choice())
}

/// Prints one JSON line: the channel's integrated loudness and duration.
fn loudness(file: &Path, role: Role, choice: ChannelChoice) -> Result<(), AnyError> {
    let mut hops = 0u64;
    let mut src = super::open_source(file, choice)?;
    let chain = super::channel_hops(&mut src, file, role, |_| {
        hops += 1;
        Ok(())
    })?;
    let line = serde_json::json!({
        "file": file.display().to_string(),
        "channel": if role == Role::Agent { "agent" } else { "customer" },
        "integrated_lufs": chain.integrated_loudness(),
        "duration_s": hops as f64 * shoutcue_core::HOP as f64 / shoutcue_core::ANALYSIS_RATE as f64,
    });
    super::print_line(&line.to_string())
}
