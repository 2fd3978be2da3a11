//! `shoutcue features`: per-hop voice features of one channel.

use std::io::{BufWriter, Write};
use std::path::Path;

use shoutcue_core::features::Features;
use shoutcue_core::source::ChannelChoice;

use crate::args::{Format, Role};
use crate::AnyError;

/// Prints the features of `role`'s voice, one line per 10 ms hop.
pub fn run(file: &Path, role: Role, format: Format, choice: ChannelChoice) -> Result<(), AnyError> {
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    if format == Format::Csv {
        writeln!(out, "{}", Features::CSV_HEADER)?;
    }
    let result = super::channel_hops(file, role, choice, |f| match format {
        Format::Csv => f.write_csv(&mut out),
        Format::Jsonl => {
            serde_json::to_writer(&mut out, f)?;
            out.write_all(b"\n")
        }
    });
    out.flush()?;
    result.map(|_| ())
}
