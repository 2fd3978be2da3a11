//! `shoutcue qa`: the QA team's batch report over a folder of recordings.

use shoutcue_lab::qa::QaOptions;

use crate::AnyError;

use std::path::PathBuf;

/// Options of `shoutcue qa`.
#[derive(clap::Args)]
pub struct QaArgs {
    /// Folder of recordings (*.wav, searched recursively).
    pub dir: PathBuf,
    /// Where the report goes.
    #[arg(long, value_name = "REPORT_DIR")]
    pub out: PathBuf,
    /// Redo calls already done (default: skip calls whose outputs are up to date).
    #[arg(long)]
    pub force: bool,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Show QA the agent's private events (nudges, the agent's own shouting);
    /// off by default, as the coach promises the agent.
    #[arg(long)]
    pub include_private: bool,
}

/// Runs `shoutcue qa`.
pub fn run(a: QaArgs) -> Result<(), AnyError> {
    qa(QaOptions {
        dir: a.dir,
        out: a.out,
        force: a.force,
        jobs: a.jobs,
        include_private: a.include_private,
        progress: true,
    })
}

/// Runs the batch and prints one summary line; fails if any call failed.
fn qa(opts: QaOptions) -> Result<(), AnyError> {
    let s = shoutcue_lab::qa::run(&opts)?;
    println!(
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
    );
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
