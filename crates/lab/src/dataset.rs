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
            } else if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("wav")) {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}
