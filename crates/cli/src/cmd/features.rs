//! `shoutcue features`: per-hop voice features of one channel.

use std::io::{BufWriter, Write};
use std::path::Path;

use shoutcue_core::features::Features;
use shoutcue_core::source::ChannelChoice;

use crate::args::{Format, Role};
use crate::AnyError;

use crate::args::ChannelArgs;
use std::path::PathBuf;

/// Options of `shoutcue features`.
#[derive(clap::Args)]
pub struct FeaturesArgs {
    /// The recording (PCM 8-32 bit, float, G.711 mu-law/A-law WAV).
    pub file: PathBuf,
    /// Which voice to analyse.
    #[arg(long, value_enum, default_value_t = Role::Customer)]
    pub channel: Role,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Csv)]
    pub format: Format,
    #[command(flatten)]
    pub channels: ChannelArgs,
}

/// Runs `shoutcue features`.
pub fn run(a: FeaturesArgs) -> Result<(), AnyError> {
    features(&a.file, a.channel, a.format, a.channels.choice())
}

/// Prints the features of `role`'s voice, one line per 10 ms hop.
fn features(
    file: &Path,
    role: Role,
    format: Format,
    choice: ChannelChoice,
) -> Result<(), AnyError> {
    // Opened first: a file that cannot be read prints no header.
    let mut src = super::open_source(file, choice)?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    if format == Format::Csv {
        writeln!(out, "{}", Features::CSV_HEADER).map_err(super::stdout_error)?;
    }
    let result = super::channel_hops(&mut src, file, role, |f| match format {
        Format::Csv => f.write_csv(&mut out),
        Format::Jsonl => {
            serde_json::to_writer(&mut out, f)?;
            out.write_all(b"\n")
        }
    });
    let flushed = out.flush().map_err(super::stdout_error);
    result?;
    flushed
}
