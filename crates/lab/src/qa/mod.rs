//! QA batch review: every recorded call in a folder through the whole
//! pipeline, in parallel, into a browsable report.
//!
//! A QA team reviews hundreds of calls a day. They want the calls where a
//! customer shouted, which cues the agent got and whether they said them,
//! and the second to listen to. For each `*.wav` under the input folder
//! this writes, under `REPORT_DIR/calls/` (mirroring the relative path):
//!
//! | file | what |
//! | --- | --- |
//! | `NAME.jsonl` | the events, JSON Lines schema v1 |
//! | `NAME.txt` | Audacity label track (`shout`, `cue:N`, `cue:3b` for the repeated warning, `calm`) |
//! | `NAME.md`, `NAME.json` | the incident note |
//! | `NAME.png`, `NAME.svg` | timeline: loudness and F0 of both voices, shouting shaded, cues marked |
//! | `NAME.done.json` | the call's summary row and the source's size and mtime, for resuming |
//!
//! and `REPORT_DIR/index.html` (one sortable row per call; a link ending
//! in `#sort=N` opens it sorted by column N, `#sort=N-` descending) and
//! `REPORT_DIR/summary.csv` (the same rows).
//!
//! # The agent's private events
//!
//! The coach's nudges about the agent's own voice, and the agent's own
//! shouting segments, are private to the agent (`SCHEMA.md`, `coach`): they
//! never reach QA's label track or the manager's note. The QA report keeps
//! that rule by default: no nudge count, no agent shouting spans, and the
//! per-call `.jsonl` has the private lines filtered out. With
//! [`QaOptions::include_private`] (`--include-private`) an organisation
//! whose policy allows it gets the nudge column, the agent's shouting
//! spans and the nudge lane in the plots, and the full event stream.
//! The agent's loudness and F0 curves are always drawn: QA needs them to
//! see whether a cue was answered, and can hear the same in the recording.

mod call;
pub mod manifest;
mod page;
mod plot;
mod report;
mod row;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use rayon::prelude::*;

pub use plot::{PLOT_HEIGHT, PLOT_WIDTH};
pub use row::{CallRow, CueCell, Outputs};

/// What to review and how.
#[derive(Debug, Clone)]
pub struct QaOptions {
    /// Folder of recordings, searched recursively for `*.wav`.
    pub dir: PathBuf,
    /// Where the report goes (created if missing).
    pub out: PathBuf,
    /// Redo calls already done.
    pub force: bool,
    /// Worker threads; `None` = one per core. More than [`jobs_limit`]
    /// is lowered to it (see [`BatchSummary::jobs_asked`]).
    pub jobs: Option<usize>,
    /// Show the agent's private events (nudges, own shouting) to QA; see the module docs.
    pub include_private: bool,
    /// Which file channel is the customer's and which the agent's (many
    /// recorders put the customer on the left).
    pub channels: shoutcue_core::source::ChannelChoice,
    /// Draw a progress bar (only when stderr is a terminal).
    pub progress: bool,
    /// Set (by a Ctrl-C handler) to stop between calls: the calls done so
    /// far are written to the index, the rest are left for the next run.
    pub stop: Option<Arc<AtomicBool>>,
    /// The shout model, the coach's timing and the script the calls are
    /// reviewed with (a team's own; rows made with others are redone).
    pub setup: Setup,
    /// Per-call settings (channels, agent, start, labels) from the
    /// recorder's CSV; calls without a row use the options above.
    pub manifest: Option<Arc<manifest::Manifest>>,
}

/// What a call is analysed with.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The shout model.
    pub model: shoutcue_core::detector::ShoutModel,
    /// The coach's timing.
    pub coach: shoutcue_core::coach::CoachConfig,
    /// The script's lines.
    pub script: shoutcue_core::coach::Script,
}

impl Default for Setup {
    /// The built-in model, the documented timing, the English script.
    fn default() -> Self {
        Self {
            model: shoutcue_core::detector::ShoutModel::builtin(),
            coach: shoutcue_core::coach::CoachConfig::default(),
            script: shoutcue_core::coach::Script::english(),
        }
    }
}

impl Setup {
    /// A short fingerprint of all three, kept in each call's done marker:
    /// a row made with another model, timing or script is redone.
    pub fn fingerprint(&self) -> String {
        use std::hash::{Hash, Hasher};
        // SipHash with fixed keys: stable from run to run (a toolchain
        // change at worst redoes the calls once).
        let mut h = std::collections::hash_map::DefaultHasher::new();
        format!("{:?}|{:?}|{:?}", self.model, self.coach, self.script).hash(&mut h);
        format!("{:016x}", h.finish())
    }
}

/// The most `--jobs` a command line may ask for at all.
pub const MAX_JOBS: usize = 1024;

/// The most worker threads a batch uses: 4 per core (a call is CPU-bound;
/// more threads only add memory and, at tens of thousands, abort).
pub fn jobs_limit() -> usize {
    4 * std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Why a batch could not run at all (a single bad call is a row, not this).
#[derive(Debug, thiserror::Error)]
pub enum QaError {
    /// The input folder cannot be walked.
    #[error(transparent)]
    Dir(#[from] crate::dataset::DirError),
    /// The input folder holds no recordings (no .wav, .flac, .mp3, .ogg, ...).
    #[error("{path}: no recordings found (.wav, .flac, .mp3, .ogg, .aif, .caf)")]
    NoWavs {
        /// The folder.
        path: String,
    },
    /// A report file cannot be written.
    #[error("{path}: cannot write: {source}")]
    Write {
        /// The file.
        path: String,
        /// What the OS said.
        source: std::io::Error,
    },
    /// No TrueType font for the plot labels.
    #[error("no font for the plot labels: tried {tried}; install fonts-dejavu-core or set SHOUTCUE_FONT to a .ttf file")]
    NoFont {
        /// The paths tried.
        tried: String,
    },
    /// The worker pool could not be started.
    #[error("cannot start {jobs} worker threads: {source}")]
    Pool {
        /// Threads asked for.
        jobs: usize,
        /// What rayon said.
        source: rayon::ThreadPoolBuildError,
    },
}

/// What a batch amounted to.
#[derive(Debug, Clone)]
pub struct BatchSummary {
    /// One row per call, sorted by name.
    pub rows: Vec<CallRow>,
    /// Calls skipped because their outputs were up to date.
    pub skipped: usize,
    /// Calls that could not be read (or not to their end).
    pub failed: usize,
    /// Audio analysed in this run (skipped calls not counted), seconds.
    pub audio_s: f64,
    /// Audio in the whole report (skipped calls included), seconds.
    pub total_audio_s: f64,
    /// Wall time of the run, seconds.
    pub wall_s: f64,
    /// Worker threads used.
    pub jobs: usize,
    /// The `jobs` asked for, when it was above [`jobs_limit`] and lowered.
    pub jobs_asked: Option<usize>,
    /// Files that are not calls (FIFOs, devices named `*.wav`), listed with why.
    pub not_files: usize,
    /// Calls left undone because the run was stopped (Ctrl-C); the next
    /// run does them.
    pub interrupted: usize,
    /// Manifest rows that name no recording of the batch: (line, file).
    pub manifest_unmatched: Vec<(u64, String)>,
}

impl BatchSummary {
    /// Audio analysed per second of wall time (0 when nothing was analysed).
    pub fn times_real_time(&self) -> f64 {
        if self.wall_s > 0.0 {
            self.audio_s / self.wall_s
        } else {
            0.0
        }
    }
}

/// Runs the batch: analyses every call not yet done, then writes
/// `index.html` and `summary.csv` over all of them.
pub fn run(opts: &QaOptions) -> Result<BatchSummary, QaError> {
    let start = Instant::now();
    plot::load_font()?;
    std::fs::create_dir_all(&opts.out).map_err(|source| QaError::Write {
        path: opts.out.display().to_string(),
        source,
    })?;
    let found = crate::dataset::find_recordings(&opts.dir, Some(&opts.out))?;
    let wavs = found.calls;
    if wavs.is_empty() && found.not_read.is_empty() {
        return Err(QaError::NoWavs {
            path: opts.dir.display().to_string(),
        });
    }
    let asked = opts
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let jobs = asked.min(jobs_limit());
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .map_err(|source| QaError::Pool { jobs, source })?;

    let bar = if opts.progress && std::io::stderr().is_terminal() {
        let b = indicatif::ProgressBar::new(wavs.len() as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} calls, {elapsed_precise} elapsed, ETA {eta} {msg}",
        ) {
            b.set_style(style);
        }
        b
    } else {
        indicatif::ProgressBar::hidden()
    };

    let ctx = call::Ctx::new(opts);
    let outcomes: Vec<Result<call::Outcome, call::Interrupted>> = pool.install(|| {
        wavs.par_iter()
            .map(|w| {
                let o = ctx.process(w);
                bar.inc(1);
                o
            })
            .collect()
    });
    bar.finish_and_clear();

    let mut summary = BatchSummary {
        rows: Vec::with_capacity(outcomes.len()),
        skipped: 0,
        failed: 0,
        audio_s: 0.0,
        total_audio_s: 0.0,
        wall_s: 0.0,
        jobs,
        jobs_asked: (asked > jobs).then_some(asked),
        not_files: 0,
        interrupted: 0,
        manifest_unmatched: match &opts.manifest {
            Some(m) => {
                let names = wavs
                    .iter()
                    .map(|w| {
                        let rel = w.strip_prefix(&opts.dir).unwrap_or(w);
                        manifest::normalise(&rel.to_string_lossy())
                    })
                    .collect();
                m.unmatched(&names)
                    .into_iter()
                    .map(|(l, f)| (l, f.to_string()))
                    .collect()
            }
            None => Vec::new(),
        },
    };
    for o in outcomes {
        let Ok(o) = o else {
            summary.interrupted += 1;
            continue;
        };
        if o.row.skipped.is_some() {
            summary.not_files += 1;
        }
        if o.skipped {
            summary.skipped += 1;
        } else {
            summary.audio_s += o.row.duration_s;
        }
        if o.row.error.is_some() {
            summary.failed += 1;
        }
        summary.total_audio_s += o.row.duration_s;
        summary.rows.push(o.row);
    }
    // Audio in a format that is not read: listed, never silently left out.
    for (p, why) in found.not_read {
        let rel = p.strip_prefix(&opts.dir).unwrap_or(&p);
        let name = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        summary.not_files += 1;
        summary.rows.push(row::CallRow::skipped(
            name,
            format!("{}: {why}", p.display()),
        ));
    }
    report::write_csv(&opts.out.join("summary.csv"), &summary.rows, opts)?;
    report::write_html(&opts.out.join("index.html"), &summary, opts)?;
    summary.wall_s = start.elapsed().as_secs_f64();
    Ok(summary)
}
