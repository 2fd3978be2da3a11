//! `shoutcue qa`: the QA team's batch report over a folder of recordings.

use shoutcue_lab::qa::QaOptions;

use crate::AnyError;

/// Runs the batch and prints one summary line; fails if any call failed.
pub fn run(opts: QaOptions) -> Result<(), AnyError> {
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
