//! One module per subcommand, plus what several of them share.

pub mod calibrate;
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

/// Opens a recording (`-`: a WAV streamed on stdin) and says on stderr
/// what is odd about it (a data size of 0, or short of the file).
pub fn open_source(file: &Path, choice: ChannelChoice) -> Result<WavSource, AnyError> {
    let src = WavSource::open(file, choice)?;
    let name = file.display().to_string();
    for w in src.warnings() {
        eprintln!("shoutcue: {name}: warning: {w}");
    }
    Ok(src)
}

/// One voice of `src` through the feature chain, `on` per hop (see
/// [`analyse_channel`]); warns on stderr when NaN/Inf samples were replaced.
/// `on`'s errors are the writes to stdout.
pub fn channel_hops(
    src: &mut WavSource,
    file: &Path,
    role: Role,
    on: impl FnMut(&Features) -> std::io::Result<()>,
) -> Result<ChannelFeatures, AnyError> {
    let name = file.display().to_string();
    let result = analyse_channel(&name, src, role.into(), on);
    warn_non_finite(&name, src);
    result.map_err(|e| match e {
        ChannelError::Output(io) => stdout_error(io),
        other => other.into(),
    })
}

/// Says on stderr how many NaN/Inf samples the reader replaced by silence.
pub fn warn_non_finite(name: &str, src: &WavSource) {
    if src.non_finite_samples() > 0 {
        eprintln!(
            "shoutcue: {name}: warning: {} NaN/Inf samples replaced by silence",
            src.non_finite_samples()
        );
    }
}

/// A failed write to stdout. A closed pipe (`| head`) stays the bare
/// `io::Error` it is, which `main` ends quietly with exit 0; anything else
/// (a full disk) is an error that names stdout.
pub fn stdout_error(e: std::io::Error) -> AnyError {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        e.into()
    } else {
        format!("stdout: cannot write: {e}").into()
    }
}

/// Writes one line to stdout without `println!`'s panic on a closed pipe.
pub fn print_line(line: &str) -> Result<(), AnyError> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(stdout_error)
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
