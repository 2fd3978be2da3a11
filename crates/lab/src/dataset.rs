//! Labelled recordings on disk: folders of WAVs, each with an optional
//! Audacity label track (`NAME.txt`: `start<TAB>end<TAB>label` lines; `shout`
//! marks a span of customer shouting). One reader for `eval`, `train` and `qa`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// A label file that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum LabelError {
    /// The file cannot be read.
    #[error("{path}: cannot read labels: {source}")]
    Io {
        /// The label file.
        path: String,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A line is not `start<TAB>end<TAB>label`.
    #[error("{path}:{line}: expected `start<TAB>end<TAB>label` with start <= end, got {text:?}")]
    Line {
        /// The label file.
        path: String,
        /// Line number, from 1.
        line: usize,
        /// The line as found.
        text: String,
    },
}

/// Reads the `shout` spans of an Audacity label track (other labels are ignored).
pub fn read_shout_labels(path: &Path) -> Result<Vec<(f64, f64)>, LabelError> {
    let text = std::fs::read_to_string(path).map_err(|e| LabelError::Io {
        path: path.display().to_string(),
        source: e,
    })?;
    let mut spans = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_t = line.trim_end_matches('\r');
        if line_t.trim().is_empty() || line_t.starts_with('\\') {
            continue; // blank, or Audacity's spectral-selection continuation line
        }
        let bad = || LabelError::Line {
            path: path.display().to_string(),
            line: i + 1,
            text: line_t.to_string(),
        };
        let mut it = line_t.split('\t');
        let start: f64 = it
            .next()
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(bad)?;
        let end: f64 = it
            .next()
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(bad)?;
        let label = it.next().unwrap_or("").trim();
        if !(start.is_finite() && end.is_finite() && start <= end) {
            return Err(bad());
        }
        if label == "shout" {
            spans.push((start, end));
        }
    }
    Ok(spans)
}

/// A folder that cannot be listed.
#[derive(Debug, thiserror::Error)]
#[error("{path}: cannot list the folder: {source}")]
pub struct DirError {
    /// The folder.
    pub path: String,
    /// What the OS said.
    pub source: std::io::Error,
}

/// Every `.wav` under `dir`, recursively, sorted. `skip` (a report folder
/// that lies inside `dir`) is not entered, and each real directory is
/// visited once, so a symlink loop cannot list a call twice.
pub fn find_wavs(dir: &Path, skip: Option<&Path>) -> Result<Vec<PathBuf>, DirError> {
    let mut out = walk(dir, skip, |e| e.eq_ignore_ascii_case("wav"))?;
    out.sort();
    Ok(out)
}

/// Extensions read as recordings: WAV by our own reader, the rest through
/// symphonia (shoutcue-core's `source`).
pub const READ_EXTENSIONS: &[&str] = &[
    "wav", "flac", "mp3", "ogg", "oga", "aif", "aiff", "aifc", "caf",
];

/// Extensions of audio that is not read, and why (listed as skipped, so a
/// folder of them does not look empty or clean).
pub const NOT_READ: &[(&str, &str)] = &[
    (
        "opus",
        "Opus is not read (symphonia 0.5 has no Opus decoder): convert to WAV or FLAC",
    ),
    (
        "m4a",
        "AAC/M4A is not read (patent-encumbered codec, not built in): convert to WAV or FLAC",
    ),
    (
        "aac",
        "AAC is not read (patent-encumbered codec, not built in): convert to WAV or FLAC",
    ),
    (
        "gsm",
        "raw GSM 6.10 is not read (no maintained pure-Rust decoder): convert to WAV",
    ),
    (
        "amr",
        "AMR is not read (no maintained pure-Rust decoder): convert to WAV",
    ),
    ("wma", "WMA is not read (proprietary codec): convert to WAV"),
    (
        "au",
        "Sun .au is not read yet: convert to WAV (sox in.au out.wav)",
    ),
    (
        "snd",
        "Sun .snd is not read yet: convert to WAV (sox in.snd out.wav)",
    ),
    (
        "w64",
        "Sony Wave64 is not read yet: convert to WAV (sox in.w64 out.wav)",
    ),
];

/// Recordings under `dir` (any of [`READ_EXTENSIONS`]), sorted, and the
/// audio files that are not read ([`NOT_READ`]) with why; other files
/// (label tracks, notes) are neither. Walked as [`find_wavs`] walks.
pub fn find_recordings(dir: &Path, skip: Option<&Path>) -> Result<Found, DirError> {
    let ext_of = |p: &Path| {
        p.extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
    };
    let all = walk(dir, skip, |e| {
        let e = e.to_ascii_lowercase();
        READ_EXTENSIONS.contains(&e.as_str()) || NOT_READ.iter().any(|(x, _)| *x == e)
    })?;
    let mut found = Found::default();
    for p in all {
        let e = ext_of(&p).unwrap_or_default();
        match NOT_READ.iter().find(|(x, _)| *x == e) {
            Some((_, why)) => found.not_read.push((p, why)),
            None => found.calls.push(p),
        }
    }
    found.calls.sort();
    found.not_read.sort();
    Ok(found)
}

/// What [`find_recordings`] found.
#[derive(Debug, Default)]
pub struct Found {
    /// Recordings to read.
    pub calls: Vec<PathBuf>,
    /// Audio that is not read, with why.
    pub not_read: Vec<(PathBuf, &'static str)>,
}

/// Files under `dir` whose extension `keep` accepts; see [`find_wavs`].
fn walk(
    dir: &Path,
    skip: Option<&Path>,
    keep: impl Fn(&str) -> bool,
) -> Result<Vec<PathBuf>, DirError> {
    let skip = skip.and_then(|s| s.canonicalize().ok());
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let real = d.canonicalize().unwrap_or_else(|_| d.clone());
        if !seen.insert(real) {
            continue;
        }
        let rd = std::fs::read_dir(&d).map_err(|source| DirError {
            path: d.display().to_string(),
            source,
        })?;
        for entry in rd.flatten() {
            let p = entry.path();
            if p.is_dir() {
                if skip.is_some() && p.canonicalize().ok() == skip {
                    continue;
                }
                stack.push(p);
            } else if p.extension().and_then(|e| e.to_str()).is_some_and(&keep) {
                out.push(p);
            }
        }
    }
    Ok(out)
}
