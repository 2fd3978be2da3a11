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
        setup: a.setup.load()?,
    })
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
