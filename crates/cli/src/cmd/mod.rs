//! One module per subcommand, plus what several of them share.

pub mod eval;
pub mod features;
pub mod live;
pub mod loudness;
pub mod qa;
pub mod replay;
pub mod serve;
pub mod train;

use std::io::BufWriter;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use shoutcue_core::engine::{analyse_channel, ChannelError, ChannelFeatures};
use shoutcue_core::features::Features;
use shoutcue_core::source::{ChannelChoice, WavSource};

use crate::args::Role;
use crate::AnyError;

/// One voice of `file` through the feature chain, `on` per hop (see
/// [`analyse_channel`]); warns on stderr when NaN/Inf samples were replaced.
pub fn channel_hops(
    file: &Path,
    role: Role,
    choice: ChannelChoice,
    on: impl FnMut(&Features) -> std::io::Result<()>,
) -> Result<ChannelFeatures, AnyError> {
    let mut src = WavSource::open(file, choice)?;
    let name = file.display().to_string();
    let result = analyse_channel(&name, &mut src, role.into(), on);
    warn_non_finite(&name, &src);
    result.map_err(|e| match e {
        // Passed through as the io::Error it is, so a closed pipe is recognised.
        ChannelError::Output(io) => io.into(),
        other => other.into(),
    })
}

/// Says on stderr how many NaN/Inf samples the reader replaced by silence.
pub fn warn_non_finite(name: &str, src: &WavSource) {
    if src.non_finite_samples() > 0 {
        eprintln!(
            "shoutcue: {name}: {} NaN/Inf samples replaced by silence",
            src.non_finite_samples()
        );
    }
}

/// A new file, buffered; the error names it.
pub fn create(path: &Path) -> Result<BufWriter<std::fs::File>, AnyError> {
    std::fs::File::create(path)
        .map(BufWriter::new)
        .map_err(|e| format!("{}: cannot create: {e}", path.display()).into())
}

/// The wall clock now, UTC, to the second (RFC 3339), e.g. `2026-12-01T11:21:26Z`.
pub fn now_utc() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// Ctrl-C (SIGINT/SIGTERM) sets the returned flag instead of killing the
/// process, so a call ends cleanly (`call_end`, note, stats). Set once.
pub fn stop_on_ctrl_c() -> Result<Arc<AtomicBool>, AnyError> {
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    ctrlc::set_handler(move || s.store(true, std::sync::atomic::Ordering::Relaxed))
        .map_err(|e| format!("cannot handle Ctrl-C: {e}"))?;
    Ok(stop)
}
