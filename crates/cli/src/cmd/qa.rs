//! `shoutcue qa`: the QA team's batch report over a folder of recordings.

use shoutcue_lab::qa::{QaOptions, MAX_JOBS};

use crate::AnyError;

use std::path::PathBuf;

/// Options of `shoutcue qa`.
#[derive(clap::Args)]
pub struct QaArgs {
    /// Folder of recordings, searched recursively: WAV (PCM, float, G.711), FLAC, MP3, Ogg Vorbis, AIFF and CAF.
    pub dir: PathBuf,
    /// Where the report goes.
    #[arg(long, value_name = "REPORT_DIR")]
    pub out: PathBuf,
    /// Redo calls already done (default: skip calls whose outputs are up to date).
    #[arg(long)]
    pub force: bool,
    /// Worker threads (default: one per core; at most 4 per core are used,
    /// and more than 1024 is refused).
    #[arg(long, value_name = "N", value_parser = parse_jobs)]
    pub jobs: Option<usize>,
    /// Show QA the agent's private events (nudges, the agent's own shouting);
    /// off by default, as the coach promises the agent.
    #[arg(long)]
    pub include_private: bool,
    /// Calibrate the cold start to this batch's line first (`shoutcue
    /// calibrate` over the batch; kept as REPORT_DIR/line.json): for a batch
    /// of one line's calls, 20 or more, from many callers. If the batch
    /// cannot calibrate (too few calls, one voice), says why and goes on
    /// uncalibrated.
    #[arg(long, conflicts_with = "line")]
    pub calibrate_line: bool,
    /// Per-call settings from the recorder's CSV of call metadata: columns
    /// `file` (under DIR), and any of `customer_channel` (left, right or an
    /// index), `agent_channel`, `agent_id`, `started_at` (RFC 3339) and
    /// `labels`; other columns are ignored, calls without a row use the
    /// options given here. A bad row stops the run, named by its line.
    #[arg(long, value_name = "CALLS.csv")]
    pub manifest: Option<PathBuf>,
    /// Which file channel is whose.
    #[command(flatten)]
    pub channels: crate::args::ChannelArgs,
    /// The team's own model, timing and script (rows made with others are redone).
    #[command(flatten)]
    pub setup: crate::args::SetupArgs,
}

/// `--jobs`: 1..=[`MAX_JOBS`] (100000 threads ran for minutes, then aborted).
fn parse_jobs(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=MAX_JOBS).contains(&n) => Ok(n),
        _ => Err(format!(
            "expected a number of worker threads in 1..={MAX_JOBS}"
        )),
    }
}

/// Runs `shoutcue qa`.
pub fn run(a: QaArgs) -> Result<(), AnyError> {
    // First: a bad row stops the run before any call is analysed.
    let manifest = match &a.manifest {
        Some(p) => Some(std::sync::Arc::new(
            shoutcue_lab::qa::manifest::Manifest::load(p)?,
        )),
        None => None,
    };
    let mut setup = a.setup.load()?;
    if a.calibrate_line {
        setup.model = calibrated_to_batch(&a, setup.model, manifest.as_deref())?;
    }
    qa(QaOptions {
        dir: a.dir,
        out: a.out,
        force: a.force,
        jobs: a.jobs,
        include_private: a.include_private,
        channels: a.channels.choice(),
        progress: true,
        // Ctrl-C/SIGTERM stop between calls; what was done is indexed.
        stop: Some(super::stop_on_ctrl_c()?),
        setup,
        manifest,
    })
}

/// The model calibrated to the batch's own line, or as it was if the batch
/// cannot calibrate (said on stderr).
fn calibrated_to_batch(
    a: &QaArgs,
    model: shoutcue_core::detector::ShoutModel,
    manifest: Option<&shoutcue_lab::qa::manifest::Manifest>,
) -> Result<shoutcue_core::detector::ShoutModel, AnyError> {
    let jobs = a
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    // Each call's customer as the report will read it: the manifest's
    // channels where its row says, else the batch's.
    let batch = a.channels.choice();
    let channels_of = |path: &std::path::Path| {
        let rel = path.strip_prefix(&a.dir).unwrap_or(path);
        manifest
            .and_then(|m| {
                m.get(&shoutcue_lab::qa::manifest::normalise(
                    &rel.to_string_lossy(),
                ))
            })
            .and_then(|e| e.channels)
            .unwrap_or(batch)
    };
    let c = shoutcue_lab::line::calibrate_with(&a.dir, &model, &channels_of, jobs)?;
    let applied = c.line.and_then(|line| Ok((model.calibrated(&line)?, line)));
    match applied {
        Ok((calibrated, line)) => {
            std::fs::create_dir_all(&a.out)?;
            let path = a.out.join("line.json");
            std::fs::write(&path, serde_json::to_string_pretty(&line)? + "\n")
                .map_err(|e| format!("{}: cannot write: {e}", path.display()))?;
            let [da, dc] = calibrated
                .cold
                .as_ref()
                .and_then(|c| c.line_shift)
                .unwrap_or_default();
            eprintln!(
                "shoutcue: cold starts calibrated to this batch's line ({} calls: {da:+.1} dB alpha ratio, {dc:+.1} st centroid against the model's training voices); kept in {}",
                line.calls,
                path.display()
            );
            Ok(calibrated)
        }
        Err(e) => {
            eprintln!("shoutcue: warning: not calibrated to this batch's line: {e}");
            Ok(model)
        }
    }
}

/// Runs the batch and prints one summary line; fails if any call failed.
fn qa(opts: QaOptions) -> Result<(), AnyError> {
    let s = shoutcue_lab::qa::run(&opts)?;
    if let Some(asked) = s.jobs_asked {
        eprintln!(
            "shoutcue: --jobs {asked} is more than {} (4 per core): using {}",
            s.jobs, s.jobs
        );
    }
    for (line, file) in &s.manifest_unmatched {
        eprintln!("shoutcue: warning: manifest line {line}: {file} is not a recording under the batch folder");
    }
    for r in &s.rows {
        if let Some(why) = &r.skipped {
            eprintln!("shoutcue: skipped: {why}");
        }
        for w in &r.warnings {
            eprintln!("shoutcue: {}: warning: {w}", r.name);
        }
    }
    super::print_line(&format!(
        "{} calls ({} skipped as up to date), {} failed, {:.1} min of audio ({:.1} min analysed now), wall {:.2} s, {:.0}x real time on {} threads; report: {}",
        s.rows.len(),
        s.skipped,
        s.failed,
        s.total_audio_s / 60.0,
        s.audio_s / 60.0,
        s.wall_s,
        s.times_real_time(),
        s.jobs,
        opts.out.join("index.html").display()
    ))?;
    if s.not_files > 0 {
        eprintln!(
            "shoutcue: {} file(s) named .wav are not regular files and were skipped (see the index)",
            s.not_files
        );
    }
    if s.interrupted > 0 {
        return Err(format!(
            "interrupted: {} call(s) left undone; the index lists what was done, and running the same command again resumes",
            s.interrupted
        )
        .into());
    }
    if s.failed > 0 {
        return Err(format!(
            "{} of {} calls failed (see the error rows)",
            s.failed,
            s.rows.len()
        )
        .into());
    }
    Ok(())
}
