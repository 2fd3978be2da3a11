//! `shoutcue calibrate`: a line's calibration from its own recorded calls.
//!
//! Each call is replayed as `replay` would (no output, and without the
//! cold start, which is what is being calibrated); its sample is the
//! customer's calm voice as the detector learnt it by the call's end. The
//! line's calibration is the median over calls
//! ([`shoutcue_core::detector::LineCalibration`]).

use std::path::{Path, PathBuf};

use shoutcue_core::coach::CoachConfig;
use shoutcue_core::detector::{LineCalibration, LineError, ShoutModel};
use shoutcue_core::engine::{replay_call, Pace};
use shoutcue_core::sinks::JsonlSink;
use shoutcue_core::source::{ChannelChoice, WavSource};

use rayon::prelude::*;

use crate::dataset::{find_recordings, DirError};

/// What calibrating a folder of calls gave.
#[derive(Debug)]
pub struct Calibration {
    /// The line's calibration, or why there is none.
    pub line: Result<LineCalibration, LineError>,
    /// Calls read.
    pub calls: usize,
    /// Calls whose customer never had a calm voice of their own (too
    /// short, or raised throughout): no sample.
    pub without_sample: usize,
    /// Calls that could not be read, with why.
    pub failed: Vec<(PathBuf, String)>,
}

/// Why the folder itself could not be calibrated from.
#[derive(Debug, thiserror::Error)]
pub enum CalibrateError {
    /// The folder cannot be walked.
    #[error(transparent)]
    Dir(#[from] DirError),
    /// The worker threads could not be started.
    #[error("cannot start the worker threads: {0}")]
    Pool(String),
    /// The folder holds no recordings.
    #[error("{0}: no recordings found (.wav, .flac, .mp3, .ogg, .aif, .caf)")]
    Empty(String),
}

/// Calibrates the line from every recording under `dir`, `jobs` calls at a time.
pub fn calibrate(
    dir: &Path,
    model: &ShoutModel,
    channels: ChannelChoice,
    jobs: usize,
) -> Result<Calibration, CalibrateError> {
    calibrate_with(dir, model, &|_| channels, jobs)
}

/// [`calibrate`], with each recording's channels chosen by `channels_of`
/// (its path): a QA manifest's per-call layout.
pub fn calibrate_with(
    dir: &Path,
    model: &ShoutModel,
    channels_of: &(dyn Fn(&Path) -> ChannelChoice + Sync),
    jobs: usize,
) -> Result<Calibration, CalibrateError> {
    let found = find_recordings(dir, None)?;
    if found.calls.is_empty() {
        return Err(CalibrateError::Empty(dir.display().to_string()));
    }
    // Sampled without the cold start, which is what is being calibrated:
    // measured both ways, the held-out CREMA-D calls (the training chain,
    // other actors) sit +0.1 dB / +0.5 st from the reference this way and
    // +0.7 dB / +0.9 st with it, and the latter cost two later outbursts
    // of 52 (docs/experiments/2026-12-07-cold-start.md, fourth pass).
    let mut sampler = model.clone();
    sampler.cold = None;
    let model = &sampler;
    // The same worker pool as `qa`'s, so a panicking call cannot silently
    // take its neighbours' samples with it and the order is the files'.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.max(1))
        .build()
        .map_err(|e| CalibrateError::Pool(e.to_string()))?;
    let results: Vec<_> = pool.install(|| {
        found
            .calls
            .par_iter()
            .map(|path| sample(path, model, channels_of(path)))
            .collect()
    });
    let mut samples = Vec::new();
    let mut failed = Vec::new();
    for (i, r) in results.into_iter().enumerate() {
        match r {
            Ok(b) => samples.push(b),
            Err(e) => failed.push((found.calls[i].clone(), e)),
        }
    }
    let calls = samples.len();
    let without_sample = samples.iter().filter(|b| !b.own).count();
    Ok(Calibration {
        line: LineCalibration::from_calls(samples, dir.display().to_string()),
        calls,
        without_sample,
        failed,
    })
}

/// One call's sample: the customer's baseline at its end.
fn sample(
    path: &Path,
    model: &ShoutModel,
    channels: ChannelChoice,
) -> Result<shoutcue_core::detector::baseline::BaselineValues, String> {
    let name = path.display().to_string();
    let mut src = WavSource::open(path, channels).map_err(|e| e.to_string())?;
    let mut none: Vec<JsonlSink<std::io::Sink>> = Vec::new();
    let stats = replay_call(
        &name,
        &mut src,
        model,
        CoachConfig::default(),
        &mut none,
        Pace::Fast,
        &mut (),
        None,
    )
    .map_err(|e| e.to_string())?;
    stats
        .customer_baseline
        .ok_or_else(|| format!("{name}: no customer voice"))
}
